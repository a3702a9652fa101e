"""Preflight: every problem a reader, a mailbox provider or the law would notice, found before
sending. ``check_issue`` is what ``send`` runs (errors refuse the send); ``run_checks`` is what
``newsletter check`` and the preview run, from the issue file, so build errors become findings.

Findings are (id, severity, location, message); README "Preview and preflight checks" lists
every id. The HTML is parsed once (htmlscan) and shared by all checks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Callable

from ..build.issue import load_issue
from ..build.pipeline import sample_message
from ..build.render import render_issue
from ..config import Settings
from ..errors import IssueError, NewsletterError, TemplateError
from ..mime import to_bytes
from ..models import CompiledIssue, Finding, OutgoingMessage
from .accessibility import check_accessibility, contrast_ratio
from .content import check_content
from .context import CheckOptions, load_options, make_context, parts_of
from .footnotes import scan_footnotes
from .links import check_links
from .message import check_message, check_spam, spamassassin_available
from .readability import Readability, readability_findings, score
from .readiness import PriorSend, check_readiness

__all__ = ["CheckRun", "PriorSend", "check_issue", "run_checks", "spamassassin_available", "spamassassin_wanted", "contrast_ratio", "CheckOptions"]
LOCATED_RE = re.compile(r"^(?P<where>\S.*?(?::\d+)?): (?P<what>.+)$", re.S)


def check_issue(
    compiled: CompiledIssue,
    settings: Settings,
    *,
    eml: bytes | None = None,
    online: bool = False,
    spamassassin: bool = True,
    prior: PriorSend | None = None,
) -> list[Finding]:
    """All preflight findings for a compiled issue, errors first.

    Without ``eml`` the sample recipient's message is built and checked. No network unless
    ``online``; SpamAssassin (when installed, a second or two) runs unless ``spamassassin`` is
    False or ``[checks] spamassassin = false``, once per content: its report is cached in the
    build folder (``check_spam``). ``prior``: the ledger's send of this slug, if any
    (the caller reads it: checks/ opens no database).
    """
    options = load_options(settings)
    if eml is None:
        eml = to_bytes(sample_message(compiled, settings), datetime.now(timezone.utc))
    html, text = parts_of(eml)
    if html is None or text is None:  # a broken message: check the content of the sample instead
        message = sample_message(compiled, settings)
        html, text = html or message.html, text or message.text
    ctx = make_context(compiled, settings, options, html, text, eml)
    findings = [*check_content(ctx), *check_readiness(ctx, prior), *check_links(ctx), *check_accessibility(ctx), *check_message(ctx)]
    if spamassassin and options.spamassassin:
        findings += check_spam(eml, cache_root=settings.output_dir)
    if online:
        from .online import check_online

        findings += check_online(ctx)
    return _ordered(_without_ignored(findings, options))


def spamassassin_wanted(settings: Settings, spamassassin: bool = True) -> bool:
    """Whether a check scores the message: the caller's option and ``[checks] spamassassin``."""
    return spamassassin and load_options(settings).spamassassin


@dataclass(frozen=True)
class CheckRun:
    """The result of checking an issue file: findings, plus what was built (for the preview)."""

    findings: tuple[Finding, ...]
    compiled: CompiledIssue | None = None
    message: OutgoingMessage | None = None
    error: NewsletterError | None = None  # the build error (also one of the findings)
    readability: Readability | None = None  # the prose scored (readability.py), for the preview

    @property
    def failed(self) -> bool:
        return any(f.severity == "error" for f in self.findings)


def run_checks(issue_path: Path, settings: Settings, *, online: bool = False, spamassassin: bool = True, prior: Callable[[str], PriorSend | None] | None = None) -> CheckRun:
    """Load, render and check an issue file. Build errors become error findings, and footnote
    problems are reported together with everything else (see footnotes.py)."""
    try:
        issue = load_issue(issue_path)
        footnote_findings, renderable = scan_footnotes(issue)
        compiled = render_issue(renderable, settings)
        message = sample_message(compiled, settings)
    except (IssueError, TemplateError) as err:
        every = err.all() if isinstance(err, IssueError) else (err,)  # every problem of the file at once
        return CheckRun(findings=tuple(error_finding(e) for e in every), error=err)
    findings = check_issue(compiled, settings, online=online, spamassassin=spamassassin, prior=prior(issue.slug) if prior else None)
    report, readability = _readability(compiled, settings)
    return CheckRun(findings=tuple(_ordered([*footnote_findings, *findings, *readability])), compiled=compiled, message=message, readability=report)


def _readability(compiled: CompiledIssue, settings: Settings) -> tuple[Readability, list[Finding]]:
    """Readability warnings are for the writer (check, preview); send does not score the prose."""
    options = load_options(settings)
    report = score(compiled.issue, options.reading_grade_target, options.sentence_max_words, options.glossary)
    return report, _without_ignored(readability_findings(report, str(compiled.issue.path)), options)


def error_finding(err: NewsletterError) -> Finding:
    """An IssueError/TemplateError as one error finding: its location, message and hint."""
    m = LOCATED_RE.match(err.message)
    where, what = (m.group("where"), m.group("what")) if m else ("issue", err.message)
    kind = "build.template" if isinstance(err, TemplateError) else "build.issue"
    return Finding(id=kind, severity="error", location=where, message=what + (f" Hint: {err.hint}" if err.hint else ""))


def _without_ignored(findings: list[Finding], options: CheckOptions) -> list[Finding]:
    """``[checks] ignore`` silences warnings only: an error always blocks the send."""
    return [f for f in findings if f.severity == "error" or not any(fnmatchcase(f.id, p) for p in options.ignore)]


def _ordered(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: f.severity != "error")  # stable: check order within
