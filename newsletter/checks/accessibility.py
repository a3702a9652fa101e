"""Accessibility and HTML hygiene (email-standards.md §3.3, §3.7, §3.11; WCAG 2.x)."""

from __future__ import annotations

from ..models import Finding
from .context import Context, finding

CARD_COLOR = "#fffdf8"  # the content card's background in templates/email.mjml.j2
MIN_CONTRAST = 4.5  # WCAG 2.x SC 1.4.3, normal text
GENERIC_LINK_TEXT = {"click here", "here", "read more", "more", "click", "link", "this link", "learn more"}


def check_accessibility(ctx: Context) -> list[Finding]:
    return [*headings(ctx), *link_text(ctx), *contrast(ctx), *hygiene(ctx)]


def headings(ctx: Context) -> list[Finding]:
    levels = ctx.scan.headings
    out = []
    h1s = [text for level, text in levels if level == 1]
    if len(h1s) != 1:
        where = ctx.source.locate(h1s[1], "email.html") if len(h1s) > 1 else "email.html"
        out.append(finding("a11y.h1", "warning", where, f"the email has {len(h1s)} <h1> headings; keep exactly one (the title); use ## for sections"))
    previous = 0
    for level, text in levels:
        if level > previous + 1:
            where = ctx.source.locate(text, "email.html") if text else "email.html"
            out.append(finding("a11y.heading-order", "warning", where, f"heading '{text}' is h{level} after h{previous or 'none'}: a level is skipped; use one more '#' than the section above"))
        previous = level
    return out


def link_text(ctx: Context) -> list[Finding]:
    out = []
    for link in ctx.scan.links:
        shown = (link.text or link.image_alt).strip(" .:!→»").lower()
        where = ctx.source.locate(link.href, "email.html")
        if not shown and not link.aria_label:
            out.append(finding("a11y.link-text", "warning", where, f"a link to {link.href or '(empty)'} has no text: screen readers announce only 'link'"))
        elif shown in GENERIC_LINK_TEXT:
            out.append(finding("a11y.link-text", "warning", where, f"link text '{link.text}' does not say where it goes; name the destination instead (WCAG 2.4.4)"))
    return out


def contrast(ctx: Context) -> list[Finding]:
    b = ctx.settings.brand
    pairs = (
        ("text_color", b.text_color, "background_color", b.background_color),
        ("text_color", b.text_color, "the card", CARD_COLOR),
        ("link_color", b.link_color, "the card", CARD_COLOR),
        ("link_color", b.link_color, "background_color", b.background_color),
        ("white button text", "#ffffff", "primary_color", b.primary_color),
    )
    out = []
    for fg_name, fg, bg_name, bg in pairs:
        ratio = contrast_ratio(fg, bg)
        if ratio < MIN_CONTRAST:
            out.append(
                finding(
                    "a11y.contrast",
                    "error",
                    _config_location(ctx, fg_name if fg_name.endswith("_color") else bg_name),
                    f"[brand] {fg_name} {fg} on {bg_name} {bg} has contrast {ratio:.2f}:1, below {MIN_CONTRAST}:1 (WCAG AA); darken or lighten one of them",
                )
            )
    return out


def _config_location(ctx: Context, key: str) -> str:
    """``newsletter.toml:line`` of a [brand] key (the file alone when the key is a default)."""
    path = ctx.settings.path
    try:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip().startswith(f"{key} ") or line.strip().startswith(f"{key}="):
                return f"{path}:{n}"
    except OSError:
        pass
    return str(path)


def contrast_ratio(fg: str, bg: str) -> float:
    light, dark = sorted((_luminance(fg), _luminance(bg)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def _luminance(color: str) -> float:
    """WCAG relative luminance of #rrggbb."""
    channels = [int(color.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def hygiene(ctx: Context) -> list[Finding]:
    scan = ctx.scan
    out = []
    if not scan.lang:
        out.append(finding("html.lang", "error", "email.html", "<html> has no lang attribute: keep <mjml lang=\"{{ language }}\"> in the template"))
    if not scan.title:
        out.append(finding("html.title", "warning", "email.html", "the HTML has no <title>: keep <mj-title> in the template's <mj-head>"))
    for tag in dict.fromkeys(scan.forbidden):
        out.append(finding("html.forbidden-tag", "error", "email.html", f"<{tag}> is stripped or blocked by mail clients and raises spam scores; remove it from the template"))
    layout_missing = sum(1 for t in scan.tables if not t.has_th and (t.role or "").lower() != "presentation")
    if layout_missing:
        out.append(finding("html.table-role", "warning", "email.html", f"{layout_missing} layout table(s) lack role=\"presentation\": screen readers announce them as data tables"))
    data_with_role = sum(1 for t in scan.tables if t.has_th and (t.role or "").lower() == "presentation")
    if data_with_role:
        out.append(finding("html.table-role", "warning", "email.html", f"{data_with_role} data table(s) (with <th>) have role=\"presentation\", which hides their structure; remove it"))
    if "<!--[if mso" not in ctx.html:
        out.append(finding("html.mso", "warning", "email.html", "no <!--[if mso conditional comments: something stripped MJML's Outlook fallbacks (a minifier or sanitiser?)"))
    return out
