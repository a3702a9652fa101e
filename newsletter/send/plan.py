"""``newsletter send``: the issue goes to every active subscriber of the segment, exactly once.

Read top to bottom, a send is: build and check the issue -> plan (who, how many, how big) ->
[the CLI confirms] -> take the lock -> snapshot recipients into the ledger (first run only) ->
turn rows a crash left 'sending' into 'unknown' -> reconcile unknown rows with the provider ->
dispatch pending rows in batches -> reconcile once more -> report.
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Mapping

from ..build.issue import load_issue
from ..build.personalize import Personalizer
from ..config import Settings
from ..errors import SendError, StoreError
from ..models import Batch, CompiledIssue, Finding, Issue, Recipient, SendResult
from ..providers.base import Provider, create_provider
from ..providers.base import provider_options as declared_options
from ..store import events, ledger, subscribers, unrecorded
from ..store.ledger import SendRecord
from .approval import ApprovalState, approval_state, compile_for_send, is_accepted, prefix_for_test_send, require_approval
from .dispatch import Clock, Dispatcher, ProviderPool, RetryPolicy, RunStats
from .reconcile import DEFAULT_MARGIN_SECONDS, ReconcileReport, reconcile
from .signing import OUTBOX_DEV_SECRET, signing_secret

DEFAULT_GRACE_SECONDS = 30.0
MAX_FINAL_WAIT_SECONDS = 120.0


@dataclass(frozen=True)
class SendRequest:
    issue_path: Path
    include_tags: tuple[str, ...] = ()
    exclude_tags: tuple[str, ...] = ()
    provider: str | None = None
    limit: int | None = None
    retry_unknown: bool = False
    resend_to_new: bool = False
    join: bool = False  # share the send another process is running (ledger.join_send)

    @property
    def segment(self) -> dict:
        return {"include": sorted(self.include_tags), "exclude": sorted(self.exclude_tags)}


@dataclass(frozen=True)
class SendPlan:
    request: SendRequest
    settings: Settings
    compiled: CompiledIssue
    warnings: tuple[Finding, ...]
    provider: str
    existing: SendRecord | None
    recipients: int  # who this run will send to (pending + new + retried unknown)
    message_bytes: int  # size of one personalized message (html + text)
    dev_secret: bool  # links signed with the outbox development key
    # The adapter built to check its credentials, reused by execute_send; close() if not sent.
    providers: ProviderPool = field(compare=False, repr=False)

    def close(self) -> None:
        self.providers.close()

    @property
    def needs_confirmation(self) -> bool:
        """A real provider and someone to send to (a run that only settles in-doubt rows, or
        the outbox, which writes local files, needs no confirmation)."""
        return self.provider != "outbox" and self.recipients > 0


@dataclass
class SendReport:
    issue_slug: str
    provider: str
    counts: dict[str, int]
    run: RunStats
    reconciled: list[ReconcileReport] = field(default_factory=list)
    elapsed: float = 0.0
    rejected: list[ledger.Delivery] = field(default_factory=list)
    unknown: list[ledger.Delivery] = field(default_factory=list)
    destination: str | None = None  # the outbox's folder of this issue: where to open the messages
    open_rows: tuple[int, int] | None = None  # (pending or sending, of which other live senders hold), one moment

    @property
    def with_others(self) -> int:
        return self.open_rows[1] if self.open_rows else 0

    @property
    def ok(self) -> bool:
        """Nothing left to do: every row settled, but those that other live senders are sending."""
        if self.open_rows is None:
            unsettled = self.counts.get("pending", 0) + self.counts.get("sending", 0)
        else:
            unsettled = self.open_rows[0] - self.open_rows[1]
        return unsettled == 0 and self.counts.get("unknown", 0) == 0


def plan_send(request: SendRequest, settings: Settings, conn, *, env: Mapping[str, str] | None = None) -> SendPlan:
    """Everything a confirmation needs, without writing anything."""
    env = os.environ if env is None else env
    compiled, approval = compile_for_send(request.issue_path, settings, conn)
    issue = compiled.issue
    _refuse_draft(issue)
    warnings = _preflight(compiled, settings, approval, ledger.find_send(conn, issue.slug))
    provider = request.provider or settings.provider
    unapproved = require_approval(approval, provider)  # raises, except for the outbox
    if unapproved is not None:
        warnings.insert(0, unapproved)
    factory = provider_factory(provider, settings, env)
    providers = ProviderPool(factory, first=factory())  # fails early on missing credentials
    secret = signing_secret(provider, env)
    unrecorded.replay(conn)  # results a stopped run could not record come first
    existing = ledger.find_send(conn, issue.slug)
    recipients = _recipients_this_run(request, conn, existing)
    sample = Personalizer(compiled, settings, secret).message(Recipient(1, "reader@example.org", "Alex"))
    size = len(sample.html.encode()) + len(sample.text.encode())
    return SendPlan(request, settings, compiled, tuple(warnings), provider, existing, recipients, size, secret == OUTBOX_DEV_SECRET, providers)


def refuse_before_sync(request: SendRequest, settings: Settings, conn) -> None:
    """What refuses a send before the provider is asked anything (the suppression sync comes
    first): a draft, or content without an approval (a warning only for the outbox)."""
    issue = load_issue(request.issue_path)
    _refuse_draft(issue)
    require_approval(approval_state(issue, settings, conn), request.provider or settings.provider)


def _refuse_draft(issue: Issue) -> None:
    if issue.status == "draft":
        raise SendError(f"{issue.path}:{issue.key_lines.get('status', 1)}: the issue is a draft", hint="Set 'status: ready' in the front matter when it may go out, or send yourself a copy with --test EMAIL.")


def _preflight(compiled: CompiledIssue, settings: Settings, approval: ApprovalState, existing: SendRecord | None) -> list[Finding]:
    """Errors refuse the send, except those the approving reviewer accepted (kept as warnings)."""
    from ..checks import PriorSend, check_issue

    prior = PriorSend(existing.subject, existing.created_at) if existing else None
    findings = [_accepted(f, approval) if is_accepted(f, approval) else f for f in check_issue(compiled, settings, prior=prior)]
    errors = [f for f in findings if f.severity == "error"]
    if errors:
        first = errors[0]
        raise SendError(
            f"{first.location}: {first.message} ({first.id}){f' and {len(errors) - 1} more preflight error(s)' if len(errors) > 1 else ''}",
            hint=f"Run 'newsletter check {compiled.issue.path}' to see every finding; fix the errors, then send again.",
        )
    return [f for f in findings if f.severity == "warning"]


def _accepted(f: Finding, approval: ApprovalState) -> Finding:
    return replace(f, severity="warning", message=f"{f.message} (accepted by {approval.reviewer})")


def _recipients_this_run(request: SendRequest, conn, existing: SendRecord | None) -> int:
    if request.join:
        if existing is None:
            raise SendError(f"{request.issue_path}: this issue's send has not started: there is nothing to join", hint="Start it without --join; other processes join it with --join.")
        return ledger.counts(conn, existing)["pending"]  # shared with the other senders
    if existing is None:
        return subscribers.count_active(conn, request.include_tags, request.exclude_tags)
    if existing.segment != request.segment:
        raise SendError(
            f"{existing.issue_slug}: this issue was already started for segment {existing.segment}, not {request.segment}",
            hint="Run send with the same --tag/--exclude-tag options to continue it.",
        )
    counts = ledger.counts(conn, existing)
    if existing.completed_at and not request.resend_to_new and not request.retry_unknown:
        raise SendError(
            f"{existing.issue_slug}: this issue was already sent ({counts['accepted']} accepted, completed {existing.completed_at})",
            hint="Use --resend-to-new to send it only to subscribers who joined since; 'newsletter status ISSUE' shows the details.",
        )
    extra = _count(_new_since(conn, request, existing)) if request.resend_to_new else 0
    retry = counts["unknown"] if request.retry_unknown else 0
    return counts["pending"] + extra + retry


def _new_since(conn, request: SendRequest, existing: SendRecord):
    """Active subscribers of the segment who joined after the send began and have no row yet."""
    known = ledger.subscriber_ids(conn, existing)
    for r in subscribers.iter_active(conn, request.include_tags, request.exclude_tags, joined_after=existing.created_at):
        if r.subscriber_id not in known:
            yield r


def _count(iterable) -> int:
    return sum(1 for _ in iterable)


def execute_send(
    plan: SendPlan,
    conn,
    *,
    env: Mapping[str, str] | None = None,
    clock: Clock | None = None,
    on_start: Callable[[int], None] = lambda total: None,
    on_progress: Callable[[int], None] = lambda n: None,
    on_note: Callable[[str], None] = lambda text: None,
) -> SendReport:
    """Take the lock, snapshot, recover, reconcile, dispatch, reconcile; always release the lock
    and close the plan's provider instances."""
    env = os.environ if env is None else env
    clock = clock or Clock()
    settings, request, issue = plan.settings, plan.request, plan.compiled.issue
    options = settings.provider_options(plan.provider)
    providers = plan.providers
    started = time.monotonic()
    try:
        if request.join:
            if not ledger.join_send(conn, issue.slug):
                on_note("no other sender of this issue is running: this one carries on alone")
        else:
            ledger.acquire_lock(conn, issue.slug)
    except BaseException:
        providers.close()
        raise
    store_failed = False
    try:
        unrecorded.replay(conn)
        send = _snapshot(conn, plan)
        recovered = ledger.interrupted_to_unknown(conn, send)
        if recovered:
            on_note(f"{recovered} recipient(s) were in flight when the last run stopped: checking with {plan.provider}")
        if request.retry_unknown:
            ledger.set_state(conn, [d.id for d in ledger.rows_in_state(conn, send, "unknown")], "pending", "retried by --retry-unknown")
        personalizer = Personalizer(plan.compiled, settings, signing_secret(plan.provider, env))
        with providers.borrowed() as probe:
            # How long a provider's search may lag behind what it accepted (Postmark: unconfirmed).
            grace = float(options.get("reconcile_grace_seconds", getattr(probe, "search_grace_seconds", DEFAULT_GRACE_SECONDS)))
            margin = _setting(options, "reconcile_margin_seconds", DEFAULT_MARGIN_SECONDS)
            # Each adapter sets max_batch from its own settings (batch_size; Postmark bulk: bulk_size).
            batch_size = probe.max_batch
            reports = [reconcile(conn, send, probe, grace_seconds=grace, margin_seconds=margin, sleep=clock.sleep)]
            destination = probe.destination(issue.slug)
        on_start(ledger.counts(conn, send)["pending"])
        dispatcher = Dispatcher(
            conn, send, personalizer, providers,
            workers=int(options.get("workers", settings.workers)), batch_size=batch_size,
            rate_limit=float(options.get("rate_limit", settings.rate_limit)), retry=_retry_policy(options), clock=clock,
            on_progress=on_progress, on_suppress=lambda sid, result: _suppress(conn, plan.provider, sid, result),
        )
        stats = dispatcher.run(request.limit)
        if stats.store_fault is not None:
            store_failed = True
            raise _stopped_by_store(conn, stats)
        if not stats.interrupted and stats.stopped_by is None:
            # A sender that joined this send and died meanwhile left its batch 'sending': in doubt now.
            if ledger.interrupted_to_unknown(conn, send):
                on_note("a sender of this issue stopped mid-batch: checking its in-flight recipients with the provider")
            reports += _settle_in_doubt(conn, send, providers, dispatcher, (grace, margin), clock, request.limit, on_note)
        ledger.mark_completed_if_done(conn, send)
        counts = ledger.counts(conn, send)
        return SendReport(
            issue.slug, plan.provider, counts, dispatcher.stats, reports, time.monotonic() - started,
            ledger.rows_in_state(conn, send, "rejected", limit=50), ledger.rows_in_state(conn, send, "unknown", limit=50),
            destination, ledger.open_rows(conn, send),
        )
    except StoreError:
        store_failed = True
        raise
    finally:
        providers.close()
        if not store_failed:  # else it would wait once more; a dead holder's lock is taken over
            ledger.release_lock(conn, issue.slug)


def _stopped_by_store(conn, stats: RunStats) -> StoreError:
    """One error for a run the ledger stopped: the cause, and where the known results went."""
    fault = stats.store_fault
    assert fault is not None
    kept = ""
    if stats.unrecorded:
        kept = (f"; the provider's answers for {stats.unrecorded} recipient(s) are kept in {unrecorded.journal_path(conn)} "
                "and go into the ledger on the next 'newsletter send' or 'newsletter status'")
    return StoreError(f"{fault.message}{kept}", hint=f"{fault.hint} Nothing the provider has will be sent twice.")


def _settle_in_doubt(conn, send, providers: ProviderPool, dispatcher, windows, clock, limit, on_note) -> list[ReconcileReport]:
    """After dispatching: ask about this run's in-doubt rows once their grace period is over,
    and send the ones the provider does not have (bounded wait). ``windows``: (grace, margin)."""
    grace, margin = windows
    reports: list[ReconcileReport] = []
    if limit is not None or not ledger.counts(conn, send)["unknown"]:
        return reports
    with providers.borrowed() as probe:
        report = reconcile(conn, send, probe, grace_seconds=grace, margin_seconds=margin, sleep=clock.sleep)
        reports.append(report)
        if report.still_unknown and 0 < report.waiting <= MAX_FINAL_WAIT_SECONDS:
            on_note(f"waiting {report.waiting:.0f} s before asking {probe.name} about {report.still_unknown} in-doubt recipient(s)")
            clock.sleep(report.waiting)
            reports.append(reconcile(conn, send, probe, grace_seconds=grace, margin_seconds=margin, sleep=clock.sleep))
    if ledger.counts(conn, send)["pending"]:
        dispatcher.run(None)
    return reports


def _setting(options, key: str, default: float) -> float:
    """A SEND_OPTIONS number from [providers.<name>]; not set (absent or None) = the default."""
    value = options.get(key)
    return default if value is None else float(value)


def _snapshot(conn, plan: SendPlan) -> SendRecord:
    request, issue = plan.request, plan.compiled.issue
    existing = ledger.find_send(conn, issue.slug)
    if request.join and existing is not None:
        return existing  # the first sender took the snapshot
    if existing is None:
        recipients = subscribers.iter_active(conn, request.include_tags, request.exclude_tags)
        send, _ = ledger.create_send(conn, issue.slug, issue.subject, plan.provider, request.segment, recipients)
        return send
    if request.resend_to_new:
        ledger.add_recipients(conn, existing, _new_since(conn, request, existing))
    return existing


def _suppress(conn, provider: str, subscriber_id: int, result: SendResult) -> None:
    subscribers.mark_suppressed(conn, subscriber_id, "bounced", source=provider, detail=f"{result.code}: {result.detail}")


def _retry_policy(options: Mapping) -> RetryPolicy:
    defaults = RetryPolicy()
    return RetryPolicy(
        max_attempts=int(options.get("max_attempts", defaults.max_attempts)),
        backoff_base=float(options.get("backoff_base", defaults.backoff_base)),
        backoff_cap=float(options.get("backoff_cap", defaults.backoff_cap)),
        retry_after_cap=float(options.get("retry_after_cap", defaults.retry_after_cap)),
        consecutive_failure_limit=int(options.get("consecutive_failure_limit", defaults.consecutive_failure_limit)),
    )


def provider_factory(name: str, settings: Settings, env: Mapping[str, str], *, transactional: bool = False) -> Callable[[], Provider]:
    """Builds the adapter; ``transactional`` for one-to-one emails (sign-up confirmations), which
    providers with separate streams send on their transactional one, never with the newsletter."""
    options = dict(settings.provider_options(name))
    if transactional:
        declared = {option.key: option.default for option in declared_options(name)}
        if "transactional_stream" in declared:
            options["message_stream"] = options.get("transactional_stream", declared["transactional_stream"])
    if name == "outbox":
        options.setdefault("directory", settings.outbox_dir)
    return lambda: create_provider(name, options, env)


# --- test sends and status ----------------------------------------------------------------------


def send_test(issue_path: Path, addresses: tuple[str, ...], settings: Settings, conn, *, provider: str | None = None, env: Mapping[str, str] | None = None) -> list[tuple[str, SendResult]]:
    """The exact production message with a [TEST] subject ("[TEST] [not approved]" before the
    current content is approved), to these addresses only (not recorded in the ledger: it is
    not the issue's send). Drafts and unapproved issues may be tested."""
    env = os.environ if env is None else env
    name = provider or settings.provider
    compiled, approval = compile_for_send(issue_path, settings, conn)
    personalizer = Personalizer(compiled, settings, signing_secret(name, env), subject_prefix=prefix_for_test_send(approval), tag_suffix="-test")
    recipients = []
    for address in addresses:
        known = subscribers.find(conn, address)
        recipient = Recipient(known.id if known else 0, address, known.first_name if known and known.first_name else "")
        recipients.append(personalizer.values(recipient))
    batch = Batch(personalizer.campaign, tuple(recipients), f"test-{secrets.token_hex(8)}")
    provider_obj = provider_factory(name, settings, env)()
    try:
        results = list(provider_obj.send(batch))
    finally:
        provider_obj.close()
    return list(zip(addresses, results, strict=True))


@dataclass(frozen=True)
class StatusReport:
    send: SendRecord
    counts: dict[str, int]
    rejected: list[ledger.Delivery]
    unknown: list[ledger.Delivery]
    events: dict[str, int] = field(default_factory=dict)  # recipients per provider event kind (webhooks)
    senders: list[tuple[str, int, int, bool]] = field(default_factory=list)  # (host:pid, accepted, other settled, sending now)


def send_status(conn, issue_slug: str, *, limit: int | None = 200) -> StatusReport:
    """Counts by state and the rejected and unknown rows: the first ``limit`` of each (None: all)."""
    unrecorded.replay(conn)
    send = ledger.find_send(conn, issue_slug)
    if send is None:
        raise SendError(f"{issue_slug}: this issue has not been sent yet", hint="Start it with: newsletter send ISSUE")
    return StatusReport(
        send, ledger.counts(conn, send), ledger.rows_in_state(conn, send, "rejected", limit=limit),
        ledger.rows_in_state(conn, send, "unknown", limit=limit), events.issue_counts(conn, issue_slug),
        _senders(conn, send),
    )


def _senders(conn, send: SendRecord) -> list[tuple[str, int, int, bool]]:
    """Which process on which host sent how many, and which are sending now."""
    alive = {sender for sender, _, live in ledger.senders(conn, send.issue_slug) if live}
    done = {sender: (accepted, other) for sender, accepted, other in ledger.sent_by(conn, send)}
    for sender in alive - done.keys():
        done[sender] = (0, 0)
    return [(sender, accepted, other, sender in alive) for sender, (accepted, other) in sorted(done.items(), key=lambda kv: (-kv[1][0], kv[0]))]


__all__ = ["SendRequest", "SendPlan", "SendReport", "refuse_before_sync", "plan_send", "execute_send", "send_test", "send_status"]
