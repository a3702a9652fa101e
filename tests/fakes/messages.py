"""Small builders of campaigns, recipients' values and batches for provider and send tests."""

from __future__ import annotations

from functools import lru_cache

from newsletter.mime import full_message
from newsletter.models import Batch, Campaign, MergeTemplate, OutgoingMessage, RecipientValues

TAG = "2026-11-test-issue"
LIST_UNSUBSCRIBE_POST = "List-Unsubscribe=One-Click"
HTML = "<html><body><p>Hello reader %%first_name%% — “quoted”</p></body></html>"
TEXT = "Hello reader %%first_name%% — “quoted”\n"


@lru_cache(maxsize=None)  # one campaign object per set of arguments, as a send has one
def make_campaign(tag: str = TAG, html: str = HTML, text: str = TEXT, subject: str | None = None) -> Campaign:
    return Campaign(
        tag=tag,
        from_="Clinic Research News <news@clinic.example>",
        subject=subject if subject is not None else f"Research notes — issue {tag}",
        html=MergeTemplate.split(html),
        text=MergeTemplate.split(text),
        reply_to="team@clinic.example",
        headers=(
            ("List-Unsubscribe-Post", LIST_UNSUBSCRIBE_POST),
            ("List-Id", "Clinic Research News <clinic-research-news.clinic.example>"),
        ),
        recipient_headers=("List-Unsubscribe",),
    )


def make_recipient(i: int, to: str | None = None, tag: str = TAG, to_address: str | None = None, first_name: str | None = None) -> RecipientValues:
    """Recipient number ``i``: subscriber id i, address reader<i>@example.org unless ``to``;
    their first name is ``str(i)`` ("Hello reader 3")."""
    to = to or f"reader{i}@example.org"
    name = first_name if first_name is not None else str(i)
    return RecipientValues(
        subscriber_id=i,
        to=to,
        to_address=to_address or to.rpartition("<")[2].rstrip(">"),
        message_id=f"<{i}.{tag}@clinic.example>",
        html={"first_name": name},
        text={"first_name": name},
        headers=(f"<https://clinic.example/u/{i}.tok>, <mailto:unsubscribe@clinic.example?subject=unsubscribe%20{i}>",),
        metadata=(("issue", tag), ("subscriber_id", str(i))),
    )


def make_message(i: int, to: str | None = None, tag: str = TAG) -> OutgoingMessage:
    """Recipient ``i``'s whole message, as the shared helper builds it."""
    return full_message(make_campaign(tag), make_recipient(i, to, tag))


def make_batch(n: int, start: int = 1, tag: str = TAG, campaign: Campaign | None = None) -> Batch:
    return batch_of([make_recipient(i, tag=tag) for i in range(start, start + n)], campaign or make_campaign(tag))


def batch_of(recipients: list[RecipientValues], campaign: Campaign | None = None) -> Batch:
    first = recipients[0].subscriber_id if recipients else 0
    return Batch(campaign or make_campaign(), tuple(recipients), f"test-{first}-{len(recipients)}")
