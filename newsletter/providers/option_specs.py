"""What each adapter's ``[providers.<name>]`` table may hold, declared apart from the adapters.

The config loader checks every provider table at load (``providers/base.check_provider_table``)
and must not import the adapters to do it: they bring smtplib, ssl, the email package, JSON
encoders... that a `build` never needs. Each adapter class sets ``options`` to its tuple here;
the limits the options are checked against live here too, and the adapters import them.
"""

from __future__ import annotations

from ..options import Option

# The limits the options are checked against (the adapters import them from here).
SECURITY = ("starttls", "ssl", "none")  # smtp
MAX_BATCH = 500  # postmark: messages per POST /email/batch
MODES = ("batch", "bulk")  # postmark
DUMP_CAP = 500  # Postmark documents no paging and no cap for the dump: assume one (⚠ unconfirmed)
MAX_BULK = 50_000  # postmark: recipients per POST /email/bulk
MAX_PERSONALIZATIONS = 1000  # sendgrid, and 1,000 recipients in all: one recipient per personalization here
SUPPRESSION_PAGE = 1000  # ses: ListSuppressedDestinations PageSize maximum (botocore model)
MAX_RECIPIENTS = 1000  # mailgun: recipients per messages request

OUTBOX: tuple[Option, ...] = (
    Option("directory", "path", None, "the folder the .eml files are written to (default: [paths] outbox)"),
    Option("batch_size", "integer", 100, "messages per batch", min=1, max=100),
)

SMTP: tuple[Option, ...] = (
    Option("host", "string", "localhost", "the relay's host name (it must match its TLS certificate)"),
    Option("port", "integer", None, "the relay's port (default: 587 for starttls, 465 for ssl, 25 for none)", min=1, max=65535),
    Option("security", "string", "starttls", "how the connection is secured (none: only for a relay on this machine)", choices=SECURITY),
    Option("timeout", "seconds", 30.0, "seconds for connecting and for each reply"),
    Option("deadline", "seconds", 120.0, "the most one connection's setup, or one message, may take in all (a server answering a byte at a time is cut off)", min=1, max=3600),
    Option("local_hostname", "string", None, "the name given in EHLO (default: this machine's)"),
    Option("ca_file", "path", None, "a PEM CA certificate to trust too, for a relay whose certificate a private CA signed"),
    # SMTP cannot be asked what it accepted, so a crash leaves a whole in-flight batch unknown.
    Option("batch_size", "integer", 10, "messages per batch (small batches keep in-doubt ones few)", min=1, max=1000),
)

POSTMARK: tuple[Option, ...] = (
    Option("base_url", "url", "https://api.postmarkapp.com", "the API's address (tests point it at a local fake)"),
    Option("message_stream", "string", "broadcast", "the message stream: newsletters must use a Broadcast stream"),
    Option("transactional_stream", "string", "outbound", "the stream for one-to-one emails such as sign-up confirmations (Postmark's default Transactional stream is 'outbound')"),
    Option("mode", "string", "batch", "batch: POST /email/batch, a whole message per recipient; bulk: POST /email/bulk, one body and each recipient's values (Postmark enables it per account)", choices=MODES),
    Option("batch_size", "integer", MAX_BATCH, "messages per POST /email/batch request (mode = \"batch\")", min=1, max=MAX_BATCH),
    Option("bulk_size", "integer", 5_000, "recipients per POST /email/bulk request (mode = \"bulk\"); a request whose answer is lost is in doubt whole", min=1, max=MAX_BULK),
    Option("bulk_status_wait", "number", 30.0, "seconds to poll a bulk request's status for Completed or Failed before counting it accepted (0: do not poll)", min=0, max=3600),
    Option("bulk_poll_interval", "number", 1.0, "seconds between two polls of a bulk request's status", min=0, max=60),
    Option("timeout", "seconds_pair", (5.0, 60.0), "[connect, read] seconds, or one number for both"),
    Option("deadline", "seconds", 120.0, "the most one request may take in all (a server answering a byte at a time is cut off)", min=1, max=3600),
    Option("suppression_dump_cap", "integer", DUMP_CAP, "entries one suppression dump answer may hold (a full answer is split and asked again)", min=2),
)

SENDGRID: tuple[Option, ...] = (
    Option("base_url", "origin", "https://api.sendgrid.com", "the API's scheme and host: https://api.eu.sendgrid.com for EU subusers (tests: a local fake)"),
    Option("batch_size", "integer", MAX_PERSONALIZATIONS, "recipients per mail/send request (one personalization each)", min=1, max=MAX_PERSONALIZATIONS),
    Option("substitutions_max_bytes", "integer", 10_000, "the most one personalization's substitutions may hold (SendGrid: 10,000 bytes in the v3 reference)", min=1_000, max=50_000),
    Option("timeout", "seconds_pair", (5.0, 60.0), "[connect, read] seconds, or one number for both"),
    Option("deadline", "seconds", 120.0, "the most one request may take in all (a server answering a byte at a time is cut off)", min=1, max=3600),
    Option("sandbox_mode", "boolean", False, "SendGrid validates each request and sends nothing (mail_settings.sandbox_mode)"),
    Option("webhook_public_key", "string", None, "the Signed Event Webhook's verification key (base64, from SendGrid's Mail Settings): /webhooks/sendgrid is closed without it"),
    Option("webhook_max_age_seconds", "seconds", 600.0, "the oldest signature /webhooks/sendgrid accepts (older is a replay: refused)", max=86_400),
)

SES: tuple[Option, ...] = (
    Option("region", "string", "us-east-1", "the AWS region of the SES account, e.g. eu-west-1"),
    Option("base_url", "origin", None, "the API's scheme and host (default https://email.<region>.amazonaws.com; tests point it at a local server)"),
    Option("configuration_set", "string", "", "the SES configuration set whose event destination (SNS) reports bounces and complaints"),
    Option("batch_size", "integer", 50, "recipients handed to one worker at a time (one SendEmail call each)", min=1, max=1000),
    Option("timeout", "seconds_pair", (5.0, 30.0), "[connect, read] seconds, or one number for both"),
    Option("suppression_page_size", "integer", SUPPRESSION_PAGE, "entries per page of the suppression list", min=1, max=SUPPRESSION_PAGE),
    Option("webhook_topic_arn", "string", "", "the SNS topic whose messages /webhooks/ses accepts (unset: the endpoint is closed)"),
    Option("webhook_max_age_seconds", "seconds", 3600.0, "the oldest SNS message accepted (older: a replay, refused)", max=86400),
    Option("webhook_certificate", "path", None, "a PEM certificate to check SNS signatures with instead of fetching SigningCertURL (tests)"),
    Option("webhook_sns_base_url", "origin", None, "where to send subscription confirmations instead of the SNS host in SubscribeURL (tests)"),
)

MAILGUN: tuple[Option, ...] = (
    Option("base_url", "origin", "https://api.mailgun.net", "the API's scheme and host: https://api.eu.mailgun.net for EU domains (tests: a local fake)"),
    Option("domain", "string", None, "the sending domain as set up in Mailgun (required)"),
    Option("batch_size", "integer", MAX_RECIPIENTS, "recipients per messages request", min=1, max=MAX_RECIPIENTS),
    Option("timeout", "seconds_pair", (5.0, 60.0), "[connect, read] seconds, or one number for both"),
    Option("deadline", "seconds", 120.0, "the most one request may take in all (a server answering a byte at a time is cut off)", min=1, max=3600),
    Option("test_mode", "boolean", False, "o:testmode: Mailgun accepts and does not deliver (still billed)"),
    Option("webhook_max_age_seconds", "seconds", 600.0, "the oldest signature /webhooks/mailgun accepts (older is a replay: refused)", max=86_400),
)

# name (as in providers/base.REGISTRY) -> its declared options.
BY_PROVIDER: dict[str, tuple[Option, ...]] = {
    "outbox": OUTBOX,
    "smtp": SMTP,
    "postmark": POSTMARK,
    "sendgrid": SENDGRID,
    "ses": SES,
    "mailgun": MAILGUN,
}
