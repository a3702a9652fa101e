"""What a hurried writer leaves behind: the scaffold's placeholder preheader and text, a heading
with nothing under it, a slug that is not the file's name or belongs to an issue already sent,
and Markdown link or image syntax that did not parse and would reach readers as raw text.

Errors once the front matter says ``status: ready`` (they then block a send); warnings while it
is a draft, so the writer sees them early.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

from ..build.scaffold import PLACEHOLDER_BODY, PLACEHOLDER_PREHEADER
from ..models import Finding
from .context import Context, Severity, finding

HEADING_RE = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+|$)")
FENCE_RE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
# What is left of a link or image after Markdown gave up on it: "[text](url with space)",
# "[text] (url)", "![alt](...". A parsed link shows only its text, so none of this survives.
RAW_LINK_RE = re.compile(r"!?\[[^\[\]\n]{1,300}\]\s*\((?:[^()\n]|\([^()\n]*\)){0,500}\)?|!\[[^\]\n]{0,300}\]")


@dataclass(frozen=True)
class PriorSend:
    """The ledger's send of this issue's slug (from the caller: checks/ reads no database)."""

    subject: str
    started: str  # the send's created_at, as the ledger has it


def check_readiness(ctx: Context, prior: PriorSend | None = None) -> list[Finding]:
    severity: Severity = "error" if ctx.issue.status == "ready" else "warning"
    return [
        *_placeholders(ctx, severity),
        *_empty_sections(ctx, severity),
        *_slug(ctx, severity, prior),
        *_raw_markdown(ctx, severity),
    ]


def _placeholders(ctx: Context, severity: Severity) -> list[Finding]:
    src, out = ctx.source, []
    if ctx.issue.preheader.strip() == PLACEHOLDER_PREHEADER:
        out.append(finding("readiness.placeholder", severity, src.key("preheader"), "the preheader is still the scaffold's placeholder: write one or two sentences that sum up this issue (40-130 characters)"))
    for line, text, _ in _body_lines(ctx):
        for placeholder in PLACEHOLDER_BODY:
            if placeholder in text:
                out.append(finding("readiness.placeholder", severity, src.at(line), f"the scaffold's placeholder {placeholder!r} is still here: replace it with the issue's own text, or delete it"))
    return out


def _empty_sections(ctx: Context, severity: Severity) -> list[Finding]:
    """A heading followed by nothing before the next heading of its level or higher (or the end)."""
    headings = list(_headings(ctx))
    content_after = _content_lines(ctx)
    out = []
    for i, (line, level, text) in enumerate(headings):
        end = next((h_line for h_line, h_level, _ in headings[i + 1:] if h_level <= level), None)
        deeper = any(h_line > line and (end is None or h_line < end) for h_line, _, _ in headings[i + 1:])
        has_text = any(c > line and (end is None or c < end) for c in content_after)
        if not has_text and not deeper:
            out.append(finding("readiness.empty-section", severity, ctx.source.at(line), f"the section {text.strip()!r} has nothing under it: write it, or delete the heading"))
    return out


def _slug(ctx: Context, severity: Severity, prior: PriorSend | None) -> list[Finding]:
    issue, src, out = ctx.issue, ctx.source, []
    if issue.path.suffix == ".md" and issue.path.stem != issue.slug:
        out.append(finding(
            "readiness.slug-file", severity, src.key("slug") if "slug" in issue.key_lines else src.at(1),
            f"the slug '{issue.slug}' is not the file's name '{issue.path.name}': rename the file to {issue.slug}.md, "
            "or set the slug to the file's name (the slug names the send, its archive page and its links)",
        ))  # fmt: skip
    if prior is not None and prior.subject != issue.subject:
        out.append(finding(
            "readiness.slug-sent", severity, src.key("slug") if "slug" in issue.key_lines else src.at(1),
            f"the slug '{issue.slug}' belongs to an issue already sent ({prior.started[:10]}, subject '{prior.subject}'): "
            "a copied file keeps its slug, so give this issue its own (and rename the file to match)",
        ))  # fmt: skip
    return out


def _raw_markdown(ctx: Context, severity: Severity) -> list[Finding]:
    out, seen = [], set()
    for m in RAW_LINK_RE.finditer(ctx.scan.visible_text):
        raw = m.group(0)
        if raw in seen or _is_citation_mark(raw):
            continue
        seen.add(raw)
        out.append(finding(
            "readiness.raw-markdown", severity, ctx.source.locate(raw[:40], "email.html"),
            f"{raw[:80]!r} would show as raw text: Markdown did not read it as a "
            f"{'picture' if raw.startswith('!') else 'link'}. Write [text](https://...) with no space between ] and ( and none inside the address",
        ))  # fmt: skip
    return out


def _is_citation_mark(raw: str) -> bool:
    """A rendered footnote mark ("[1]") that happens to stand before a parenthesis."""
    return bool(re.match(r"\[\d{1,3}\]", raw))


def _headings(ctx: Context) -> Iterator[tuple[int, int, str]]:
    for line, text, in_code in _body_lines(ctx):
        m = HEADING_RE.match(text)
        if m and not in_code:
            yield line, len(m.group(1)), text[m.end():].rstrip("# \t") or text


def _content_lines(ctx: Context) -> list[int]:
    return [line for line, text, in_code in _body_lines(ctx) if text.strip() and (in_code or not HEADING_RE.match(text))]


def _body_lines(ctx: Context) -> Iterator[tuple[int, str, bool]]:
    """(file line, text, inside a fenced code block) for every line of the body."""
    fence: str | None = None
    for line, text in ctx.source.body_lines():
        m = FENCE_RE.match(text)
        if m and (fence is None or m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence)):
            fence = m.group(1) if fence is None else None
            yield line, text, True
            continue
        yield line, text, fence is not None
