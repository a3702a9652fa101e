"""The preview's HTML: the page around the email, and the email variants it frames.

Variants: the email as sent; a dark one where the template's ``prefers-color-scheme: dark``
rules are unwrapped so they always apply (a frame cannot be forced into dark mode from outside
in every browser); and an inverted one imitating clients that re-colour everything themselves
(Gmail apps, Outlook): the page inverted, images turned back.
"""

from __future__ import annotations

import re
from html import escape
from typing import TYPE_CHECKING

from ..models import Finding

if TYPE_CHECKING:
    from ..checks.readability import Paragraph, Readability

DARK_MEDIA_RE = re.compile(r"@media[^{]*prefers-color-scheme\s*:\s*dark[^{]*\{", re.I)
DARK_STYLE = "<style>:root{color-scheme:dark}</style>"
INVERT_STYLE = (
    "<style>html{background:#121212}"
    "body{filter:invert(1) hue-rotate(180deg)}"
    "img{filter:invert(1) hue-rotate(180deg)}</style>"
)
BASE_TARGET = '<base target="_blank">'  # a click inside a frame opens a tab, not the frame
VIEWS = (  # (name, route, width in px, label)
    ("desktop", "/email.html", 640, "Desktop"),
    ("phone", "/email.html", 375, "Phone, 375 px"),
    ("dark", "/email-dark.html", 375, "Dark mode (Apple Mail, Outlook, iOS)"),
    ("inverted", "/email-inverted.html", 375, "Colour-inverting clients (Gmail app)"),
)


def framed(html: str) -> str:
    return _into_head(html, BASE_TARGET)


def force_dark(html: str) -> str:
    """The email with every ``@media (prefers-color-scheme: dark) {...}`` block's rules unwrapped."""
    out, pos = [], 0
    for m in DARK_MEDIA_RE.finditer(html):
        if m.start() < pos:
            continue
        end = _closing_brace(html, m.end())
        if end is None:
            break
        out += [html[pos : m.start()], html[m.end() : end]]
        pos = end + 1
    out.append(html[pos:])
    return framed(_into_head("".join(out), DARK_STYLE))


def inverted(html: str) -> str:
    return framed(_into_head(html, INVERT_STYLE))


def _closing_brace(css: str, start: int) -> int | None:
    depth = 1
    for i in range(start, len(css)):
        if css[i] == "{":
            depth += 1
        elif css[i] == "}":
            depth -= 1
            if depth == 0:
                return i
    return None


def _into_head(html: str, snippet: str) -> str:
    m = re.search(r"</head\s*>", html, re.I)
    return html[: m.start()] + snippet + html[m.start() :] if m else snippet + html


def render_page(
    *,
    version: int,
    built_at: str,
    inbox: tuple[str, str, str] | None,
    text: str | None,
    findings: tuple[Finding, ...],
    errors: tuple[tuple[str, str | None], ...] = (),
    readability: Readability | None = None,
) -> str:
    """The preview page, what needs fixing first: the build errors, then the findings, then the
    inbox line, four frames, readability and the text part. Fits a 375 px phone."""
    parts = [
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(page_title(inbox, findings, errors))}</title>",
        '<link rel="stylesheet" href="/preview.css"></head>',
        f'<body data-version="{version}">',
        f'<header><p class="meta">Preview, build {version} at {escape(built_at)}. Reloads by itself when the issue, a template or newsletter.toml changes.</p>',
        "</header>",
        _errors(errors, stale=inbox is not None),
    ]
    if inbox is not None:
        parts += [_findings(findings), _inbox(inbox), _frames(), _readability(readability), f'<section><h2>Plain-text part</h2><pre class="text">{escape(text or "")}</pre></section>']
    parts.append('<script src="/preview.js"></script></body></html>')
    return "\n".join(parts)


def page_title(inbox: tuple[str, str, str] | None, findings: tuple[Finding, ...], errors: tuple[tuple[str, str | None], ...]) -> str:
    """The counts first, so a tab (or a phone's title bar) says what is wrong before the subject."""
    if errors:
        counts = _plural(len(errors), "build error")
    else:
        n_errors = sum(f.severity == "error" for f in findings)
        counts = f"{_plural(n_errors, 'error')}, {_plural(len(findings) - n_errors, 'warning')}"
    return f"({counts}) Preview: {inbox[1] if inbox else 'build error'}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _inbox(inbox: tuple[str, str, str] | None) -> str:
    if inbox is None:
        return ""
    sender, subject, preheader = (escape(x) for x in inbox)
    return (
        '<div class="inbox" aria-label="As shown in an inbox">'
        f'<span class="from">{sender}</span> <span class="subject" id="subject">{subject}</span>'
        f' <span class="preheader">&ndash; {preheader}</span></div>'
    )


def _errors(errors: tuple[tuple[str, str | None], ...], *, stale: bool) -> str:
    """Every build error at once, each with its hint."""
    if not errors:
        return ""
    note = "<p>The frames below show the last version that built.</p>" if stale else ""
    items = "".join(
        f'<li><pre>{escape(message)}</pre>{f"<p class=hint>Hint: {escape(hint)}</p>" if hint else ""}</li>' for message, hint in errors
    )
    head = "Build error" if len(errors) == 1 else f"{len(errors)} build errors"
    return f'<section class="error" id="build-error" role="alert"><h2>{head}</h2><ol>{items}</ol>{note}</section>'


def _frames() -> str:
    cells = []
    for name, route, width, label in VIEWS:
        cells.append(
            f'<figure><figcaption>{escape(label)}</figcaption>'
            f'<iframe data-view="{name}" src="{route}" title="{escape(label)}" style="width:{width}px" scrolling="no"></iframe></figure>'
        )
    return '<section class="frames">' + "".join(cells) + '</section><p class="meta" id="phone-status">Phone view: measuring...</p>'


def _findings(findings: tuple[Finding, ...]) -> str:
    errors = sum(f.severity == "error" for f in findings)
    head = f"<h2>Preflight: {errors} error(s), {len(findings) - errors} warning(s)</h2>"
    note = '<p class="meta">SpamAssassin and link fetching run only in <code>newsletter check</code> (with <code>--online</code>).</p>'
    if not findings:
        return f'<section id="findings">{head}<p>No problems found.</p>{note}</section>'
    rows = "".join(
        f'<tr class="{f.severity}"><td>{f.severity}</td><td>{escape(f.location)}</td><td><code>{escape(f.id)}</code></td><td>{escape(f.message)}</td></tr>'
        for f in findings
    )
    return f'<section id="findings">{head}<table><thead><tr><th>Severity</th><th>Location</th><th>Check</th><th>Message</th></tr></thead><tbody>{rows}</tbody></table>{note}</section>'


def _readability(report: Readability | None) -> str:
    """The prose as the readability check read it, sentence by sentence, with its line numbers:
    long sentences and unexplained jargon marked where they are, the grade above."""
    if report is None:
        return ""
    grade = "too little prose to score" if report.grade is None else f"grade {report.grade:.1f} (Flesch-Kincaid)"
    over = report.grade is not None and report.grade > report.target
    summary = (
        f'<p class="{"over" if over else "meta"}" id="reading-grade" data-grade="{"" if report.grade is None else report.grade}">'
        f"Reading level: {grade}, target {report.target:g} or below; {report.words} words of prose, "
        f"{len(report.long_sentences)} sentence(s) over {report.max_words} words, {len(report.jargon)} term(s) not explained at first use.</p>"
    )
    legend = '<p class="meta"><mark class="long">long sentence</mark> <mark class="jargon">jargon not explained at first use</mark> (hover for details). Headings, tables, code and references are not scored.</p>'
    body = "".join(_paragraph(p, report) for p in report.paragraphs)
    return f'<section id="readability"><h2>Readability</h2>{summary}{legend}<div class="prose">{body}</div></section>'


def _paragraph(paragraph: Paragraph, report: Readability) -> str:
    pieces = []
    for s in paragraph.sentences:
        terms = [use.term for use in report.jargon if (use.line, use.sentence) == (s.line, s.text)]
        text = _marked_terms(s.text, terms, s.line)
        if s.words > report.max_words:
            text = f'<mark class="long" title="line {s.line}: {s.words} words">{text}</mark>'
        pieces.append(text)
    return f'<p><span class="line">{paragraph.line}</span>{" ".join(pieces)}</p>'


def _marked_terms(sentence: str, terms: list[str], line: int) -> str:
    """The sentence escaped, each term's first match in it marked."""
    from ..checks.readability import term_pattern

    spans = sorted((m.start(), m.end(), term) for term in terms if (m := term_pattern(term).search(sentence)))
    out, pos = [], 0
    for start, end, term in spans:
        if start < pos:  # overlapping terms: the first one is marked
            continue
        note = escape(f"line {line}: '{term}' is not explained at first use")
        out += [escape(sentence[pos:start]), f'<mark class="jargon" title="{note}">{escape(sentence[start:end])}</mark>']
        pos = end
    out.append(escape(sentence[pos:]))
    return "".join(out)


CSS = """
*, *::before, *::after { box-sizing: border-box; }
body { margin: 0; padding: 16px 24px; font: 15px/1.5 system-ui, sans-serif; background: #e9e6df; color: #1f2933; }
header { margin-bottom: 16px; }
.meta { color: #4a5560; font-size: 13px; margin: 4px 0; }
.inbox { background: #fff; border: 1px solid #cfc9bc; border-radius: 6px; padding: 10px 14px; max-width: 1100px;
  white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.inbox .from { font-weight: 700; margin-right: 12px; }
.inbox .subject { font-weight: 600; }
.inbox .preheader { color: #5b6570; }
.frames { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; margin-top: 16px; }
figure { margin: 0; max-width: 100%; overflow-x: auto; }  /* the 640 px desktop frame scrolls inside itself on a phone */
figcaption { font-size: 13px; font-weight: 600; margin-bottom: 6px; }
iframe { border: 1px solid #cfc9bc; background: #fff; height: 900px; display: block; }
.error { background: #fdecea; border: 1px solid #d9534f; border-radius: 6px; padding: 8px 16px; margin-bottom: 16px; }
.error pre { white-space: pre-wrap; overflow-wrap: anywhere; font-size: 14px; margin: 4px 0; }
.error ol { padding-left: 20px; }
.hint { font-weight: 600; }
pre.text { background: #fff; border: 1px solid #cfc9bc; padding: 12px; max-width: 80ch; white-space: pre-wrap; overflow-wrap: anywhere; font-size: 13px; }
table { border-collapse: collapse; background: #fff; font-size: 13px; }
th, td { border: 1px solid #cfc9bc; padding: 4px 8px; text-align: left; vertical-align: top; overflow-wrap: anywhere; }
@media (max-width: 600px) {  /* a phone: one column, findings as stacked cards */
  body { padding: 8px 10px; }
  #findings thead { display: none; }
  #findings table, #findings tbody, #findings tr, #findings td { display: block; width: 100%; }
  #findings tr { border-bottom: 2px solid #cfc9bc; }
  #findings td { border: none; padding: 2px 8px; }
  #readability .prose { padding-left: 40px; }
  #readability .line { left: -36px; width: 30px; }
}
tr.error td:first-child { color: #b02a20; font-weight: 700; }
tr.warning td:first-child { color: #8a5a00; font-weight: 700; }
#readability .prose { background: #fff; border: 1px solid #cfc9bc; padding: 8px 16px 8px 56px; max-width: 80ch; }
#readability .prose p { position: relative; margin: 8px 0; }
#readability .line { position: absolute; left: -44px; width: 36px; text-align: right; color: #6b7580; font-size: 12px; }
#readability .over { color: #8a5a00; font-weight: 700; }
mark.long { background: #fde9c4; }
mark.jargon { background: none; border-bottom: 2px solid #b02a20; font-weight: 600; }
"""

JS = """
(function () {
  var body = document.body;
  var version = Number(body.dataset.version);
  function measure() {
    var frames = document.querySelectorAll('iframe[data-view]');
    for (var i = 0; i < frames.length; i++) {
      var frame = frames[i], view = frame.dataset.view, doc;
      try { doc = frame.contentDocument; } catch (e) { doc = null; }
      if (!doc || !doc.documentElement) continue;
      var height = doc.documentElement.scrollHeight;
      frame.style.height = height + 'px';
      body.setAttribute('data-' + view + '-height', String(height));
      if (view === 'phone') {
        var width = doc.documentElement.scrollWidth, fits = width <= frame.clientWidth;
        body.setAttribute('data-phone-scroll-width', String(width));
        body.setAttribute('data-phone-overflow', fits ? 'no' : 'yes');
        body.setAttribute('data-phone-title', doc.title);
        document.getElementById('phone-status').textContent = fits
          ? 'Phone view: ' + width + ' px wide, no horizontal scrolling.'
          : 'Phone view: content is ' + width + ' px wide, wider than the ' + frame.clientWidth + ' px screen: readers must scroll sideways.';
      }
    }
    body.setAttribute('data-page-scroll-width', String(document.documentElement.scrollWidth));
    body.setAttribute('data-page-width', String(document.documentElement.clientWidth));
    body.setAttribute('data-measured', 'yes');
  }
  window.addEventListener('load', measure);
  if (window.EventSource) {
    var events = new EventSource('/events');
    events.addEventListener('hello', function (e) { if (Number(e.data) !== version) location.reload(); });
    events.addEventListener('reload', function () { location.reload(); });
  }
})();
"""
