"""Editorial checks: front matter, subject and preheader, leftovers, required blocks,
citations, and the health claims of claims.py (email-standards.md §0, §1.3, §2.1, §3.4, §5)."""

from __future__ import annotations

import re
from urllib.parse import unquote

from ..build.curly_quotes import quote_problem
from ..build.issue import placeholder_reviewer
from ..models import Finding
from .claims import check_claims
from .context import Context, finding
from .htmlscan import collapse

SCALAR_KEYS = ("title", "subject", "preheader", "reviewed_by")
SUBJECT_MAX = 78
SUBJECT_LONG = 60
PREHEADER_RANGE = (40, 130)  # §3.4
REPLY_PREFIX_RE = re.compile(r"^\s*(re|fwd?)\s*:", re.I)
DOI_RE = re.compile(r"^10\.\d{4,9}/\S+$")
DOI_URL_RE = re.compile(r"https?://(?:dx\.)?doi\.org/([^\s<>\"')\]]*)", re.I)
DOI_TEXT_RE = re.compile(r"\bdoi:\s*([^\s<>\"')\]]*\d[^\s<>\"')\]]*)", re.I)  # an id has digits
PUBMED_URL_RE = re.compile(r"https?://(?:www\.)?(?:pubmed\.ncbi\.nlm\.nih\.gov|ncbi\.nlm\.nih\.gov/pubmed)/([^\s<>\"')\]?#]*)", re.I)
PMID_TEXT_RE = re.compile(r"\bPMID\b:?\s*([A-Za-z0-9-]*\d[A-Za-z0-9-]*)")
EVIDENCE_WORD_RE = re.compile(r"\b(stud(?:y|ies)|trials?|meta-analys[ie]s|systematic reviews?|RCTs?)\b", re.I)
CITATION_RE = re.compile(r"doi\.org/|\bdoi:|pubmed\.ncbi\.nlm\.nih\.gov|\bPMID\b", re.I)
LEFTOVERS = (
    ("leftover.todo", re.compile(r"\b(TODO|FIXME)\b"), "a TODO/FIXME note"),
    ("leftover.tk", re.compile(r"\bTK\b"), "'TK' (to come) marks missing material"),
    ("leftover.lorem", re.compile(r"lorem ipsum", re.I), "placeholder text 'lorem ipsum'"),
)
TEMPLATE_LEFTOVER_RE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|%7B%7B|%%[A-Za-z_]\w*%%")


def check_content(ctx: Context) -> list[Finding]:
    return [
        *front_matter(ctx),
        *subject_and_preheader(ctx),
        *leftovers(ctx),
        *required_blocks(ctx),
        *citations(ctx),
        *check_claims(ctx),
    ]


def front_matter(ctx: Context) -> list[Finding]:
    issue, src = ctx.issue, ctx.source
    out = []
    if not issue.authors:
        out.append(finding("front-matter.authors", "warning", src.at(1), "no 'authors' in the front matter: name who wrote the issue (HONcode: authority)"))
    if not issue.reviewed_by:
        out.append(finding("front-matter.reviewed-by", "warning", src.at(1), "no reviewer yet: the email says 'Reviewed by' the name 'newsletter approve ISSUE --reviewer NAME' records for this content"))
    elif placeholder_reviewer(issue.reviewed_by):
        out.append(finding("front-matter.reviewed-by", "warning", src.key("reviewed_by"), f"reviewed_by is '{issue.reviewed_by}': a placeholder, left out of the email; its 'Reviewed by' line comes from 'newsletter approve'"))
    for key in issue.curly_quoted:  # build/curly_quotes.py: a word processor's quotes, read as YAML's
        shown_curly = f'{key}: "“...”"' if key in SCALAR_KEYS else f'{key}: ["“...”"]'
        out.append(finding(
            "front-matter.curly-quotes", "warning", src.key(key),
            f"'{key}' is in curly quotes “ ”, read as quotes around the value (not part of it): write straight quotes \" \" "
            f"(other YAML tools need them), or, to show curly quotes, {shown_curly}",
        ))  # fmt: skip
    return out


def subject_and_preheader(ctx: Context) -> list[Finding]:
    issue, src = ctx.issue, ctx.source
    subject, preheader = issue.subject, issue.preheader
    out = []
    if len(subject) > SUBJECT_MAX:
        out.append(finding("subject.length", "error", src.key("subject"), f"subject is {len(subject)} characters; keep it to {SUBJECT_MAX} at most (about {SUBJECT_LONG} show in most inboxes)"))
    elif len(subject) > SUBJECT_LONG:
        out.append(finding("subject.length", "warning", src.key("subject"), f"subject is {len(subject)} characters; inboxes cut it at about {SUBJECT_LONG}"))
    letters = [c for c in subject if c.isalpha()]
    if len(letters) >= 4 and sum(c.isupper() for c in letters) > len(letters) / 2:
        out.append(finding("subject.caps", "warning", src.key("subject"), "subject is mostly capitals: it reads as shouting and spam filters score it (SUBJ_ALL_CAPS)"))
    if REPLY_PREFIX_RE.match(subject):
        out.append(finding("subject.reply-prefix", "warning", src.key("subject"), "subject starts with Re:/Fwd: but the issue is not a reply; remove the prefix"))
    for key, text in (("subject", subject), ("preheader", preheader)):  # both show in the inbox
        problem = quote_problem(text)
        if problem:
            out.append(finding(f"{key}.quotes", "warning", src.key(key), f"{key} {problem}: a word processor's quotes, or a slip? Pair them up (“...”) or use straight ones throughout"))
    if _norm(preheader) == _norm(subject) or _norm(preheader).startswith(_norm(subject)):
        out.append(finding("preheader.repeat", "warning", src.key("preheader"), "preheader repeats the subject; use it to summarise the issue instead"))
    low, high = PREHEADER_RANGE
    if not low <= len(preheader) <= high:
        out.append(finding("preheader.length", "warning", src.key("preheader"), f"preheader is {len(preheader)} characters; aim for {low}-{high}"))
    if collapse(preheader) not in ctx.scan.hidden_text:
        out.append(finding("preheader.missing", "error", "email.html", "the preheader is not in the HTML (hidden text at the top of <body>); keep <mj-preview> in the template's <mj-head>"))
    return out


def _norm(text: str) -> str:
    return re.sub(r"[\W_]+", " ", text.casefold()).strip()


def leftovers(ctx: Context) -> list[Finding]:
    out: list[Finding] = []
    rendered = {"email.txt": ctx.text, "email.html": ctx.scan.visible_text + " " + ctx.scan.hidden_text}
    for id_, pattern, what in LEFTOVERS:
        in_source = 0
        for line, text in ctx.source.all_lines():
            for m in pattern.finditer(text):
                in_source += 1
                out.append(finding(id_, "error", ctx.source.at(line), f"{what}: '{m.group(0)}'; finish or remove it"))
        for part, text in rendered.items():  # also from templates or config, not only the issue
            if len(pattern.findall(text)) > in_source:
                out.append(finding(id_, "error", part, f"{what} in the rendered email (from a template or newsletter.toml)"))
                break
    for part, text in (("email.html", ctx.html), ("email.txt", ctx.text)):
        for m in dict.fromkeys(TEMPLATE_LEFTOVER_RE.findall(text)):
            where = ctx.source.locate(m, part)
            out.append(finding("leftover.template", "error", where, f"unrendered template code or merge field {m!r} left in the message: use a known merge field or remove it"))
    return out


def required_blocks(ctx: Context) -> list[Finding]:
    s, o = ctx.settings, ctx.options
    html_text, text = ctx.scan.visible_text, ctx.text_flat
    out = []
    for id_, configured, pattern, what in (
        ("required.disclaimer", s.disclaimer, o.disclaimer_pattern, "the disclaimer ([content] disclaimer)"),
        ("required.postal-address", s.postal_address, o.postal_address_pattern, "the postal address ([sender] postal_address)"),
    ):
        for part, body in (("email.html", html_text), ("email.txt", text)):
            found = pattern.search(body) if pattern else collapse(configured).casefold() in body.casefold()
            if not found:
                out.append(finding(id_, "error", part, f"{what} is missing from this part; keep it in the footer template (the law and §5.1 need it in both parts)"))
    out += _unsubscribe(ctx) + _view_in_browser(ctx)
    return out


def _unsubscribe(ctx: Context) -> list[Finding]:
    uri = ctx.unsubscribe_uri()
    links = ctx.scan.links
    out = []
    if not any((uri and l.href == uri) or "unsubscribe" in l.text.lower() for l in links):
        out.append(finding("required.unsubscribe", "error", "email.html", "no visible unsubscribe link: add <a href=\"{{ merge.unsubscribe_url }}\">Unsubscribe</a> to the footer"))
    if not ((uri and uri in ctx.text) or "unsubscribe" in ctx.text.lower()):
        out.append(finding("required.unsubscribe", "error", "email.txt", "no unsubscribe URL in the text part: add {{ merge.unsubscribe_url }} to email.txt.j2"))
    return out


def _view_in_browser(ctx: Context) -> list[Finding]:
    prefix = ctx.webview_prefix()
    out = []
    if not any(l.href.startswith(prefix) or re.search(r"view .*in (your )?browser|web version", l.text, re.I) for l in ctx.scan.links):
        out.append(finding("required.view-in-browser", "error", "email.html", "no view-in-browser link: add <a href=\"{{ merge.webview_url }}\"> to the footer"))
    if prefix not in ctx.text:
        out.append(finding("required.view-in-browser", "error", "email.txt", "no view-in-browser URL in the text part: add {{ merge.webview_url }} to email.txt.j2"))
    return out


def citations(ctx: Context) -> list[Finding]:
    src = ctx.source
    out = []
    haystack = [(line, text) for line, text in src.all_lines()] + [(None, l.href) for l in ctx.scan.links]
    seen: set[str] = set()
    for line, text in haystack:
        for kind, raw, ok in _citation_ids(text):
            if ok or raw in seen:
                continue
            seen.add(raw)
            where = src.at(line) if line else src.locate(raw, "email.html")
            if kind == "doi":
                out.append(finding("citation.doi", "error", where, f"malformed DOI '{raw}': a DOI looks like 10.1234/suffix (https://doi.org/10.1234/suffix)"))
            else:
                out.append(finding("citation.pmid", "error", where, f"malformed PubMed id '{raw}': a PMID is digits only (https://pubmed.ncbi.nlm.nih.gov/12345678/)"))
    everything = "\n".join(t for _, t in src.body_lines()) + "\n" + "\n".join(l.href for l in ctx.scan.links)
    if not CITATION_RE.search(everything):
        for line, text in src.body_lines():
            m = EVIDENCE_WORD_RE.search(text)
            if m:
                out.append(finding("citation.missing", "warning", src.at(line), f"mentions a {m.group(0).lower()} but the issue cites no DOI or PubMed link: add the source as a footnote with its https://doi.org/ link"))
                break
    return out


def _citation_ids(text: str):
    """(kind, raw id, well-formed) for every DOI and PubMed id written in ``text``."""
    for m in DOI_URL_RE.finditer(text):
        raw = unquote(m.group(1)).rstrip(".,;:")
        yield "doi", raw, bool(DOI_RE.match(raw))
    for m in DOI_TEXT_RE.finditer(text):
        raw = m.group(1).rstrip(".,;:")
        yield "doi", raw, bool(DOI_RE.match(raw))
    for m in PUBMED_URL_RE.finditer(text):
        raw = m.group(1).rstrip("/.,;:")
        yield "pmid", raw, raw.isdigit() and len(raw) <= 9
    for m in PMID_TEXT_RE.finditer(text):
        raw = m.group(1).rstrip(".")
        yield "pmid", raw, raw.isdigit() and len(raw) <= 9
