"""Amazon SES v2: ``SendEmail`` with raw MIME, one call per recipient; the account suppression list.

Why ``SendEmail`` and not ``SendBulkEmail`` (providers.md §5.2-5.4, figures in README, Amazon
SES): SES's throughput is its account's sending rate (14 messages/s for a new production account,
raised on request; quotas count recipients, not calls), and one worker making 50 ms calls already
reaches 20/s, so fewer calls buy no speed. Bulk sends need SES's own template language, whose
HTML escaping is undocumented (⚠ in providers.md), cannot carry our Message-ID, and leave 50
recipients in doubt per lost reply instead of one. Raw MIME built by ``mime.MimeTemplate`` is
byte for byte what the outbox and SMTP send, once per campaign; the price is the upload, the
whole message per recipient (the sample issue: 36 KB).

Calls go through botocore, so signing (SigV4) is botocore's. Its automatic retries are off
(``total_max_attempts = 1``): botocore retries read timeouts and 5xx replies, and a send retried
after SES took it is a duplicate. The send loop retries instead, knowing which messages are
settled. Credentials come only from ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY`` and optional
``AWS_SESSION_TOKEN``, passed explicitly: no profile, config file or instance role is consulted.
botocore is imported inside the class (about 0.3 s): the config loader only reads ``options``.
"""

from __future__ import annotations

import re
from datetime import datetime
from email.utils import parseaddr
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from ..config import secret
from ..errors import (
    ProviderAuthError,
    ProviderDeliveryUnknown,
    ProviderError,
    ProviderRateLimited,
    ProviderRequestError,
    ProviderUnavailable,
    ProviderUnreachable,
)
from ..mime import MimeTemplate, template_for
from ..models import Batch, Campaign, RecipientValues, SendResult, Suppression
from . import option_specs

if TYPE_CHECKING:
    from botocore.exceptions import ClientError

ACCESS_KEY_VAR, SECRET_KEY_VAR, SESSION_TOKEN_VAR = "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"
AUTH_CODES = {
    "UnrecognizedClientException", "InvalidClientTokenId", "InvalidSignatureException", "SignatureDoesNotMatch",
    "AccessDeniedException", "AccessDenied", "ExpiredTokenException", "IncompleteSignature", "MissingAuthenticationToken",
}
THROTTLE_CODES = {"TooManyRequestsException", "LimitExceededException", "ThrottlingException", "Throttling"}
# The account or its setup refuses every message: retrying will not help (the run stops, nothing lost).
STOP_HINTS = {
    "AccountSuspendedException": "SES suspended the account's sending: see the SES console (Reputation) before sending again.",
    "SendingPausedException": "Sending is paused for the account or the configuration set: resume it in the SES console.",
    "MailFromDomainNotVerifiedException": "The custom MAIL FROM domain of the sender is not verified in SES.",
    "NotFoundException": "SES does not know a resource named in the request: check [providers.ses] configuration_set and region.",
    "BadRequestException": "SES refused the request as malformed; see the message above.",
}
TAG_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")  # EmailTags allow ASCII letters, digits, '_' and '-'
IN_DOUBT_HINT = (
    "SES may have accepted this message and its API cannot be asked: it stays unknown and is never resent "
    "automatically (README, Amazon SES, settles it from the Send events or with --retry-unknown)."
)


class SesProvider:
    name = "ses"
    honours_idempotency_key = False  # SendEmail has no client token (providers.md §5.2)
    lists_suppressions = True  # the account-level suppression list (ListSuppressedDestinations)
    options = option_specs.SES

    def __init__(self, options: Mapping[str, Any], env: Mapping[str, str]) -> None:
        import botocore.session
        from botocore.config import Config

        self.region: str = options["region"]
        self.max_batch: int = options["batch_size"]
        self.configuration_set: str = options["configuration_set"]
        self.page_size: int = options["suppression_page_size"]
        access_key = secret(ACCESS_KEY_VAR, env, purpose="the access key id of the AWS user that may send with SES")
        secret_key = secret(SECRET_KEY_VAR, env, purpose="the secret access key of that AWS user")
        connect, read = options["timeout"]
        config = Config(
            retries={"total_max_attempts": 1, "mode": "standard"},  # no automatic resend (module doc)
            connect_timeout=connect,
            read_timeout=read,
            max_pool_connections=1,  # one instance serves one worker thread at a time
            user_agent_extra="newsletter",
        )
        self.client = botocore.session.Session().create_client(
            "sesv2",
            region_name=self.region,
            endpoint_url=options["base_url"],
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            aws_session_token=env.get(SESSION_TOKEN_VAR) or None,
            config=config,
        )
        self._mime: MimeTemplate | None = None

    # -- sending ---------------------------------------------------------------------------
    def send(self, batch: Batch) -> Sequence[SendResult]:
        """Recipient by recipient; a failure applies to the message it happened on and the ones
        after it, never to one already settled (``partial_results``)."""
        self._mime = template_for(self._mime, batch.campaign)
        results: list[SendResult] = []
        for recipient in batch:
            try:
                results.append(self._send_one(batch.campaign, recipient))
            except ProviderError as err:
                err.partial_results = tuple(results)
                raise
        return results

    def _send_one(self, campaign: Campaign, recipient: RecipientValues) -> SendResult:
        from botocore.exceptions import BotoCoreError, ClientError

        rcpt = recipient.rcpt
        if not rcpt.rpartition("@")[0].isascii():
            return SendResult("rejected", code="smtputf8", detail=f"{rcpt}: SES takes ASCII local parts only (providers.md §5.3); not sent")
        try:
            data = self._mime.render(recipient)
        except Exception as err:  # noqa: BLE001 - the email package's many errors: nothing was sent
            return SendResult("rejected", code="invalid-message", detail=f"{rcpt}: the message cannot be built: {err}")
        request: dict[str, Any] = {
            "FromEmailAddress": sender_address(campaign.from_),
            "Destination": {"ToAddresses": [rcpt]},
            "Content": {"Raw": {"Data": data}},
            "EmailTags": [
                {"Name": "issue", "Value": tag_value(campaign.tag)},
                {"Name": "subscriber", "Value": str(recipient.subscriber_id)},
            ],
        }
        if self.configuration_set:
            request["ConfigurationSetName"] = self.configuration_set
        try:
            answer = self.client.send_email(**request)
        except ClientError as err:
            return self._refused(err, campaign, rcpt)
        except BotoCoreError as err:
            raise transport_error(err, rcpt) from err
        return SendResult("accepted", provider_message_id=answer.get("MessageId"))

    def _refused(self, err: ClientError, campaign: Campaign, rcpt: str) -> SendResult:
        """A refusal of this one message is a rejected result; one of the whole account raises."""
        code, message, status = error_parts(err)
        if code == "MessageRejected" and not _names_sender(message, campaign.from_):
            # e.g. a sandbox account's unverified recipient, or content SES will not carry
            return SendResult("rejected", code=code, detail=f"{rcpt}: {message}")
        raise client_error(code, message, status)

    # -- suppressions ----------------------------------------------------------------------
    def suppressions(self, since: datetime | None) -> Iterable[Suppression]:
        """The account's suppression list (bounces and complaints), every page of it."""
        from botocore.exceptions import BotoCoreError, ClientError

        params: dict[str, Any] = {"PageSize": self.page_size}
        if since is not None:
            params["StartDate"] = since
        found: dict[str, Suppression] = {}
        while True:
            try:
                page = self.client.list_suppressed_destinations(**params)
            except ClientError as err:
                raise client_error(*error_parts(err)) from err
            except BotoCoreError as err:
                raise transport_error(err, None) from err
            for entry in page.get("SuppressedDestinationSummaries") or []:
                if entry.get("EmailAddress"):
                    found[entry["EmailAddress"].lower()] = _suppression(entry)
            token = page.get("NextToken")
            if not token:
                return list(found.values())
            params["NextToken"] = token

    def search_accepted(self, tag: str, since: datetime, until: datetime) -> None:
        return None  # SES has no search of what it accepted: in-doubt messages stay unknown

    def destination(self, tag: str) -> None:
        return None  # the messages left for SES: nothing local to open

    def close(self) -> None:
        self.client.close()


def tag_value(text: str) -> str:
    return TAG_UNSAFE.sub("_", text)[:256] or "_"


def sender_address(from_: str) -> str:
    """The bare address of "Name <address>": the From header in the raw message keeps the name."""
    return parseaddr(from_)[1] or from_


def _names_sender(message: str, from_: str) -> bool:
    """SES names the identities that failed verification; the sender among them stops the run."""
    address = sender_address(from_).lower()
    return bool(address) and address in message.lower()


def _suppression(entry: Mapping[str, Any]) -> Suppression:
    updated = entry.get("LastUpdateTime")
    return Suppression(
        email=entry["EmailAddress"],
        reason=str(entry.get("Reason") or "BOUNCE"),  # BOUNCE | COMPLAINT (send/sync.py maps them)
        created_at=updated if isinstance(updated, datetime) else None,
        origin="SES account suppression list",
    )


# -- mapping failures (the one place where botocore's errors become ours) -------------------------
def error_parts(err: ClientError) -> tuple[str, str, int]:
    error = err.response.get("Error") or {}
    status = int((err.response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0)
    return str(error.get("Code") or status), str(error.get("Message") or "").strip()[:300], status


def client_error(code: str, message: str, status: int) -> ProviderError:
    if code in AUTH_CODES or status in (401, 403):
        return ProviderAuthError(
            f"ses: HTTP {status} ({code}): the AWS credentials were refused",
            hint=f"Check {ACCESS_KEY_VAR} and {SECRET_KEY_VAR} (and {SESSION_TOKEN_VAR} for temporary credentials): "
            "the key must belong to an IAM user allowed ses:SendEmail in [providers.ses] region.",
        )
    if code in THROTTLE_CODES or status == 429:
        if "daily" in message.lower():  # the 24-hour quota: no wait of seconds helps
            return ProviderRequestError(
                f"ses: {code}: {message}", hint="The account's 24-hour sending quota is used up; send again tomorrow, or ask AWS for a higher quota."
            )
        return ProviderRateLimited(f"ses: {code}: {message or 'sending too fast'}", retry_after=None)  # SES gives no hint
    if status >= 500:
        return ProviderUnavailable(f"ses: HTTP {status} ({code}): {message}", hint="SES is having trouble; the message will be retried.")
    hint = STOP_HINTS.get(code)
    if code == "MessageRejected":
        hint = "The sender is not a verified identity in this region: verify it in the SES console ([providers.ses] region)."
    return ProviderRequestError(f"ses: HTTP {status} ({code}): {message}", hint=hint)


def transport_error(err: Exception, rcpt: str | None) -> ProviderError:
    """Retry only what provably never reached SES; anything after sending is in doubt."""
    from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError

    if isinstance(err, (EndpointConnectionError, ConnectTimeoutError)):  # ConnectTimeoutError subclasses it
        return ProviderUnreachable(f"ses: cannot connect: {err}", hint="Check the network and [providers.ses] region and base_url; nothing was sent.")
    if rcpt is None:  # a read (the suppression list): nothing to be in doubt about
        return ProviderUnavailable(f"ses: no complete answer: {err}")
    unknown = ProviderDeliveryUnknown(f"ses: no answer for {rcpt} after the request was sent: {err}", hint=IN_DOUBT_HINT)
    unknown.in_doubt = 1  # this message only: the batch's later ones were never sent
    return unknown
