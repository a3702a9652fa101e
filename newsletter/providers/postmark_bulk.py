"""Postmark's Bulk API (``[providers.postmark] mode = "bulk"``, providers.md §1.5).

One ``POST /email/bulk`` carries the campaign's parts once, with Postmark's template tags where
the merge fields are, and each recipient as a small entry: ``To``, ``TemplateModel`` (their values
as the interface gives them, escaped per part), ``Metadata`` (issue, subscriber id) and
``Headers`` (List-Unsubscribe, the shared headers, Message-ID, in the batch mode's order). The
headers and metadata go in every entry, none at the top: whether Postmark merges an entry's with
the top-level ones or replaces them is unconfirmed, and per entry both readings give the same
message.

Postmark's templates are Mustachio: ``{{x}}`` HTML-escapes its value, ``{{{x}}}`` does not. The
values come escaped already, so every tag is triple, with a key per part (``h0`` the HTML value
of the first field, ``t0`` its text value) because one model fills both parts. Braces of the issue
that Mustachio would read as a tag (``{{``, a ``{`` just before a tag, a ``}`` just after one) are
written as tags whose value is the brace, so the compiled text arrives unchanged.

The reply is one request id and ``Accepted``: no per-recipient result. The status
(``GET /email/bulk/{id}``) is then polled for up to ``bulk_status_wait`` seconds: ``Completed``
→ every recipient *accepted* (provider id ``bulk:<id>``); ``Failed`` → Postmark may have sent
some, so the request is *in doubt* and the next send reconciles it with the outbound message
search by tag and each message's metadata; still running at the end of the wait → *accepted*
(Postmark holds the request and releases it at its own pace), said in each result's detail.
A recipient Postmark does not send to (an inactive address) is not in the reply: it shows in the
suppression sync and the webhooks (bounces, subscription changes), which carry the metadata.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Sequence

from ..errors import ProviderDeliveryUnknown, ProviderError
from ..models import Batch, Campaign, MergeTemplate, RecipientValues, SendResult

if TYPE_CHECKING:
    from .postmark import PostmarkProvider

MAX_BODY_BYTES = 45_000_000  # Postmark's limit is 50 MB per request; stay clear of it
FINISHED = ("Completed", "Failed")
# Braces written as tags (their values are in every entry's model when the campaign needs them).
OPEN_BRACE, CLOSE_BRACE = "{{{lb}}}", "{{{rb}}}"
BRACE_MODEL = {"lb": "{", "rb": "}"}
_OPENER_RE = re.compile(r"\{(?=\{)")  # every "{" that starts a "{{"
_LEADING_CLOSERS_RE = re.compile(r"^\}+")


@dataclass(frozen=True)
class Layout:
    """How one request carries each merge field, decided over its recipients: written into the
    body when every recipient has the same values (the web version's address), one model key
    for both parts when each recipient's HTML and text values are equal (a plain URL), else a
    key per part. Hashable: the template of a layout is built once."""

    constants: tuple[tuple[str, str, str], ...]  # (field, HTML value, text value)
    shared: frozenset[str]

    @classmethod
    def of(cls, campaign: Campaign, recipients: Sequence[RecipientValues]) -> Layout:
        constants, shared = [], set()
        first = recipients[0]
        for name in campaign.fields:
            html, text = first.html.get(name), first.text.get(name)
            if all(v.html.get(name) == html and v.text.get(name) == text for v in recipients):
                constants.append((name, html or "", text or ""))
            elif all(v.html.get(name) == v.text.get(name) for v in recipients):
                shared.add(name)
        return cls(tuple(constants), frozenset(shared))

    def key(self, campaign: Campaign, name: str, part: str) -> str:
        index = campaign.fields.index(name)
        return f"v{index}" if name in self.shared else f"{part}{index}"


@dataclass(frozen=True)
class BulkTemplate:
    """A request's top level in Mustachio up to its entries (``prefix``, JSON without the
    closing ``]}``) and the model keys each recipient's values go under."""

    prefix: bytes
    html_keys: tuple[tuple[str, str], ...]  # (model key, field name)
    text_keys: tuple[tuple[str, str], ...]  # the text part's own keys (shared ones are in html_keys)
    braces: bool  # the parts use the brace tags: every model carries their values


def mustachio_part(part: MergeTemplate, keys: dict[str, str], constants: dict[str, str] | None = None) -> tuple[str, tuple[tuple[str, str], ...], bool]:
    """The part with each field as ``{{{<key>}}}`` (or its constant value, written in), its
    literals' dangerous braces as tags; the (key, field) pairs; whether a brace tag was needed."""
    part = _inline(part, constants or {})
    out, used, braces = [], {}, False
    last = len(part.literals) - 1
    for n, literal in enumerate(part.literals):
        escaped = _literal(literal, after_field=n > 0, before_field=n < last)
        braces = braces or escaped != literal
        out.append(escaped)
        if n < last:
            key = keys[part.fields[n]]
            used[key] = part.fields[n]
            out.append("{{{" + key + "}}}")
    return "".join(out), tuple(used.items()), braces


def _inline(part: MergeTemplate, constants: dict[str, str]) -> MergeTemplate:
    """The part with the constant fields' values joined into its literals."""
    literals, fields = [part.literals[0]], []
    for name, literal in zip(part.fields, part.literals[1:], strict=True):
        if name in constants:
            literals[-1] += constants[name] + literal
        else:
            fields.append(name)
            literals.append(literal)
    return MergeTemplate(tuple(literals), tuple(fields))


def _literal(text: str, after_field: bool, before_field: bool) -> str:
    """Literal text Mustachio leaves as it is: no ``{{``, no ``{`` run into a following tag,
    no ``}`` run into a preceding one."""
    text = _OPENER_RE.sub(OPEN_BRACE, text)
    if before_field and text.endswith("{"):
        text = text[:-1] + OPEN_BRACE
    if after_field and text.startswith("}"):
        text = _LEADING_CLOSERS_RE.sub(lambda m: CLOSE_BRACE * len(m.group()), text)
    return text


def bulk_template(campaign: Campaign, layout: Layout, stream: str, encode: Callable[[Any], bytes]) -> BulkTemplate:
    html_keys = {name: layout.key(campaign, name, "h") for name in campaign.fields}
    text_keys = {name: layout.key(campaign, name, "t") for name in campaign.fields}
    html, html_used, html_braces = mustachio_part(campaign.html, html_keys, {c[0]: c[1] for c in layout.constants})
    text, text_used, text_braces = mustachio_part(campaign.text, text_keys, {c[0]: c[2] for c in layout.constants})
    subject = _literal(campaign.subject, after_field=False, before_field=False)
    top: dict[str, Any] = {
        "From": campaign.from_,
        "Subject": subject,
        "HtmlBody": html,
        "TextBody": text,
        "Tag": campaign.tag,
        "MessageStream": stream,
        "TrackOpens": False,  # no tracking pixels or rewritten links in a clinic's newsletter
        "TrackLinks": "None",
    }
    if campaign.reply_to:
        top["ReplyTo"] = campaign.reply_to
    encoded = encode(top)
    html_pairs = dict(html_used)
    return BulkTemplate(
        prefix=encoded[:-1] + b',"Messages":[',
        html_keys=html_used,
        text_keys=tuple(pair for pair in text_used if pair[0] not in html_pairs),
        braces=html_braces or text_braces or subject != campaign.subject,
    )


def entry(campaign: Campaign, template: BulkTemplate, values: RecipientValues) -> dict[str, Any]:
    """One recipient's ``Messages[]`` entry."""
    model = {key: values.html[name] for key, name in template.html_keys}
    for key, name in template.text_keys:
        model[key] = values.text[name]
    if template.braces:
        model.update(BRACE_MODEL)
    headers = [{"Name": name, "Value": value} for name, value in zip(campaign.recipient_headers, values.headers, strict=True)]
    headers += [{"Name": name, "Value": value} for name, value in campaign.headers]
    headers.append({"Name": "Message-ID", "Value": values.message_id})
    return {"To": values.to, "TemplateModel": model, "Metadata": dict(values.metadata), "Headers": headers}


class EntryEncoder:
    """``entry``'s JSON without building its dicts: the fixed fragments (keys, the shared
    headers, the brace values) encoded once per template, each recipient's strings encoded and
    joined between them. The same bytes as encoding ``entry`` (tests/test_postmark_bulk.py);
    about five times faster, and this is the per-recipient path of a bulk send."""

    def __init__(self, campaign: Campaign, template: BulkTemplate, encode: Callable[[Any], bytes]) -> None:
        self.encode = encode
        self.html = tuple((encode(key) + b":", name) for key, name in template.html_keys)
        self.text = tuple((encode(key) + b":", name) for key, name in template.text_keys)
        braces = encode(BRACE_MODEL)[1:-1] if template.braces else b""
        self.braces = (b"," + braces if template.html_keys or template.text_keys else braces) if braces else b""
        self.header_names = tuple(b'{"Name":' + encode(name) + b',"Value":' for name in campaign.recipient_headers)
        shared = b"".join(b"," + encode({"Name": n, "Value": v}) for n, v in campaign.headers)
        self.tail = shared + b',{"Name":"Message-ID","Value":'

    def __call__(self, values: RecipientValues) -> bytes:
        enc = self.encode
        model = [key + enc(values.html[name]) for key, name in self.html]
        model += [key + enc(values.text[name]) for key, name in self.text]
        metadata = [enc(k) + b":" + enc(v) for k, v in values.metadata]
        headers = [name + enc(value) + b"}" for name, value in zip(self.header_names, values.headers, strict=True)]
        return b"".join((
            b'{"To":', enc(values.to), b',"TemplateModel":{', b",".join(model), self.braces,
            b'},"Metadata":{', b",".join(metadata), b'},"Headers":[', b",".join(headers),
            self.tail if headers else self.tail[1:], enc(values.message_id), b"}]}",
        ))


class BulkSender:
    """``send(batch)`` for mode = "bulk", over the adapter's session and error mapping."""

    def __init__(self, provider: PostmarkProvider, options: Any, sleep: Callable[[float], None] = time.sleep) -> None:
        self.provider = provider
        self.max_batch: int = options["bulk_size"]
        self.status_wait: float = options["bulk_status_wait"]
        self.poll_interval: float = options["bulk_poll_interval"]
        self.sleep = sleep
        self._templates: dict[tuple[int, Layout], tuple[Campaign, BulkTemplate]] = {}

    def template(self, campaign: Campaign, layout: Layout) -> BulkTemplate:
        """Built once per campaign and layout (a send has one campaign object: keyed by identity,
        the object kept alive with it)."""
        key = (id(campaign), layout)
        known = self._templates.get(key)
        if known is None or known[0] is not campaign:
            from .postmark import encode_json

            if len(self._templates) > 8:
                self._templates.clear()
            known = self._templates[key] = (campaign, bulk_template(campaign, layout, self.provider.stream, encode_json))
        return known[1]

    def send(self, batch: Batch) -> Sequence[SendResult]:
        """Entries Postmark cannot carry are rejected results and never posted; the others go in
        requests of consecutive entries (at most ``MAX_BODY_BYTES`` each), so a failed request
        applies to its own recipients and the ones after it (``partial_results``)."""
        from .postmark import encode_json

        sendable = [v for v in batch if self.provider.unsendable(v.rcpt) is None]
        if not sendable:  # nothing to post (or an empty batch)
            return [r for v in batch if (r := self.provider.unsendable(v.rcpt)) is not None]
        campaign = batch.campaign
        template = self.template(campaign, Layout.of(campaign, sendable))
        encode_entry = EntryEncoder(campaign, template, encode_json)
        results: list[SendResult] = []
        run: list[bytes] = []
        size = len(template.prefix)
        for values in batch:
            encoded = self.provider.checked_encoding(values.rcpt, lambda v=values: encode_entry(v))
            if not isinstance(encoded, bytes):
                self._post(template, run, results)
                size = len(template.prefix)
                results.append(encoded)
                continue
            if run and size + len(encoded) + 1 > MAX_BODY_BYTES:
                self._post(template, run, results)
                size = len(template.prefix)
            run.append(encoded)
            size += len(encoded) + 1
        self._post(template, run, results)
        return results

    def _post(self, template: BulkTemplate, run: list[bytes], results: list[SendResult]) -> None:
        if not run:
            return
        try:
            response = self.provider.request("POST", "/email/bulk", data=template.prefix + b",".join(run) + b"]}")
            request_id = _accepted_id(response)
            detail = self._await(request_id)
        except ProviderError as err:
            err.partial_results = tuple(results)
            raise
        results += [SendResult("accepted", provider_message_id=f"bulk:{request_id}", detail=detail)] * len(run)
        run.clear()

    def _await(self, request_id: str) -> str | None:
        """Poll the request's status until it finishes or the wait ends: None when Completed,
        a note when Postmark is still at it; Failed raises (in doubt)."""
        from .postmark import IN_DOUBT_HINT

        deadline = time.monotonic() + self.status_wait
        status, problem = "Accepted", None
        while self.status_wait > 0:
            try:
                status, problem = self.status(request_id), None
            except ProviderError as err:  # the request was accepted; only its progress is unread
                problem = err.message
            if status == "Completed":
                return None
            if status == "Failed":
                raise ProviderDeliveryUnknown(
                    f"postmark: bulk request {request_id} reports Failed: some of its messages may have been sent",
                    hint=IN_DOUBT_HINT,
                )
            if time.monotonic() >= deadline:
                break
            self.sleep(self.poll_interval)
        if problem:
            return f"bulk request {request_id} accepted; its status could not be read: {problem}"
        return f"bulk request {request_id} accepted; still {status} after {self.status_wait:g} s (Postmark releases it at its own pace)"

    def status(self, request_id: str) -> str:
        """The request's aggregate status (``Accepted``, ``Processing``, ``Completed``, ``Failed``;
        anything else is taken as not finished)."""
        from urllib.parse import quote

        from .postmark import _json

        body = _json(self.provider.request("GET", f"/email/bulk/{quote(request_id, safe='')}"), "bulk status")
        return str(_field(body, "Status") or "") if isinstance(body, dict) else ""


def _field(body: dict[str, Any], name: str) -> Any:
    """A key whatever its case: Postmark's examples spell the id ``ID`` and ``Id``."""
    for key, value in body.items():
        if key.lower() == name.lower():
            return value
    return None


def _accepted_id(response: Any) -> str:
    """The request id of an accepted bulk request. A 200 that says Failed, or that we cannot
    read, leaves the request in doubt (Postmark documents neither well enough to rule it out)."""
    from .postmark import IN_DOUBT_HINT

    try:
        body = response.json()
    except ValueError:
        body = None
    request_id = _field(body, "ID") if isinstance(body, dict) else None
    status = _field(body, "Status") if isinstance(body, dict) else None
    if not request_id or status == "Failed":
        what = f"status {status}" if status else "an unreadable answer"
        raise ProviderDeliveryUnknown(f"postmark: HTTP 200 to the bulk request but {what}", hint=IN_DOUBT_HINT)
    return str(request_id)
