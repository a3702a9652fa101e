"""Suppression sync: the provider's list of addresses it will not deliver to, into ours.

``subscribers sync`` runs it on demand; ``send`` runs it first, for providers that can list their
suppressions (``lists_suppressions``), so nobody Postmark already refuses is planned at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..errors import ProviderAuthError, ProviderError, SendError
from ..models import Suppression
from ..providers.base import Provider, provider_class
from ..store import events
from ..store.events import PulledSuppression, SyncCounts

# The provider's reason -> our status: Postmark's SuppressionReason (ManualSuppression is an
# unsubscribe or a manual block), SES's suppression list Reason.
STATUS_BY_REASON = {"HardBounce": "bounced", "SpamComplaint": "complained", "BOUNCE": "bounced", "COMPLAINT": "complained"}


@dataclass(frozen=True)
class SyncReport:
    provider: str
    pulled: int
    counts: SyncCounts


def can_sync(provider: Provider | type) -> bool:
    return bool(getattr(provider, "lists_suppressions", False))


def sync_suppressions(conn, provider: Provider) -> SyncReport:
    """Pull every suppression and apply it with source ``sync``. A provider failure becomes one
    SendError naming the provider, with the way around it."""
    try:
        pulled = list(provider.suppressions(None))
    except ProviderError as err:
        way_around = (  # refused credentials refuse the send too: say which to fix
            err.hint if isinstance(err, ProviderAuthError) and err.hint
            else "Try again later, or send with --skip-sync to use the list as it is (addresses suppressed since the last sync may be refused)."
        )
        raise SendError(
            f"{provider.name}: suppression sync failed: {err.message.removeprefix(provider.name + ': ')}",
            hint=f"Nothing was sent. {way_around}",
        ) from err
    counts = events.apply_suppressions(conn, (as_pulled(s) for s in pulled))
    return SyncReport(provider.name, len(pulled), counts)


def as_pulled(item: Suppression) -> PulledSuppression:
    status = STATUS_BY_REASON.get(item.reason, "unsubscribed")
    detail = f"{item.reason} in the provider's suppression list (origin {item.origin or 'unknown'})"
    return PulledSuppression(item.email, status, detail)


def sync_with(conn, name: str, factory: Callable[[], Provider]) -> SyncReport | None:
    """Sync through a fresh adapter; None (nothing constructed) when the provider cannot list
    suppressions."""
    if not can_sync(provider_class(name)):
        return None
    provider = factory()
    try:
        return sync_suppressions(conn, provider)
    finally:
        provider.close()
