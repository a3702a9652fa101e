"""The send loop: batches to worker threads, pacing, retries, and every ledger transition.

Only the main thread touches the database: it marks a batch ``sending`` (committed) before handing
it to a worker, and commits the worker's outcome when it comes back, in the same transaction as
the claim of the batch that takes its place (one commit per batch, ``ledger.commit_batch``).
Workers only talk to their own provider instance (one keep-alive connection each) and retry what
provably never reached the provider: 429 (after Retry-After) and ``ProviderUnavailable`` (backoff with jitter). Anything in
doubt becomes ``unknown``; it is never resent here. A fault that every later batch would meet too
(credentials, an unwritable outbox, TLS, a server that cannot be reached once a batch's retries are
spent) stops the run at the first batch, with its cause.
"""

from __future__ import annotations

import queue
import random
import secrets
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

from ..build.personalize import PersonalizeError, Personalizer
from ..errors import (
    NewsletterError,
    ProviderAuthError,
    ProviderDeadlineExceeded,
    ProviderDeliveryUnknown,
    ProviderError,
    ProviderRateLimited,
    ProviderRequestError,
    ProviderUnavailable,
    ProviderUnreachable,
    StoreError,
)
from ..models import Batch, SendResult
from ..providers.base import Provider
from ..store import ledger, subscribers, unrecorded
from ..store.ledger import Delivery, SendRecord


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6  # per batch, for unavailable / 5xx / refused connections
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    retry_after_cap: float = 60.0  # never wait longer than this on one 429
    rate_limited_max: int = 20  # 429s tolerated for one batch before giving up on it
    consecutive_failure_limit: int = 5  # batches in a row that gave up -> pause the run

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Exponential backoff with full jitter (attempt 1 -> up to base seconds)."""
        return rng.uniform(0, min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1)))


@dataclass
class Clock:
    """Injected time, so pacing and retry tests never sleep for real."""

    now: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)


@dataclass
class RunStats:
    accepted: int = 0
    rejected: int = 0
    unknown: int = 0
    skipped: int = 0
    requeued: int = 0  # given back to pending (never reached the provider)
    stopped_by: NewsletterError | None = None  # auth / invalid request / too many failures / storage
    interrupted: bool = False
    # The ledger could not be written (locked or full past the busy timeout): the run stopped, and
    # the outcomes it could not record (`unrecorded`) are in the side journal (store/unrecorded.py).
    store_fault: StoreError | None = None
    unrecorded: int = 0


@dataclass
class _Job:
    rows: list[Delivery]
    batch: Batch  # the rows' recipients, in the same order, with the batch's identity


@dataclass
class _Outcome:
    job: _Job
    results: list[SendResult] = field(default_factory=list)  # for the first len(results) rows
    unknown: ProviderDeliveryUnknown | None = None
    gave_up: ProviderError | None = None  # rest goes back to pending
    fatal: ProviderError | None = None  # rest goes back to pending, and the run stops


def batch_key(send: SendRecord) -> str:
    """A new batch's identity: unique across sends and runs (the send's id and 64 random bits),
    stored on its rows in the ledger and kept for every retry of the batch."""
    return f"{send.id}-{secrets.token_hex(8)}"


class ProviderPool:
    """The provider instances of one send: made on first use, one per thread that uses one at a
    time, handed back and reused by the next worker, the reconcile and every later run of the
    loop, and closed together at the end. A send with one worker uses one instance."""

    def __init__(self, factory: Callable[[], Provider], first: Provider | None = None) -> None:
        self._factory = factory
        self._idle: queue.SimpleQueue[Provider] = queue.SimpleQueue()
        self._made: list[Provider] = []
        self._lock = threading.Lock()
        self.instances = 0  # how many were made, for the report and the tests
        if first is not None:
            self._made.append(first)
            self._idle.put(first)
            self.instances = 1

    def take(self) -> Provider:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            provider = self._factory()
            with self._lock:
                self._made.append(provider)
                self.instances += 1
            return provider

    def give_back(self, provider: Provider) -> None:
        self._idle.put(provider)

    @contextmanager
    def borrowed(self) -> Iterator[Provider]:
        provider = self.take()
        try:
            yield provider
        finally:
            self.give_back(provider)

    def close(self) -> None:
        with self._lock:
            made, self._made = self._made, []
        for provider in made:
            provider.close()


class Dispatcher:
    def __init__(
        self,
        conn,
        send: SendRecord,
        personalizer: Personalizer,
        providers: ProviderPool,
        *,
        workers: int,
        batch_size: int,
        rate_limit: float = 0.0,
        retry: RetryPolicy = RetryPolicy(),
        clock: Clock | None = None,
        on_progress: Callable[[int], None] = lambda n: None,
        on_suppress: Callable[[int, SendResult], None] | None = None,
    ) -> None:
        self.conn = conn
        self.send = send
        self.personalizer = personalizer
        self.providers = providers
        self.workers = workers
        self.batch_size = batch_size
        self.rate_limit = rate_limit
        self.retry = retry
        self.clock = clock or Clock()
        self.on_progress = on_progress
        self.on_suppress = on_suppress
        self.stats = RunStats()
        self._stop = threading.Event()
        self._jobs: queue.Queue = queue.Queue()
        self._results: queue.Queue = queue.Queue()
        self._consecutive_failures = 0
        self._next_slot = 0.0
        self._unwritten: list[ledger.Outcome] = []  # settled, committed with the next claim

    # --- main thread ------------------------------------------------------------------------

    def run(self, limit: int | None = None) -> RunStats:
        self._stop.clear()
        self._jobs, self._results = queue.Queue(), queue.Queue()
        threads = [threading.Thread(target=self._worker, name=f"send-worker-{n}", daemon=True) for n in range(self.workers)]
        for t in threads:
            t.start()
        in_flight = 0
        budget = limit if limit is not None else float("inf")
        try:
            with self._ctrl_c_stops():
                for chunk in ledger.iter_pending(self.conn, self.send, self.batch_size):
                    # Wait for a free worker before personalizing: at most `workers` batches of
                    # messages exist at once (memory is workers x batch size, not more).
                    while in_flight >= self.workers:
                        self._settle(self._results.get())
                        in_flight -= 1
                    if self._stop.is_set() or budget <= 0:
                        break
                    try:
                        job = self._prepare(chunk[: int(min(budget, len(chunk)))])
                    except StoreError as err:  # nothing of this chunk went out; stop, settle the rest
                        self._store_failed(err)
                        break
                    if job is None:  # all skipped or refused, or the ledger write failed
                        if self._stop.is_set():
                            break
                        continue
                    budget -= len(job.rows)
                    self._pace(len(job.batch))
                    self._jobs.put(job)
                    in_flight += 1
                self._commit()  # what was settled before the loop ended, with no claim to join
                while in_flight:
                    self._settle(self._results.get())
                    self._commit()
                    in_flight -= 1
        finally:
            self._stop.set()
            for _ in threads:
                self._jobs.put(None)
            for t in threads:
                t.join(timeout=5)
        return self.stats

    @contextmanager
    def _ctrl_c_stops(self) -> Iterator[None]:
        """The first Ctrl-C (SIGINT) asks the run to stop: nothing new is dispatched, and the
        batches already with a worker finish and are recorded. A handler, not KeyboardInterrupt,
        because an exception can land between taking a result and recording it. A second
        Ctrl-C interrupts at once; rows it leaves 'sending' become 'unknown' next run."""
        if threading.current_thread() is not threading.main_thread():
            yield  # signals only reach the main thread: whoever runs us elsewhere stops us
            return
        previous = signal.getsignal(signal.SIGINT)

        def stop(signum, frame) -> None:
            self.stats.interrupted = True
            self._stop.set()
            signal.signal(signal.SIGINT, previous)

        signal.signal(signal.SIGINT, stop)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def _prepare(self, rows: list[Delivery]) -> _Job | None:
        """Skip who left since the snapshot, personalize, and commit the batch as 'sending'
        (with the outcomes settled since the last commit, in one transaction)."""
        current = subscribers.statuses(self.conn, [r.subscriber_id for r in rows])
        keep, skipped = [], []
        for r in rows:
            (keep if current.get(r.subscriber_id) == "active" else skipped).append(r)
        by_status: dict[str, list[int]] = {}
        for r in skipped:
            by_status.setdefault(current.get(r.subscriber_id, "erased"), []).append(r.id)
        recipients, sendable, refused = [], [], []
        for r in keep:
            try:
                recipients.append(self.personalizer.values(r.recipient))
                sendable.append(r)
            except PersonalizeError as err:
                refused.append((r.id, "rejected", SendResult("rejected", code="invalid-recipient", detail=err.message), None))
        batch = Batch(self.personalizer.campaign, tuple(recipients), batch_key(self.send)) if sendable else None
        claim = [(r.id, v.message_id) for r, v in zip(sendable, recipients, strict=True)]
        mine = self._commit(refused=refused, skipped=by_status, claim=claim, key=batch.key if batch else None)
        if mine is None:
            return None  # nothing of this chunk was claimed: the run stops
        self.stats.skipped += len(skipped)
        self.stats.rejected += len(refused)
        self.on_progress(len(skipped) + len(refused))
        if batch is None:
            return None
        if len(mine) < len(sendable):  # a joined sender took some over (this one looked dead): not ours to send
            kept = [(r, v) for r, v in zip(sendable, recipients, strict=True) if r.id in mine]
            if not kept:
                return None
            sendable, batch = [r for r, _ in kept], Batch(batch.campaign, tuple(v for _, v in kept), batch.key)
        return _Job(sendable, batch)

    def _commit(
        self, *, refused: Sequence[ledger.Outcome] = (), skipped: dict[str, list[int]] | None = None,
        claim: Sequence[tuple[int, str]] = (), key: str | None = None,
    ) -> set[int] | None:
        """One ledger transaction: the outcomes settled since the last one, and the next chunk's
        refused and skipped rows and its claim with the lock's heartbeat. Waited for and retried
        while the database is locked or full; once that has failed past the busy timeout, the
        settled outcomes (facts the provider already has) go to the side journal the next send or
        status replays, and nothing is claimed. Returns the ids claimed, None when the write failed."""
        settled, self._unwritten = self._unwritten, []
        if not (settled or refused or skipped or claim):
            return set()
        if self.stats.store_fault is None:
            try:
                return ledger.commit_batch(
                    self.conn, outcomes=settled + list(refused), skipped=skipped, claim=claim, batch_key=key,
                    heartbeat_of=self.send.issue_slug if claim else None,
                )
            except StoreError as err:
                self._store_failed(err)
        if settled:
            unrecorded.keep(self.conn, settled)
            self.stats.unrecorded += len(settled)
        return None

    def _pace(self, n: int) -> None:
        """Messages-per-second cap: each batch takes n/rate seconds of the schedule."""
        if self.rate_limit <= 0:
            return
        now = self.clock.now()
        start = max(self._next_slot, now)
        if start > now:
            self.clock.sleep(start - now)
        self._next_slot = start + n / self.rate_limit

    def _settle(self, out: _Outcome) -> None:
        """Take one batch's outcome; ``_commit`` writes it, with the next claim when there is one."""
        rows = out.job.rows
        done = len(out.results)
        outcomes = []
        for row, result in zip(rows[:done], out.results, strict=True):
            outcomes.append((row.id, result.status, result, None))
            if result.status == "accepted":
                self.stats.accepted += 1
            else:
                self.stats.rejected += 1
                if result.suppress and self.on_suppress and self.stats.store_fault is None:
                    self._suppress(row.subscriber_id, result)
        rest = rows[done:]
        unsent: list[Delivery] = []
        if out.unknown is not None:
            # Only the messages the adapter says may have gone are in doubt; the rest never left.
            in_doubt = len(rest) if out.unknown.in_doubt is None else min(out.unknown.in_doubt, len(rest))
            rest, unsent = rest[:in_doubt], rest[in_doubt:]
            outcomes += [(r.id, "unknown", None, out.unknown.message) for r in rest]
            self.stats.unknown += len(rest)
        self._unwritten += outcomes
        if unsent:
            self._requeue(unsent, f"not sent: the message before it was left in doubt ({out.unknown.message})")
        failure = out.fatal or out.gave_up
        if failure is not None and rest and out.unknown is None:
            self._requeue(rest, failure.message)
        if out.fatal is not None:
            self.stats.stopped_by = out.fatal
            self._stop.set()
        elif out.gave_up is not None:
            self._consecutive_failures += 1
            if self._consecutive_failures >= self.retry.consecutive_failure_limit:
                self.stats.stopped_by = out.gave_up
                self._stop.set()
        else:
            self._consecutive_failures = 0
        self.on_progress(done + (len(rest) if out.unknown is not None else 0))

    def _requeue(self, rows: Sequence[Delivery], why: str) -> None:
        self._unwritten += [(r.id, "pending", None, why) for r in rows]
        self.stats.requeued += len(rows)

    def _suppress(self, subscriber_id: int, result: SendResult) -> None:
        try:
            self.on_suppress(subscriber_id, result)
        except StoreError as err:  # the rejection itself is recorded; the next sync catches up
            self._store_failed(err)

    def _store_failed(self, err: StoreError) -> None:
        """The ledger cannot be written: nothing new is dispatched, the batches in flight are
        settled into the journal without waiting on the database again."""
        if self.stats.store_fault is None:
            self.stats.store_fault = err
            self.stats.stopped_by = err
        self._stop.set()

    # --- workers ------------------------------------------------------------------------------

    def _worker(self) -> None:
        provider = None
        try:
            while True:
                job = self._jobs.get()
                if job is None:
                    return
                if provider is None:
                    provider = self.providers.take()
                self._results.put(self._deliver(provider, job))
        finally:
            if provider is not None:
                self.providers.give_back(provider)

    def _deliver(self, provider: Provider, job: _Job) -> _Outcome:
        results: list[SendResult] = []
        failures = rate_limited = 0
        while True:
            pending = job.batch.rest(len(results))  # the whole batch, under its key, until part of it is settled
            try:
                results += list(provider.send(pending))
                return _Outcome(job, results)
            except ProviderDeliveryUnknown as err:  # past its deadline: the run stops too
                stop = err if isinstance(err, ProviderDeadlineExceeded) else None
                return _Outcome(job, results + list(err.partial_results), unknown=err, fatal=stop)
            except (ProviderAuthError, ProviderRequestError) as err:
                return _Outcome(job, results + list(err.partial_results), fatal=err)
            except ProviderRateLimited as err:
                results += list(err.partial_results)
                rate_limited += 1
                if rate_limited > self.retry.rate_limited_max or self._stop.is_set():
                    return _Outcome(job, results, gave_up=err)
                wait = err.retry_after if err.retry_after is not None else self.retry.backoff(rate_limited, self.clock.rng) + 1.0
                self.clock.sleep(min(wait, self.retry.retry_after_cap))
            except ProviderUnavailable as err:
                results += list(err.partial_results)
                failures += 1
                if failures >= self.retry.max_attempts or self._stop.is_set():
                    if isinstance(err, ProviderUnreachable):  # every later batch would fail alike
                        return _Outcome(job, results, fatal=err)
                    return _Outcome(job, results, gave_up=err)
                self.clock.sleep(self.retry.backoff(failures, self.clock.rng))
            except Exception as err:  # a bug or an unmapped failure: the request may have gone out
                wrapped = ProviderDeliveryUnknown(f"{getattr(provider, 'name', 'provider')}: unexpected error: {err!r}")
                return _Outcome(job, results, unknown=wrapped, fatal=wrapped)
