"""The provider interface and registry.

The send loop only knows this Protocol: hand over a batch of neutral OutgoingMessage values, get
one SendResult per message back in the same order, or a ProviderError subclass for the batch:

- ProviderAuthError        credentials refused: stop the run;
- ProviderRateLimited      wait ``retry_after`` (or back off) and retry the same batch;
- ProviderUnavailable      provably never reached the provider, or 5xx: back off and retry;
- ProviderDeliveryUnknown  may have been accepted: mark the batch unknown, never resend blindly;
- ProviderRequestError     the provider refused the request as invalid: do not retry.

Every ProviderError carries ``partial_results``: the results of the batch's first messages that
were settled before the failure (an adapter that sends a batch message by message, like SMTP,
may have had messages 1..k accepted when message k+1 fails). The error then applies only to
``batch[len(partial_results):]``: record the partial results first, and never resend them. HTTP
adapters send a batch in one request, so for them it is always empty.

Adapters take their options from ``[providers.<name>]`` (base_url among them, for EU regions and
tests) and secrets from documented environment variables only. One adapter instance is used by
one worker thread at a time, so it may keep a connection (requests.Session, SMTP) open.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Mapping, Protocol, Sequence

from ..errors import ConfigError
from ..models import OutgoingMessage, SendResult, Suppression


@dataclass(frozen=True)
class AcceptedRecord:
    """A message the provider says it accepted (for reconciling in-doubt batches)."""

    email: str
    provider_message_id: str | None
    metadata: Mapping[str, str] = field(default_factory=dict)


class Provider(Protocol):
    name: str
    max_batch: int
    honours_idempotency_key: bool  # resending with the same key is safe

    def send(self, batch: Sequence[OutgoingMessage]) -> Sequence[SendResult]: ...

    def suppressions(self, since: datetime | None) -> Iterable[Suppression]: ...

    def search_accepted(self, tag: str, since: datetime, until: datetime) -> Iterable[AcceptedRecord] | None:
        """What the provider accepted with this tag in the window; None when it cannot say."""
        ...

    def close(self) -> None: ...


# name -> "module:factory". A factory takes (options, env) and returns a Provider.
REGISTRY: dict[str, str] = {
    "outbox": "newsletter.providers.outbox:OutboxProvider",
    "smtp": "newsletter.providers.smtp:SmtpProvider",
    "postmark": "newsletter.providers.postmark:PostmarkProvider",
}


def create_provider(name: str, options: Mapping[str, Any], env: Mapping[str, str]) -> Provider:
    """Instantiate the adapter registered under ``name`` (imports it lazily)."""
    target = REGISTRY.get(name)
    if target is None:
        known = ", ".join(sorted(REGISTRY))
        raise ConfigError(f"newsletter.toml: [provider] name '{name}' is not a known provider", hint=f"Use one of: {known}.")
    module_name, _, factory = target.partition(":")
    return getattr(importlib.import_module(module_name), factory)(options, env)
