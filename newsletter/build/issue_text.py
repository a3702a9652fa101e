"""What the text of an issue may contain, for its front-matter values and its Markdown body alike:
no control characters (pasted from a PDF they break MJML, headers and terminals), and no template
syntax except well-formed merge fields, which are filled in the body only. Each rule answers the
offset of the first problem, so the caller can name its line and column.
"""

from __future__ import annotations

import re
import unicodedata

from ..models import MERGE_FIELDS

# Tab, LF and CR are text; every other C0 control, DEL and the C1 controls are not.
CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029]")
CONTROL_NAMES = {0x00: "NUL", 0x0B: "vertical tab", 0x0C: "form feed", 0x1B: "escape", 0x7F: "delete", 0x2028: "line separator", 0x2029: "paragraph separator"}
MERGE_FIELD_RE = re.compile(r"\{\{\s*([A-Za-z_][\w.]*)\s*\}\}")
TEMPLATE_SYNTAX_RE = re.compile(r"\{\{|\}\}|\{%|%\}")
MERGE_HINT = f"A merge field is written {{{{ first_name }}}}; the fields are {', '.join(MERGE_FIELDS)}. Other {{{{ }}}} and {{% %}} are not allowed."


def control_character(text: str) -> tuple[int, str] | None:
    """(offset, description) of the first control character, or None."""
    m = CONTROL_RE.search(text)
    if not m:
        return None
    n = ord(m.group(0))
    name = CONTROL_NAMES.get(n) or ("a lone surrogate" if 0xD800 <= n <= 0xDFFF else unicodedata.name(m.group(0), "control character"))
    return m.start(), f"control character U+{n:04X} ({name})"


def template_syntax(text: str, *, merge_fields: bool) -> tuple[int, str] | None:
    """(offset, description) of the first template syntax that is not a merge field (any at all
    when ``merge_fields`` is False), or None. Unknown field names are left to the renderer, which
    names them."""
    if merge_fields:  # blank the well-formed fields out, keeping the offsets of everything else
        text = MERGE_FIELD_RE.sub(lambda m: " " * len(m.group(0)), text)
    else:
        m = MERGE_FIELD_RE.search(text)
        if m:
            return m.start(), f"merge field '{m.group(0)}' (merge fields are filled in the text below the front matter only)"
    m = TEMPLATE_SYNTAX_RE.search(text)
    if not m:
        return None
    what = {
        "{{": "'{{' with no matching '}}' (a malformed merge field)",
        "}}": "'}}' with no matching '{{' (a malformed merge field)",
        "{%": "template tag '{%' (template code is not allowed in an issue)",
        "%}": "template tag '%}' (template code is not allowed in an issue)",
    }[m.group(0)]
    return m.start(), what


def line_column(text: str, offset: int, first_line: int) -> tuple[int, int]:
    """The file line and 1-based column of ``offset`` in ``text``, which starts at ``first_line``."""
    return first_line + text.count("\n", 0, offset), offset - (text.rfind("\n", 0, offset) + 1) + 1
