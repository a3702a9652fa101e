"""Stage 2: Issue -> CompiledIssue. Jinja2 (StrictUndefined) renders MJML, mjml-python compiles it
once; merge fields stay as ``%%name%%`` placeholders for cheap per-recipient filling.
"""

from __future__ import annotations

import re
import traceback
from functools import lru_cache
from html import escape
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..config import Settings
from ..errors import TemplateError, located
from ..models import MERGE_FIELDS, PLACEHOLDER, CompiledIssue, Issue, MergeTemplate, Reference
from .issue import placeholder_reviewer
from .issue_text import TEMPLATE_SYNTAX_RE
from .markdown import URL_RE, RenderedBody, Theme, render_body, wrap_text

HTML_TEMPLATE = "email.mjml.j2"
TEXT_TEMPLATE = "email.txt.j2"
DOI_HOSTS = {"doi.org", "dx.doi.org", "www.doi.org"}
SHORT_LABEL = 40  # characters: about 290 px of 13 px type, narrower than a 375 px phone's column


def render_issue(issue: Issue, settings: Settings) -> CompiledIssue:
    """Render the issue's MJML and text, compile the MJML once, keep the placeholders."""
    theme = Theme(text=settings.brand.text_color, link=settings.brand.link_color, accent=settings.brand.primary_color)
    body = render_body(issue.body, issue.path, issue.body_line, theme)
    context = _context(issue, settings, body)
    env = _environment(settings.templates_dir)
    mjml = _render_template(env, HTML_TEMPLATE, context, settings.templates_dir)
    text = _render_template(env, TEXT_TEMPLATE, context, settings.templates_dir)
    # Non-ASCII as character references: an ASCII str takes half the memory of one with a single
    # '−' in it (Python widens the whole string), and JSON-encodes without escapes, per recipient.
    html = compile_mjml(mjml, settings.templates_dir / HTML_TEMPLATE).encode("ascii", "xmlcharrefreplace").decode("ascii")
    text = _tidy_text(text)
    _refuse_template_syntax(html, text, settings.templates_dir)
    return CompiledIssue(
        issue=issue,
        mjml=mjml,
        html=html,
        text=text,
        references=body.references,
        html_template=MergeTemplate.split(html),
        text_template=MergeTemplate.split(text),
    )


def _refuse_template_syntax(html: str, text: str, templates_dir: Path) -> None:
    """The issue itself was checked by issue.py, so template syntax in the output comes from a
    template or a newsletter.toml value: no reader should see it."""
    for name, part in ((HTML_TEMPLATE, html), (TEXT_TEMPLATE, text)):
        m = TEMPLATE_SYNTAX_RE.search(part)
        if m:
            context = " ".join(part[max(0, m.start() - 30) : m.end() + 30].split())
            raise TemplateError(
                f"{templates_dir / name}: the compiled email shows template syntax {m.group(0)!r} (in '...{context}...')",
                hint="It comes from this template, a partial or a value in newsletter.toml; merge fields in templates are written {{ merge.first_name }}.",
            )


def compile_mjml(mjml: str, template_path: Path) -> str:
    from mjml import mjml2html

    try:
        return mjml2html(mjml, disable_comments=True)
    except ValueError as err:
        raise TemplateError(
            f"{template_path}: MJML does not compile: {err}",
            hint="A tag is unclosed or misplaced in the template (or a partial); compare it with the default templates/.",
        ) from err


def _context(issue: Issue, settings: Settings, body: RenderedBody) -> dict:
    from markupsafe import Markup

    merge = {name: PLACEHOLDER.format(name) for name in MERGE_FIELDS}
    link_base = len(body.references)
    return {
        "issue": issue,
        "settings": settings,
        "brand": settings.brand,
        "language": settings.language,
        "date_long": f"{issue.date:%B} {issue.date.day}, {issue.date.year}",
        "body_mjml": Markup(body.mjml),
        "body_text": body.text,
        "references": [
            {"number": r.number, "text": r.text, "html": Markup(_reference_html(r, settings.brand.link_color))} for r in body.references
        ],
        "links": [{"number": link_base + n, "url": url} for n, url in enumerate(body.links, start=1)],
        "merge": merge,
        "credits": _credits(issue),
    }


def _credits(issue: Issue) -> str:
    parts = []
    if issue.authors:
        parts.append("By " + ", ".join(issue.authors))
    if not placeholder_reviewer(issue.reviewed_by):  # never "Reviewed by Clinical review pending"
        parts.append("Reviewed by " + issue.reviewed_by)
    return ". ".join(parts) + ("." if parts else "")


def _reference_html(ref: Reference, link_color: str) -> str:
    """A reference's text with each URL as a link under a short label (escaped everywhere else):
    a raw URL in 14 px type breaks across several lines on a phone; the text part keeps it whole."""
    out, pos = [], 0
    for m in URL_RE.finditer(ref.text):
        out.append(escape(ref.text[pos : m.start()]))
        url, label = m.group(0), url_label(m.group(0))
        # a short label stays on one line (a DOI's hyphens would split it); a long host may wrap anywhere
        wrap = "white-space:nowrap;" if len(label) <= SHORT_LABEL else "overflow-wrap:anywhere;"
        out.append(f'<a href="{escape(url)}" style="color:{link_color};text-decoration:underline;{wrap}">{escape(label)}</a>')
        pos = m.end()
    out.append(escape(ref.text[pos:]))
    return "".join(out)


def url_label(url: str) -> str:
    """What a reference link shows: ``doi:10.1056/NEJMoa2302399`` for a DOI, ``PMID 32500209`` for
    PubMed, otherwise the site's host without ``www.`` (``fda.gov``)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    path = unquote(parts.path).strip("/")
    if host in DOI_HOSTS and path.startswith("10."):
        return "doi:" + path
    if host == "pubmed.ncbi.nlm.nih.gov" and path.isdigit():
        return "PMID " + path
    return host.removeprefix("www.") or url


@lru_cache(maxsize=8)
def _environment(templates_dir: Path):
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=FileSystemLoader(str(templates_dir)),
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("mjml.j2", "mjml", "html"), default_for_string=False),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        bytecode_cache=_bytecode_cache(),
    )
    env.filters["wrap"] = wrap_text
    return env


def _bytecode_cache():
    """Jinja2's compiled templates kept between runs (compiling them is a fifth of a `build`):
    its default place, a folder of this user's in the temporary directory that Jinja2 creates
    0700 and refuses unless it is ours and private; each entry is used only while the
    template's source is unchanged (its checksum is stored with it). None when no such folder
    can be had: the templates are then compiled every run, as before."""
    from jinja2 import FileSystemBytecodeCache

    try:
        return FileSystemBytecodeCache()
    except (OSError, RuntimeError):  # RuntimeError: Jinja2 found the folder unsafe
        return None


def _render_template(env, name: str, context: dict, templates_dir: Path) -> str:
    import jinja2

    try:
        return env.get_template(name).render(context)
    except jinja2.TemplateNotFound as err:
        raise TemplateError(
            f"{templates_dir / err.name}: template not found",
            hint="Check [paths] templates in newsletter.toml; the default templates are in the repository's templates/ folder.",
        ) from err
    except jinja2.TemplateSyntaxError as err:
        where = Path(err.filename) if err.filename else templates_dir / name
        raise TemplateError(located(where, err.lineno, f"template syntax: {err.message}"), hint="Fix the {{ }} / {% %} tag on that line.") from err
    except jinja2.UndefinedError as err:
        where, line = _template_frame(err, templates_dir, name)
        raise TemplateError(located(where, line, f"template uses an undefined value: {err.message}"), hint="Check the variable's spelling; the available names are listed in README (Templates).") from err
    except Exception as err:  # e.g. {{ brand.logo_width + "px" }}: a TypeError raised by the template's own code
        where, line = _template_frame(err, templates_dir, name)
        if line is None:
            raise
        raise TemplateError(located(where, line, f"template error: {type(err).__name__}: {err}"), hint="Fix the expression on that line.") from err


def _template_frame(err: BaseException, templates_dir: Path, name: str) -> tuple[Path, int | None]:
    """Jinja rewrites tracebacks so template lines appear as frames: find the innermost one."""
    for frame in reversed(traceback.extract_tb(err.__traceback__)):
        if frame.filename.endswith(".j2"):
            return Path(frame.filename), frame.lineno
    return templates_dir / name, None


def _tidy_text(text: str) -> str:
    """Collapse runs of blank lines and trailing spaces; end with one newline."""
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip() + "\n"
