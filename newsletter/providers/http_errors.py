"""How a failed HTTP request becomes one of our ProviderErrors: the part every HTTP adapter shares.

Retry only what provably never reached the provider (no connection at all); anything after the
request was sent (a read timeout, a dropped connection, the total deadline) is in doubt. requests
and urllib3 are imported inside the functions: adapter modules are read by the config loader.
"""

from __future__ import annotations

from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Callable

from ..errors import ProviderDeadlineExceeded, ProviderDeliveryUnknown, ProviderError, ProviderUnreachable

if TYPE_CHECKING:
    import requests


def transport_error(err: "requests.RequestException", name: str, in_doubt_hint: str, deadline_hint: str) -> ProviderError:
    """``name``: the provider, as messages start (``sendgrid``); the hints say what happens next."""
    import requests

    from .http import DeadlineExceeded

    if isinstance(err, DeadlineExceeded):
        return ProviderDeadlineExceeded(
            f"{name}: {err} ([providers.{name}] deadline): the server or a proxy on the way answers too slowly", hint=deadline_hint
        )
    if isinstance(err, requests.ConnectTimeout) or (isinstance(err, requests.ConnectionError) and never_connected(err)):
        return ProviderUnreachable(f"{name}: cannot connect: {reason(err)}", hint=f"Check the network and [providers.{name}] base_url; nothing was sent.")
    if isinstance(err, requests.ReadTimeout):
        what = "no answer within the read timeout"
    else:  # RemoteDisconnected, ProtocolError, ChunkedEncodingError, ...
        what = f"connection lost after the request was sent: {reason(err)}"
    return ProviderDeliveryUnknown(f"{name}: {what}", hint=in_doubt_hint)


def never_connected(err: BaseException) -> bool:
    """True when a cause in the chain is a failure to establish the TCP/TLS connection."""
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

    seen: set[int] = set()
    stack: list[Any] = [err]
    while stack:
        item = stack.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, (NewConnectionError, ConnectTimeoutError, ConnectionRefusedError)):
            return True
        stack.extend([*item.args, getattr(item, "reason", None), item.__cause__, item.__context__])
    return False


def reason(err: BaseException) -> str:
    """The innermost useful reason: requests wraps urllib3's MaxRetryError(reason=...) or
    ProtocolError("Connection aborted.", cause)."""
    inner: BaseException = err.args[0] if err.args and isinstance(err.args[0], BaseException) else err
    inner = getattr(inner, "reason", None) or inner
    if len(inner.args) == 2 and isinstance(inner.args[1], BaseException):
        inner = inner.args[1]
    return str(inner) or type(inner).__name__


def retry_after(value: str | None, now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> float | None:
    """Retry-After as seconds (delta-seconds or HTTP-date), or None when absent/unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    when = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - now()).total_seconds())


def error_text(response: "requests.Response") -> str:
    return (response.text or response.reason or "").strip()[:200]
