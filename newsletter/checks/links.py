"""Images and links (email-standards.md §0.7, §3.6, §3.8, §3.11)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from ..models import Finding
from .context import Context, finding

PLACEHOLDER_HOSTS = {"localhost", "127.0.0.1", "0.0.0.0", "::1", "example.com", "example.org", "example.net"}
PLACEHOLDER_SUFFIXES = (".example", ".test", ".invalid", ".localhost", ".example.com", ".example.org", ".example.net")


def check_links(ctx: Context) -> list[Finding]:
    return [*images(ctx), *links(ctx), *links_in_text(ctx)]


def images(ctx: Context) -> list[Finding]:
    out = []
    for img in ctx.scan.images:
        src = (img.get("src") or "").strip()
        where = ctx.source.locate(src, "email.html") if src else "email.html"
        name = _short(src) or "an image"
        if src.lower().startswith("data:"):
            out.append(finding("image.src", "error", where, f"{name} is a data: URI: Gmail and Outlook block them; host the image and use its https:// URL"))
        elif not src.lower().startswith("https://"):
            out.append(finding("image.src", "error", where, f"{name}: image src must be an absolute https:// URL"))
        elif urlsplit(src).path.lower().endswith(".svg"):
            out.append(finding("image.svg", "warning", where, f"{name} is an SVG: Gmail does not show SVG; use PNG or JPG"))
        if "alt" not in img:
            out.append(finding("image.alt", "error", where, f"{name} has no alt attribute: add alt=\"...\" in the template (alt=\"\" only for decoration)"))
        elif not (img.get("alt") or "").strip() and ctx.source.find(src):
            # Markdown cannot say "decorative": an empty ![](url) is a forgotten description.
            out.append(finding("image.alt", "error", where, f"{name} has no alt text: write ![what the image shows](url)"))
        width = img.get("width") or ""
        if not width.isdigit():
            out.append(finding("image.width", "warning", where, f"{name} has no numeric width (Outlook sizes images by it): add {{width=560}} after the image"))
        if src and _placeholder_host(src):
            out.append(_placeholder_finding(ctx, where, src))
    return out


def links(ctx: Context) -> list[Finding]:
    out: list[Finding] = []
    for href in dict.fromkeys(l.href for l in ctx.scan.links):
        where = ctx.source.locate(href, "email.html") if href else "email.html"
        scheme = urlsplit(href).scheme.lower()
        if scheme == "mailto":
            continue
        if href.startswith("#"):  # a same-document link (a citation mark): its target must exist
            if href[1:] not in ctx.scan.ids:
                out.append(finding("link.anchor", "error", where, f"link {href!r} points to no element of the email (no id={href[1:]!r}): fix or remove it"))
            continue
        if scheme == "http":
            out.append(finding("link.insecure", "warning", where, f"{_short(href)} uses http://; use https://"))
        elif scheme != "https":
            why = "is empty" if not href else ("is relative" if not scheme else f"uses '{scheme}:'")
            out.append(finding("link.scheme", "error", where, f"link {href!r} {why}: every link must be an absolute https:// URL or mailto:"))
            continue
        if _placeholder_host(href):
            out.append(_placeholder_finding(ctx, where, href))
    return out


def links_in_text(ctx: Context) -> list[Finding]:
    """Every HTML link target should also be in the text part (same content, §3.8)."""
    text = ctx.text
    out = []
    for href in dict.fromkeys(l.href for l in ctx.scan.links):
        if not href or urlsplit(href).scheme.lower() not in ("http", "https", "mailto"):
            continue
        target = href.removeprefix("mailto:")
        if target not in text:
            where = ctx.source.locate(href, "email.txt")
            out.append(finding("link.missing-in-text", "warning", where, f"{_short(href)} is linked in the HTML but missing from the text part; add it to email.txt.j2 (or the Markdown)"))
    return out


def _placeholder_host(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    return host in PLACEHOLDER_HOSTS or host.endswith(PLACEHOLDER_SUFFIXES) or bool(re.fullmatch(r"127(\.\d+){3}", host))


def _placeholder_finding(ctx: Context, where: str, url: str) -> Finding:
    ready = ctx.issue.status == "ready"
    return finding(
        "link.placeholder-host",
        "error" if ready else "warning",
        where,
        f"{_short(url)} points to a local or example host" + (" in an issue marked ready" if ready else "") + "; replace it with the real address",
    )


def _short(url: str, limit: int = 80) -> str:
    return url if len(url) <= limit else url[: limit - 3] + "..."
