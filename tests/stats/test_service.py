"""An email's statistics from its counters and deliveries: sending figures, rates with
their denominators, per-link figures rolled up by URL, and the timeline, on SQLite and
PostgreSQL (B2, B4)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.orm import Session

from tidings.contacts import service as contacts
from tidings.emails import service as emails
from tidings.sending.models import Delivery
from tidings.stats import service as stats
from tidings.stats.models import COUNTER_FIELDS, EmailStats, LinkStats, TimelineBucket

HTML = """<p><a href="https://example.com/pricing">Pricing</a>
<a href="https://example.com/blog">Blog</a>
<a href="https://example.com/pricing">Pricing again</a>
<a href="https://example.com/unclicked">Never clicked</a></p>"""


def as_data(value: Any) -> Any:
    """Statistics as plain data, whether the service answers dicts or typed models."""
    if hasattr(value, "model_dump"):
        return value.model_dump()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, list):
        return [as_data(item) for item in value]
    return value


def _email(session: Session) -> int:
    return emails.create(
        session=session,
        name="Launch",
        subject="Launch",
        html=HTML,
        sender_name="Tidings",
        sender_address="news@example.com",
    ).id


def _counters(session: Session, email_id: int, **values: int) -> None:
    row = session.get(EmailStats, email_id)
    if row is None:
        row = EmailStats(email_id=email_id, **{name: 0 for name in COUNTER_FIELDS})
        session.add(row)
    for name, value in values.items():
        setattr(row, name, value)
    session.flush()


def _link_counters(session: Session, link_id: int, email_id: int, **values: int) -> None:
    row = session.get(LinkStats, link_id)
    if row is None:
        row = LinkStats(link_id=link_id, email_id=email_id, clicks_total=0, clicks_unique=0)
        row.clicks_automated = 0
        session.add(row)
    for name, value in values.items():
        setattr(row, name, value)
    session.flush()


def _deliveries(session: Session, email_id: int, **by_status: int) -> None:
    for status, count in by_status.items():
        for serial in range(count):
            address = f"{status}{serial}.{email_id}@example.com"
            contact = contacts.create(session=session, email=address)
            session.add(Delivery(email_id=email_id, contact_id=contact.id, status=status))
    session.flush()


def test_an_email_without_activity_counts_zero_and_no_rates(session: Session) -> None:
    email_id = _email(session)
    data = as_data(stats.email_statistics(session=session, email_id=email_id))
    assert data["sent"] == data["delivered"] == data["bounced_soft"] == data["bounced_hard"] == 0
    assert all(data[name] == 0 for name in COUNTER_FIELDS)
    for rate in data["rates"].values():
        assert rate["value"] is None and rate["denominator"] == 0
    assert [link["clicks_total"] for link in data["links"]] == [0, 0, 0, 0]


def test_sent_counts_accepted_messages_and_delivered_takes_bounces_off(session: Session) -> None:
    email_id = _email(session)
    other = _email(session)
    _deliveries(
        session, email_id, sent=6, bounced_soft=1, bounced_hard=1, failed=2, pending=3, skipped=1
    )
    _deliveries(session, other, sent=5)
    data = as_data(stats.email_statistics(session=session, email_id=email_id))
    assert (data["sent"], data["delivered"]) == (8, 6)
    assert (data["bounced_soft"], data["bounced_hard"]) == (1, 1)
    assert data["rates"]["bounce_rate"] == {
        "value": 0.25,
        "numerator": 2,
        "denominator": 8,
        "of": "sent",
    }


def test_rates_state_their_numerators_and_denominators(session: Session) -> None:
    email_id = _email(session)
    _deliveries(session, email_id, sent=7, bounced_hard=1)  # 8 sent, 7 delivered
    _counters(
        session,
        email_id,
        opens_total=9,
        opens_unique=4,
        opens_automated=3,
        clicks_total=5,
        clicks_unique=3,
        clicks_identified=2,
        clicks_anonymous=3,
        clicks_automated=6,
        unsubscribes=1,
        complaints=1,
    )
    data = as_data(stats.email_statistics(session=session, email_id=email_id))
    rates = data["rates"]
    assert rates["open_rate"] == {
        "value": 0.5714,
        "numerator": 4,
        "denominator": 7,
        "of": "delivered",
    }
    assert rates["click_rate"] == {
        "value": 0.4286,
        "numerator": 3,
        "denominator": 7,
        "of": "delivered",
    }
    assert rates["click_to_open_rate"] == {
        "value": 0.75,
        "numerator": 3,
        "denominator": 4,
        "of": "opens_unique",
    }
    assert rates["unsubscribe_rate"]["value"] == pytest.approx(1 / 7, abs=1e-4)
    assert rates["bounce_rate"]["value"] == 0.125
    assert (data["opens_automated"], data["clicks_automated"], data["complaints"]) == (3, 6, 1)
    # The split explains why activities (identified clicks) are fewer than the total.
    split = data["reconciliation"]
    assert split["clicks_total"] == split["clicks_identified"] + split["clicks_anonymous"] == 5
    assert split["clicks_automated"] == 6 and "agreed to tracking" in split["explanation"]


def test_links_per_position_and_rolled_up_by_url(session: Session) -> None:
    email_id = _email(session)
    other = _email(session)
    positions = {link.position: link for link in emails.links(session=session, email_id=email_id)}
    assert [positions[p].url for p in sorted(positions)] == [
        "https://example.com/pricing",
        "https://example.com/blog",
        "https://example.com/pricing",
        "https://example.com/unclicked",
    ]
    for position, (total, unique, automated) in {1: (4, 3, 1), 2: (2, 2, 0), 3: (1, 1, 5)}.items():
        _link_counters(
            session,
            positions[position].id,
            email_id,
            clicks_total=total,
            clicks_unique=unique,
            clicks_automated=automated,
        )
    other_link = emails.links(session=session, email_id=other)[0]
    _link_counters(session, other_link.id, other, clicks_total=50, clicks_unique=9)
    found = as_data(stats.link_statistics(session=session, email_id=email_id))
    assert [
        (
            row["position"],
            row["clicks_total"],
            row["clicks_unique"],
            row["clicks_automated"],
            row["url_clicks_total"],
        )
        for row in found
    ] == [(1, 4, 3, 1, 5), (2, 2, 2, 0, 2), (3, 1, 1, 5, 5), (4, 0, 0, 0, 0)]
    assert [row["link_id"] for row in found] == [positions[p].id for p in (1, 2, 3, 4)]


def test_the_timeline_by_hour_and_by_day(session: Session) -> None:
    email_id = _email(session)
    other = _email(session)
    hours = {
        datetime(2026, 3, 1, 9, tzinfo=UTC): (3, 1),
        datetime(2026, 3, 1, 23, tzinfo=UTC): (2, 2),
        datetime(2026, 3, 2, 0, tzinfo=UTC): (1, 0),
        datetime(2026, 2, 28, 15, tzinfo=UTC): (4, 4),
    }
    for bucket, (opens, clicks) in hours.items():
        session.add(TimelineBucket(email_id=email_id, bucket=bucket, opens=opens, clicks=clicks))
    session.add(
        TimelineBucket(email_id=other, bucket=datetime(2026, 3, 1, 9, tzinfo=UTC), opens=70)
    )
    session.flush()

    def points(granularity: str) -> list[tuple[datetime, int, int]]:
        found = stats.timeline(session=session, email_id=email_id, granularity=granularity)
        return [
            (datetime.fromisoformat(str(p["at"])), p["opens"], p["clicks"]) for p in as_data(found)
        ]

    assert points("hour") == [
        (datetime(2026, 2, 28, 15, tzinfo=UTC), 4, 4),
        (datetime(2026, 3, 1, 9, tzinfo=UTC), 3, 1),
        (datetime(2026, 3, 1, 23, tzinfo=UTC), 2, 2),
        (datetime(2026, 3, 2, 0, tzinfo=UTC), 1, 0),
    ]
    assert points("day") == [
        (datetime(2026, 2, 28, tzinfo=UTC), 4, 4),
        (datetime(2026, 3, 1, tzinfo=UTC), 5, 3),
        (datetime(2026, 3, 2, tzinfo=UTC), 1, 0),
    ]
