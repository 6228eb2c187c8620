"""Reading the activity log per email and per contact: newest first, filters, and keyset
pages that never skip or repeat a row, on SQLite and PostgreSQL (B3)."""

from __future__ import annotations

import base64
import dataclasses
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete
from sqlalchemy.orm import Session

from tidings.activities import queries
from tidings.activities.models import Activity
from tidings.contacts import service as contacts
from tidings.errors import Invalid

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
EXAMPLES = int(os.environ.get("TIDINGS_PAGING_EXAMPLES", "40"))


def as_data(value: Any) -> Any:
    """A page as plain data, whether the service answers dicts or typed models."""
    if hasattr(value, "model_dump"):
        return value.model_dump()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value


def _add(
    session: Session,
    contact_id: int,
    kind: str,
    at: datetime,
    *,
    email_id: int | None = None,
    link_id: int | None = None,
    value: str | None = None,
) -> int:
    row = Activity(
        contact_id=contact_id,
        type=kind,
        email_id=email_id,
        link_id=link_id,
        value=value,
        occurred_at=at,
    )
    session.add(row)
    session.flush()
    return row.id


def _ids(page: Any) -> list[int]:
    return [item["id"] for item in as_data(page)["items"]]


def test_one_emails_identified_interactions_newest_first(session: Session) -> None:
    ada = contacts.create(session=session, email="ada@example.com").id
    bob = contacts.create(session=session, email="bob@example.com").id
    url = "https://shop.example/pricing?plan=pro&ref=ada"
    opened = _add(session, ada, "email_open", T0, email_id=7)
    clicked = _add(
        session, ada, "email_click", T0 + timedelta(minutes=1), email_id=7, link_id=3, value=url
    )
    other = _add(session, bob, "email_click", T0 + timedelta(minutes=2), email_id=7, link_id=4)
    _add(session, bob, "email_click", T0 + timedelta(minutes=3), email_id=8, link_id=9)
    page = as_data(queries.for_email(session=session, email_id=7))
    assert [item["id"] for item in page["items"]] == [other, clicked, opened]
    assert page["next_cursor"] is None
    first = page["items"][1]
    assert (first["contact_id"], first["contact_email"], first["type"]) == (
        ada,
        "ada@example.com",
        "email_click",
    )
    assert (first["value"], first["link_id"], first["email_id"]) == (url, 3, 7)
    assert datetime.fromisoformat(str(first["occurred_at"])) == T0 + timedelta(minutes=1)

    by_type = queries.for_email(session=session, email_id=7, activity_type="email_open")
    assert _ids(by_type) == [opened]
    by_link = queries.for_email(session=session, email_id=7, link_id=3)
    assert _ids(by_link) == [clicked]
    assert _ids(queries.for_email(session=session, email_id=99)) == []


def test_one_contacts_timeline_spans_emails_and_other_activities(session: Session) -> None:
    ada = contacts.create(session=session, email="ada@example.com").id
    bob = contacts.create(session=session, email="bob@example.com").id
    ids = [
        _add(session, ada, "email_click", T0, email_id=1, value="https://a.example/"),
        _add(session, ada, "page_visit", T0 + timedelta(hours=1), value="https://site.example/"),
        _add(session, ada, "custom:webinar", T0 + timedelta(hours=2)),
        _add(session, ada, "email_open", T0 + timedelta(hours=3), email_id=2),
    ]
    _add(session, bob, "page_visit", T0 + timedelta(hours=4))
    assert _ids(queries.for_contact(session=session, contact_id=ada)) == ids[::-1]
    custom = queries.for_contact(session=session, contact_id=ada, activity_type="custom:webinar")
    assert _ids(custom) == [ids[2]]


def _walk(session: Session, email_id: int, limit: int) -> list[list[int]]:
    pages: list[list[int]] = []
    cursor: str | None = None
    while True:
        page = as_data(
            queries.for_email(session=session, email_id=email_id, cursor=cursor, limit=limit)
        )
        pages.append([item["id"] for item in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 200, "the pages do not end"


def test_pages_never_skip_or_repeat_rows(session: Session) -> None:
    ada = contacts.create(session=session, email="ada@example.com").id
    seen_ties: list[bool] = []

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(
        # Seconds and microseconds from a few values: many rows share a time exactly.
        offsets=st.lists(
            st.tuples(st.sampled_from([0, 1, 59, 3600]), st.sampled_from([0, 1, 999_999])),
            max_size=14,
        ),
        limit=st.integers(min_value=1, max_value=5),
    )
    def check(offsets: list[tuple[int, int]], limit: int) -> None:
        session.execute(delete(Activity))
        rows = []
        for seconds, micros in offsets:
            at = T0 + timedelta(seconds=seconds, microseconds=micros)
            rows.append((at, _add(session, ada, "email_open", at, email_id=1)))
        _add(session, ada, "email_open", T0, email_id=2)  # another email's: never listed
        expected = [row_id for _, row_id in sorted(rows, reverse=True)]
        pages = _walk(session, 1, limit)
        assert [row_id for page in pages for row_id in page] == expected
        assert all(len(page) == limit for page in pages[:-1]) and len(pages[-1]) <= limit
        # A last page is full only when nothing follows it; then no cursor is given.
        assert len(pages) == max(1, -(-len(expected) // limit))
        seen_ties.append(len({at for at, _ in rows}) < len(rows))

    check()
    assert any(seen_ties)  # rows sharing a time were paged through


def test_newer_rows_do_not_shift_the_next_page(session: Session) -> None:
    ada = contacts.create(session=session, email="ada@example.com").id
    ids = [
        _add(session, ada, "email_click", T0 + timedelta(minutes=n), email_id=5) for n in range(5)
    ]
    first = as_data(queries.for_email(session=session, email_id=5, limit=2))
    assert [item["id"] for item in first["items"]] == [ids[4], ids[3]]
    newest = _add(session, ada, "email_click", T0 + timedelta(hours=1), email_id=5)
    rest = queries.for_email(session=session, email_id=5, cursor=first["next_cursor"], limit=10)
    assert _ids(rest) == [ids[2], ids[1], ids[0]]
    assert _ids(queries.for_email(session=session, email_id=5, limit=1)) == [newest]


def test_cursors_round_trip_and_bad_ones_are_refused(session: Session) -> None:
    at = datetime(2026, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
    assert queries.decode_cursor(queries.encode_cursor(at, 42)) == (at, 42)
    forged = base64.urlsafe_b64encode(b"soon:42").decode()
    for bad in ("%%%", "bm90IGEgY3Vyc29y", forged, "MTIzNA"):
        with pytest.raises(Invalid, match="cursor: not a cursor returned by this API"):
            queries.for_email(session=session, email_id=1, cursor=bad)
    for limit in (0, -1, queries.MAX_LIMIT + 1):
        with pytest.raises(Invalid, match="limit: must be between 1 and 500"):
            queries.for_contact(session=session, contact_id=1, limit=limit)
    assert as_data(queries.for_email(session=session, email_id=1, cursor="")) == {
        "items": [],
        "next_cursor": None,
    }
