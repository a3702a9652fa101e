"""Small builders of OutgoingMessage values for provider and send tests."""

from __future__ import annotations

from newsletter.models import OutgoingMessage

TAG = "2026-11-test-issue"
LIST_UNSUBSCRIBE_POST = "List-Unsubscribe=One-Click"


def make_message(i: int, to: str | None = None, tag: str = TAG, html: str | None = None, text: str | None = None) -> OutgoingMessage:
    """Message number ``i``: subscriber id i, address reader<i>@example.org unless ``to``."""
    return OutgoingMessage(
        subscriber_id=i,
        to=to or f"reader{i}@example.org",
        from_="Clinic Research News <news@clinic.example>",
        subject=f"Research notes — issue {tag}",
        html=html if html is not None else f"<html><body><p>Hello reader {i} — “quoted”</p></body></html>",
        text=text if text is not None else f"Hello reader {i} — “quoted”\n",
        message_id=f"<{i}.{tag}@clinic.example>",
        reply_to="team@clinic.example",
        headers=(
            ("List-Unsubscribe", f"<https://clinic.example/u/{i}.tok>, <mailto:unsubscribe@clinic.example?subject=unsubscribe%20{i}>"),
            ("List-Unsubscribe-Post", LIST_UNSUBSCRIBE_POST),
            ("List-Id", "Clinic Research News <clinic-research-news.clinic.example>"),
        ),
        tag=tag,
        metadata=(("issue", tag), ("subscriber_id", str(i))),
    )


def make_batch(n: int, start: int = 1, tag: str = TAG) -> list[OutgoingMessage]:
    return [make_message(i, tag=tag) for i in range(start, start + n)]
