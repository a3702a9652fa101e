"""SMTP submission with the standard library: any relay (Postmark/SendGrid/Mailgun SMTP, a
company server, a local MTA).

``[providers.smtp]`` settings: see ``SmtpProvider.options``. Credentials only from the
environment: ``SMTP_USERNAME`` / ``SMTP_PASSWORD`` (no login when unset).

A non-ASCII local part (``recipients.py`` has already put the domain in IDNA form) is sent
with SMTPUTF8 when the relay offers it (RFC 6531; the header then carries it as UTF-8, RFC 6532)
and is a rejected result otherwise.

One connection is opened lazily and reused across batches (checked with NOOP before each batch,
and reopened once if the server hung up before a message's DATA). A batch is sent one message
at a time, so a failure part-way raises with ``partial_results`` for the messages before it.

``timeout`` bounds each read; ``deadline`` bounds the whole of one connection's setup (greeting,
EHLO, STARTTLS, login) and the whole of one message (MAIL FROM to the final reply), so a server
that answers a byte at a time is cut off (``watchdog.Watch`` shuts the socket). Cut off before a
message's content was sent, nothing of it was accepted: the run stops and the rest stays pending;
cut off after, the message is in doubt (``ProviderDeadlineExceeded``) and the run stops too.
SMTP cannot list what it accepted (``search_accepted`` returns None) and has no idempotency.
"""

from __future__ import annotations

import re
import smtplib
import socket
import ssl
from contextlib import contextmanager
from datetime import datetime
from email.utils import parseaddr
from functools import lru_cache
from typing import Any, Iterable, Iterator, Mapping, Sequence

from ..errors import (
    ConfigError,
    ProviderAuthError,
    ProviderDeadlineExceeded,
    ProviderDeliveryUnknown,
    ProviderError,
    ProviderRateLimited,
    ProviderRequestError,
    ProviderUnavailable,
    ProviderUnreachable,
)
from ..mime import MimeTemplate, template_for
from ..models import Batch, Campaign, RecipientValues, SendResult, Suppression
from ..watchdog import Watch
from . import option_specs
from .base import SearchResult

DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
# Throttling arrives as 4xx replies with provider-specific text; 4.7.x is "security/policy".
RATE_LIMIT = re.compile(r"\b4\.7\.\d+\b|rate|too many|throttl|limit|slow down|try again later", re.I)
IN_DOUBT_HINT = (
    "The server may have accepted the message before the connection failed; check the relay's "
    "logs before resending."
)


class _Disconnected(Exception):
    """The server hung up before DATA: nothing of this message was accepted."""


class _Held:
    """For smtplib.SMTP and SMTP_SSL: the TCP connection goes to the deadline's watch as soon as
    it exists, as a duplicate descriptor, since a TLS handshake (ssl, or STARTTLS) moves the socket
    into a new object mid-way; shutting the duplicate still ends the connection, so a handshake
    trickled a byte at a time is cut off too."""

    watch: Watch | None = None
    _held: socket.socket | None = None

    def _hold(self, plain: socket.socket) -> None:
        if self.watch is not None:
            self._held = plain.dup()
            self.watch.hold(self._held)

    def close(self) -> None:
        super().close()  # type: ignore[misc]
        if self._held is not None:
            self._held.close()
            self._held = None


class _SMTP(_Held, smtplib.SMTP):
    def _get_socket(self, host: str, port: int, timeout: float) -> Any:
        plain = super()._get_socket(host, port, timeout)
        self._hold(plain)
        return plain


class _SMTP_SSL(_Held, smtplib.SMTP_SSL):
    def _get_socket(self, host: str, port: int, timeout: float) -> Any:
        plain = smtplib.SMTP._get_socket(self, host, port, timeout)
        self._hold(plain)
        return self.context.wrap_socket(plain, server_hostname=self._host)


class SmtpProvider:
    name = "smtp"
    honours_idempotency_key = False  # a resent DATA after a lost 250 is a second copy
    options = option_specs.SMTP

    def __init__(self, options: Mapping[str, Any], env: Mapping[str, str]) -> None:
        self.security: str = options["security"]
        self.host: str = options["host"]
        self.port: int = options["port"] or DEFAULT_PORTS[self.security]
        self.timeout: float = options["timeout"]
        self.deadline: float = options["deadline"]
        self.local_hostname: str | None = options["local_hostname"]
        self.ca_file = str(options["ca_file"]) if options["ca_file"] else None
        self.max_batch: int = options["batch_size"]
        self._username = env.get("SMTP_USERNAME") or None
        self._password = env.get("SMTP_PASSWORD") or ""
        if self._username and self.security == "none" and self.host not in LOOPBACK:
            raise ConfigError(
                f"[providers.smtp] security = 'none' would send SMTP_PASSWORD in clear text to {self.host}",
                hint="Use security = 'starttls' or 'ssl', or unset SMTP_USERNAME for an open local relay.",
            )
        self.where = f"smtp: {self.host}:{self.port}"
        self._conn: smtplib.SMTP | None = None
        self._watch: Watch | None = None  # the deadline of the exchange under way
        self._mime: MimeTemplate | None = None  # the campaign's messages, built once (mime.py)

    # -- sending ---------------------------------------------------------------------------
    def send(self, batch: Batch) -> Sequence[SendResult]:
        """Message by message, each built by the shared template (mime.py)."""
        results: list[SendResult] = []
        self._mime = template_for(self._mime, batch.campaign)
        self._check_connection()
        for recipient in batch:
            try:
                results.append(self._send_one(batch.campaign, recipient))
            except ProviderError as err:
                err.partial_results = tuple(results)  # messages before this one are settled
                raise
        return results

    def _send_one(self, campaign: Campaign, recipient: RecipientValues) -> SendResult:
        sender, rcpt = _sender(campaign.from_), recipient.rcpt
        if not sender.isascii():
            raise ProviderRequestError(f"{self.where}: sender address {sender!r} is not ASCII (SMTPUTF8 is not used for the sender)")
        try:
            data = self._mime.render(recipient)
        except Exception as err:  # noqa: BLE001 - the email package's many errors: nothing was sent
            return SendResult("rejected", code="invalid-message", detail=f"{rcpt}: the message cannot be built: {err}")
        for attempt in (1, 2):
            conn = self._connection()
            if not rcpt.isascii() and not conn.has_extn("smtputf8"):
                return SendResult("rejected", code="smtputf8", detail=f"{rcpt}: a non-ASCII address needs SMTPUTF8, which {self.host} does not offer")
            try:
                with self._deadline(conn, f"before the message for {rcpt} was sent"):
                    return self._transaction(conn, sender, rcpt, data, recipient.message_id)
            except _Disconnected as err:
                self._drop()
                if attempt == 2:
                    raise ProviderUnavailable(
                        f"{self.where}: connection lost before DATA for {rcpt}: {err.__cause__}",
                        hint="The server keeps closing the connection; nothing was sent for this message.",
                    ) from err.__cause__
        raise AssertionError("unreachable")

    def _transaction(self, conn: smtplib.SMTP, sender: str, rcpt: str, data: bytes, message_id: str) -> SendResult:
        try:
            code, reply = conn.mail(sender, ["SMTPUTF8"] if not rcpt.isascii() else [])
            if code != 250:
                return self._refused("MAIL FROM", code, reply, rcpt)
            code, reply = conn.rcpt(rcpt)
            if code not in (250, 251):
                return self._refused("RCPT TO", code, reply, rcpt)
            code, reply = conn.docmd("DATA")
            if code != 354:
                return self._refused("DATA", code, reply, rcpt)
        except (smtplib.SMTPServerDisconnected, OSError) as err:
            raise _Disconnected() from err
        except (smtplib.SMTPException, UnicodeError, ValueError) as err:  # this message's envelope: DATA never began
            self._reset()
            return SendResult("rejected", code="invalid-envelope", detail=f"{rcpt}: {err}")
        finally:
            conn.command_encoding = "ascii"  # MAIL FROM ... SMTPUTF8 switched it for this transaction only
        # From here the server may accept the message even if we never see its answer.
        try:
            code, reply = _transfer(conn, data)
        except (smtplib.SMTPServerDisconnected, OSError) as err:
            raise self._in_doubt(rcpt, err) from err
        if self._expired():  # what was read before the socket was shut is no answer
            raise self._in_doubt(rcpt, None)
        if code == 250:
            return SendResult("accepted", provider_message_id=message_id)
        return self._refused("end of DATA", code, reply, rcpt)

    def _refused(self, stage: str, code: int, reply: bytes, rcpt: str) -> SendResult:
        """A non-success reply: a rejected result (5xx for this message) or a batch error."""
        text = reply.decode("utf-8", "replace").replace("\n", " ")
        where = f"{self.where}: {stage} for {rcpt} answered {code} {text}"
        if code in (530, 534, 535):
            self._drop()
            raise ProviderAuthError(where, hint="Check SMTP_USERNAME and SMTP_PASSWORD.")
        if 500 <= code < 600 and stage == "MAIL FROM":  # the sender is refused: every message would be
            self._reset()
            raise ProviderRequestError(where, hint="Check [sender] from_address is allowed to send through this relay.")
        if 500 <= code < 600:
            self._reset()
            return SendResult("rejected", code=str(code), detail=text)
        if code == 421 or not 400 <= code < 500:  # 421: the server is closing the connection
            self._drop()
        else:
            self._reset()
        if 400 <= code < 500 and RATE_LIMIT.search(text):
            raise ProviderRateLimited(where, None, hint="The relay is throttling; the batch will be retried later.")
        raise ProviderUnavailable(where, hint="A temporary failure; nothing was accepted for this message.")

    # -- connection ------------------------------------------------------------------------
    def _check_connection(self) -> None:
        """Between batches the server may have hung up (idle timeout): find out with NOOP."""
        if self._conn is None:
            return
        try:
            with self._deadline(self._conn, "checking the connection"):
                alive = self._conn.noop()[0] == 250
        except (smtplib.SMTPException, OSError, ProviderRequestError):
            alive = False
        if not alive:
            self._drop()

    def _connection(self) -> smtplib.SMTP:
        if self._conn is None:
            self._conn = self._connect()
        return self._conn

    def _connect(self) -> smtplib.SMTP:
        if self.security == "ssl":  # made without a host: connected below, under the deadline
            conn = _SMTP_SSL(local_hostname=self.local_hostname, timeout=self.timeout, context=self._tls_context())
        else:
            conn = _SMTP(local_hostname=self.local_hostname, timeout=self.timeout)
        conn._host = self.host  # what the constructor would set: the TLS name checked (ssl and STARTTLS)
        try:
            with self._deadline(conn, "while connecting"):
                conn.watch = self._watch
                self._open(conn)
                self._secure_and_login(conn)
            return conn
        except BaseException:
            _quietly_close(conn)
            raise

    def _open(self, conn: smtplib.SMTP) -> None:
        try:
            code, reply = conn.connect(self.host, self.port)
            if code != 220:
                raise smtplib.SMTPConnectError(code, reply)
        except ssl.SSLCertVerificationError as err:
            raise self._tls_error(err) from err
        except ssl.SSLError as err:
            raise self._handshake_error(err) from err
        except (smtplib.SMTPException, OSError) as err:  # refused, unreachable, bad greeting
            raise ProviderUnreachable(
                f"{self.where}: cannot connect: {err}", hint="Check [providers.smtp] host and port, and that the server is up; nothing was sent."
            ) from err

    def _secure_and_login(self, conn: smtplib.SMTP) -> None:
        try:
            conn.ehlo()
            if self.security == "starttls":
                conn.starttls(context=self._tls_context())
                conn.ehlo()
            if self._username:
                conn.login(self._username, self._password)
        except smtplib.SMTPAuthenticationError as err:
            raise ProviderAuthError(
                f"{self.where}: login as {self._username!r} refused: {err.smtp_code} {_text(err.smtp_error)}",
                hint="Check SMTP_USERNAME and SMTP_PASSWORD.",
            ) from err
        except smtplib.SMTPNotSupportedError as err:
            raise ProviderRequestError(
                f"{self.where}: the server does not support {err}",
                hint="Check [providers.smtp] security (starttls, ssl or none) and whether the relay needs a login.",
            ) from err
        except ssl.SSLCertVerificationError as err:
            raise self._tls_error(err) from err
        except ssl.SSLError as err:
            raise self._handshake_error(err) from err
        except (smtplib.SMTPException, OSError) as err:
            raise ProviderUnavailable(f"{self.where}: connection setup failed: {err}") from err

    def _tls_context(self) -> ssl.SSLContext:
        """Certificates and host names are always verified (against ``ca_file`` when given)."""
        try:
            return ssl.create_default_context(cafile=self.ca_file)
        except (OSError, ssl.SSLError) as err:
            raise ConfigError(f"[providers.smtp] ca_file '{self.ca_file}': cannot load it: {err}", hint="Give the path of a PEM file with the CA certificate.") from err

    def _tls_error(self, err: ssl.SSLCertVerificationError) -> ProviderRequestError:
        return ProviderRequestError(
            f"{self.where}: TLS certificate check failed: {err.verify_message}",
            hint="Check [providers.smtp] host: it must match the server's certificate (a private CA: set ca_file).",
        )

    def _handshake_error(self, err: ssl.SSLError) -> ProviderRequestError:
        """TLS could not be agreed (not a TLS port, no common protocol): every retry would fail alike."""
        return ProviderRequestError(
            f"{self.where}: TLS handshake failed: {err.reason or err}",
            hint="Check [providers.smtp] security and port: 'ssl' is TLS from the start (port 465), "
            "'starttls' upgrades a plain connection (port 587).",
        )

    def _in_doubt(self, rcpt: str, err: BaseException | None) -> ProviderDeliveryUnknown:
        """The message's content was sent but its answer never came (whole): it may be accepted."""
        self._drop()
        if self._expired():
            unknown: ProviderDeliveryUnknown = ProviderDeadlineExceeded(
                f"{self.where}: no complete answer within the {self.deadline:g} s deadline ([providers.smtp] deadline) "
                f"after the message for {rcpt} was sent: the server or something on the way answers too slowly",
                hint="That message is unknown and the run stopped; check the relay's logs for it before resending.",
            )
        else:
            unknown = ProviderDeliveryUnknown(f"{self.where}: no answer after the message for {rcpt} was sent: {err}", hint=IN_DOUBT_HINT)
        unknown.in_doubt = 1  # this message only: the batch's later ones were never begun
        return unknown

    def _expired(self) -> bool:
        return self._watch is not None and self._watch.expired

    @contextmanager
    def _deadline(self, conn: smtplib.SMTP, stage: str) -> Iterator[None]:
        """Run one exchange on ``conn`` within ``deadline`` seconds. Cut off, it raises a
        ProviderRequestError (the run stops; nothing of the stage was accepted) unless the
        exchange already knows it is in doubt."""
        watch = self._watch = Watch(self.deadline)
        watch.attach(conn)
        watch.start()
        cause: BaseException | None = None
        try:
            yield
        except ProviderDeliveryUnknown:
            raise
        except Exception as err:
            if not watch.expired:
                raise
            cause = err
        finally:
            watch.stop()
            self._watch = None
        if watch.expired:  # also when a reply cut short by the shut socket still parsed as one
            if conn is self._conn:
                self._drop()
            raise ProviderRequestError(
                f"{self.where}: no complete answer within the {self.deadline:g} s deadline ([providers.smtp] deadline) {stage}: "
                "the server or something on the way answers too slowly",
                hint="Nothing more was sent and the run stopped; the recipients not sent are still pending. Check the relay "
                "and the network, then run the same send command again.",
            ) from cause

    def _reset(self) -> None:
        """RSET after a refused transaction; a dead connection is simply dropped."""
        if self._conn is None:
            return
        try:
            self._conn.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()

    def _drop(self) -> None:
        _quietly_close(self._conn)
        self._conn = None

    # -- the rest of the interface ---------------------------------------------------------
    def search_accepted(self, tag: str, since: datetime, until: datetime) -> SearchResult | None:
        return None  # SMTP cannot list what it accepted

    def suppressions(self, since: datetime | None) -> Iterable[Suppression]:
        return ()  # bounces arrive asynchronously, by mail, not through SMTP

    def destination(self, tag: str) -> None:
        return None  # the messages left for the provider: nothing local to open

    def close(self) -> None:
        if self._conn is not None:
            try:
                with self._deadline(self._conn, "saying goodbye (QUIT)"):
                    self._conn.quit()
            except (smtplib.SMTPException, OSError, ProviderRequestError):
                pass
        self._drop()


def _transfer(conn: smtplib.SMTP, data: bytes) -> tuple[int, bytes]:
    """Send the message after 354 (dot-stuffed, CRLF-terminated) and read the final reply."""
    payload = data.replace(b"\n.", b"\n..")  # every line starting with a dot (bytes.replace: 10x a regex)
    if payload.startswith(b"."):
        payload = b"." + payload
    if not payload.endswith(b"\r\n"):
        payload += b"\r\n"
    conn.send(payload + b".\r\n")
    return conn.getreply()


@lru_cache(maxsize=8)  # the campaign's From, parsed once rather than per message
def _sender(from_: str) -> str:
    return parseaddr(from_)[1]


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply


def _quietly_close(conn: smtplib.SMTP | None) -> None:
    if conn is not None:
        try:
            conn.close()
        except OSError:
            pass
