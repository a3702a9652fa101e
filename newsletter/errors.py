"""The project's exceptions. Library code raises these; only cli.py prints them.

Every message starts with its location (``file:line: ...`` or ``provider: ...``) and may carry
a hint that says what to do next.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:  # errors.py imports nothing at run time; models only for the type hint
    from .models import SendResult


class NewsletterError(Exception):
    """Base error: a one-line message with its location first, and an optional hint."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


def located(path: object, line: int | None, what: str) -> str:
    """Format ``path:line: what`` (or ``path: what`` when the line is unknown)."""
    return f"{path}:{line}: {what}" if line else f"{path}: {what}"


class ConfigError(NewsletterError):
    """newsletter.toml or the environment is wrong."""


class IssueError(NewsletterError):
    """An issue file (front matter or Markdown) is wrong. ``others``: the further problems found
    in the same file (the message and hint are the first's; check and the preview list them all)."""

    def __init__(self, message: str, hint: str | None = None, others: tuple["IssueError", ...] = ()) -> None:
        super().__init__(message, hint)
        self.others = others

    def all(self) -> tuple["IssueError", ...]:
        return (self, *self.others)


class TemplateError(NewsletterError):
    """A Jinja2 template or the MJML it produces is wrong."""


class SubscriberError(NewsletterError):
    """A subscriber, an import file or the subscriber store is wrong."""


class StoreError(NewsletterError):
    """The database cannot be opened or migrated."""


class FileError(NewsletterError):
    """A file or folder the tool writes cannot be written safely (a symbolic link, not a folder)."""


class SendError(NewsletterError):
    """A send cannot start or must stop (lock held, already sent, checks failed...)."""


class ApprovalError(NewsletterError):
    """``newsletter approve`` cannot record a sign-off (placeholder reviewer, unknown finding id)."""


class ProviderError(NewsletterError):
    """A batch-level failure talking to a mail provider.

    ``partial_results`` holds the results of the batch's FIRST messages, settled before the
    failure (an SMTP connection sends a batch one message at a time: messages 1..k may already be
    accepted when message k+1 fails). The error applies to the remaining messages only. Empty
    (the default) means the error applies to the whole batch.
    """

    def __init__(
        self, message: str, hint: str | None = None, *, partial_results: Sequence[SendResult] = ()
    ) -> None:
        super().__init__(message, hint)
        self.partial_results: tuple[SendResult, ...] = tuple(partial_results)


class ProviderAuthError(ProviderError):
    """Credentials rejected (401/403): stop at once, nothing will succeed."""


class ProviderRateLimited(ProviderError):
    """HTTP 429 or equivalent: wait ``retry_after`` seconds (None: provider gave no hint)."""

    def __init__(
        self,
        message: str,
        retry_after: float | None = None,
        hint: str | None = None,
        *,
        partial_results: Sequence[SendResult] = (),
    ) -> None:
        super().__init__(message, hint, partial_results=partial_results)
        self.retry_after = retry_after


class ProviderUnavailable(ProviderError):
    """The request provably never reached the provider, or it answered 5xx: safe to retry."""


class ProviderUnreachable(ProviderUnavailable):
    """No connection could be made at all (refused, unreachable): retried like any unavailability,
    but a batch that gives up on it stops the run, since every later batch would meet the same."""


class ProviderDeliveryUnknown(ProviderError):
    """The request may have been accepted (timeout after sending, dropped connection): never
    resend blindly."""

    # How many of the messages after ``partial_results`` may have gone out (None: all of them);
    # the ones after those were provably never sent (SMTP: their MAIL FROM never began).
    in_doubt: int | None = None


class ProviderDeadlineExceeded(ProviderDeliveryUnknown):
    """A request outlived its total deadline (a server trickling its answer): in doubt like any
    answer that never came, and the run stops, since every later request would wait as long."""


class ProviderRequestError(ProviderError):
    """The provider refused the whole request as invalid (HTTP 4xx other than auth/rate), or
    cannot take any message (an outbox folder that cannot be written, a failed TLS handshake, a
    refused sender): retrying will not help, so the run stops at once with the cause."""
