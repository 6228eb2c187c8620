"""Counting windows (SPEC B1): unique markers keyed per email with a key that is
destroyed when the email's window closes; after it, nothing stored links an anonymous
interaction to a delivery or a contact, even with the secret key."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, update

from tests.tracking.test_writer import Sent, _click, _counters, _open, _sent
from tidings.activities.models import Activity
from tidings.db.base import utcnow
from tidings.jobs import registry
from tidings.runtime import Runtime
from tidings.sending.models import Delivery, Mailout
from tidings.sending.tokens import varint
from tidings.tracking.models import CountingWindow, TrackingEvent, UniqueMarker
from tidings.tracking.windows import CountingWindows
from tidings.tracking.writer import EventWriter


@pytest.fixture
def writer(runtime: Runtime) -> Iterator[EventWriter]:
    """A started event writer on the test database."""
    event_writer = EventWriter(runtime)
    event_writer.start()
    yield event_writer
    event_writer.stop()


def _window(runtime: Runtime, email_id: int) -> CountingWindow:
    with runtime.session() as session:
        window = session.get(CountingWindow, email_id)
        assert window is not None
        return window


def _close(runtime: Runtime, email_id: int) -> None:
    """Time passes for one email: its window closed a minute ago."""
    with runtime.session() as session:
        session.execute(
            update(CountingWindow)
            .where(CountingWindow.email_id == email_id)
            .values(closes_at=utcnow() - timedelta(minutes=1))
        )


def test_the_window_opens_with_the_first_send_and_every_writer_agrees(
    runtime: Runtime, writer: EventWriter
) -> None:
    sent = _sent(runtime, consenting=0, anonymous=2, prefix="open")
    writer.record_blocking(_click(sent, sent.anonymous[0], 1))
    window = _window(runtime, sent.email_id)
    with runtime.session() as session:
        mailout = session.scalars(select(Mailout).where(Mailout.email_id == sent.email_id)).one()
    first_send = mailout.started_at or mailout.created_at
    assert window.closes_at == first_send + timedelta(days=30)
    assert window.marker_key is not None and len(window.marker_key) == 32
    # Another writer (another process) reads the same key: the same recipient is
    # still one unique recipient.
    other = EventWriter(runtime)
    other.start()
    try:
        other.record_blocking(_click(sent, sent.anonymous[0], 1))
    finally:
        other.stop()
    writer.record_blocking(_click(sent, sent.anonymous[1], 1))
    counters = _counters(runtime, sent)
    assert (counters["clicks_total"], counters["clicks_unique"]) == (3, 2)
    assert counters["link1"] == (3, 2, 0)


def test_keys_are_per_email_and_never_the_secrets(runtime: Runtime, writer: EventWriter) -> None:
    first = _sent(runtime, consenting=0, anonymous=1, prefix="first")
    second = _sent(runtime, consenting=0, anonymous=1, prefix="second")
    for sent in (first, second):
        writer.record_blocking(_click(sent, sent.anonymous[0], 1))
    keys = {_window(runtime, s.email_id).marker_key for s in (first, second)}
    assert len(keys) == 2
    secret = runtime.secret_key.encode()
    assert not any(secret in key or key in secret for key in keys if key)
    window = writer.windows.window(first.email_id)
    assert window is not None
    assert window.recipient_key(7) == window.recipient_key(7) != window.recipient_key(8)


def test_the_setting_decides_the_length(runtime: Runtime) -> None:
    short = Runtime(runtime.settings.model_copy(update={"counting_window_days": 2}))
    try:
        sent = _sent(short, consenting=0, anonymous=1, prefix="short")
        windows = CountingWindows(short.sessions, short.settings.counting_window_days)
        windows.prepare([_click(sent, sent.anonymous[0], 1)])
        window = windows.window(sent.email_id)
        with short.session() as session:
            started = session.scalars(
                select(Mailout.created_at).where(Mailout.email_id == sent.email_id)
            ).one()
        assert window is not None and window.closes_at == started + timedelta(days=2)
    finally:
        short.close()


def _brute_force(runtime: Runtime) -> set[tuple[int, int]]:
    """Every (delivery, email of the marker) any stored marker can be traced to, trying
    every delivery id with every key that still exists, the secret key and the key
    derived from it for tokens, in every way a marker was ever derived."""
    with runtime.session() as session:
        deliveries = list(session.scalars(select(Delivery.id)))
        markers = {
            bytes(key): email_id
            for key, email_id in session.execute(
                select(UniqueMarker.recipient_key, UniqueMarker.email_id)
            )
        }
        keys = [
            bytes(key)  # type: ignore[arg-type]
            for key in session.scalars(
                select(CountingWindow.marker_key).where(CountingWindow.marker_key.is_not(None))
            )
        ]
    secret = runtime.secret_key.encode()
    keys += [secret, hashlib.sha256(b"tidings-tokens:" + secret).digest()]
    found = set()
    for key in keys:
        for delivery in deliveries:
            for message in (delivery.to_bytes(8, "big"), b"k" + varint(delivery)):
                value = hmac.new(key, message, hashlib.sha256).digest()[:16]
                if value in markers:
                    found.add((delivery, markers[value]))
    return found


def _data_files(runtime: Runtime) -> bytes:
    folder = runtime.settings.resolved_data_dir()
    return b"".join(p.read_bytes() for p in sorted(Path(folder).iterdir()) if p.is_file())


def test_after_the_window_nothing_links_an_anonymous_interaction(
    runtime: Runtime, writer: EventWriter
) -> None:
    closing = _sent(runtime, consenting=1, anonymous=2, prefix="closing")
    still_open = _sent(runtime, consenting=0, anonymous=1, prefix="open")
    for sent in (closing, still_open):
        for delivery in sent.consenting + sent.anonymous:
            writer.record_blocking(_open(sent, delivery))
            writer.record_blocking(_click(sent, delivery, 1))
            writer.record_blocking(_click(sent, delivery, 2))
    with runtime.session() as session:
        closing_deliveries = set(
            session.scalars(select(Delivery.id).where(Delivery.email_id == closing.email_id))
        )
    key = _window(runtime, closing.email_id).marker_key
    assert key is not None
    # While the window is open, whoever holds the database can trace the markers:
    # the brute force finds every delivery of both emails (this is what it proves).
    traced = _brute_force(runtime)
    assert {d for d, _ in traced} >= closing_deliveries
    before = _counters(runtime, closing)

    _close(runtime, closing.email_id)
    registry.run(runtime, "privacy.close_counting_windows", {})

    assert _window(runtime, closing.email_id).marker_key is None
    assert _window(runtime, still_open.email_id).marker_key is not None
    traced = _brute_force(runtime)
    assert traced, "the email whose window is open keeps its markers"
    assert not {d for d, _ in traced} & closing_deliveries
    assert {email for _, email in traced} == {still_open.email_id}
    with runtime.session() as session:
        left = session.scalars(
            select(UniqueMarker.email_id).where(UniqueMarker.email_id == closing.email_id)
        ).all()
        assert left == []
        # What is left about the anonymous interactions holds no delivery, contact,
        # address or client detail: email, link, kind, time and the bot verdict.
        columns = {c["name"] for c in inspect(session.connection()).get_columns("tracking_events")}
        assert columns == {
            "id", "email_id", "link_id", "type", "occurred_at", "automated",
            "automated_reason", "identified",
        }  # fmt: skip
        contacts_with_activities = set(
            session.scalars(
                select(Activity.contact_id).where(Activity.email_id == closing.email_id)
            )
        )
    assert len(contacts_with_activities) == 1  # the consenting contact, by design (B1)
    # The figures stay as they were.
    assert _counters(runtime, closing) == before
    if runtime.is_sqlite:
        # Nor is the key, or any marker it made, readable in a file of the data
        # directory (secure_delete, and the log checkpointed away).
        files = _data_files(runtime)
        assert key not in files
        assert not any(
            hmac.new(key, d.to_bytes(8, "big"), hashlib.sha256).digest()[:16] in files
            for d in closing_deliveries
        )


def test_late_interactions_count_in_the_totals_only(runtime: Runtime) -> None:
    sent = _sent(runtime, consenting=1, anonymous=1, prefix="late")
    writer = EventWriter(runtime)
    writer.start()
    try:
        writer.record_blocking(_click(sent, sent.anonymous[0], 1))
    finally:
        writer.stop()
    _close(runtime, sent.email_id)
    registry.run(runtime, "privacy.close_counting_windows", {})
    # A writer that starts after the window closed, and one that knew the key before:
    # neither counts a new unique recipient.
    writer = EventWriter(runtime)
    writer.start()
    try:
        writer.record_blocking(_click(sent, sent.anonymous[0], 2))
        writer.record_blocking(_click(sent, sent.consenting[0], 1))
        writer.record_blocking(_open(sent, sent.consenting[0]))
    finally:
        writer.stop()
    counters = _counters(runtime, sent)
    assert counters["clicks_total"] == 3 and counters["clicks_unique"] == 1
    assert counters["clicks_identified"] == 1 and counters["clicks_anonymous"] == 2
    # One open inferred before the window closed, one pixel open after it; a late
    # click infers none (whether that recipient had opened is no longer known).
    assert counters["opens_total"] == 2 and counters["opens_unique"] == 1
    assert counters["link1"] == (2, 1, 0) and counters["link2"] == (1, 0, 0)
    # The consenting contact's late click and open are still activities (B1).
    assert sorted(t for t, _ in counters["activities"]) == ["email_click", "email_open"]
    with runtime.session() as session:
        assert session.scalars(select(UniqueMarker.email_id)).all() == []
        assert len(session.scalars(select(TrackingEvent.id)).all()) == 4


def test_a_writer_lets_go_of_a_key_once_the_window_closes(
    runtime: Runtime, writer: EventWriter
) -> None:
    sent: Sent = _sent(runtime, consenting=0, anonymous=1, prefix="forget")
    writer.record_blocking(_click(sent, sent.anonymous[0], 1))
    window = writer.windows.window(sent.email_id)
    assert window is not None and window.keyed is not None
    # Before any job has run: the next batch after the closing time drops the key.
    later = window.closes_at + timedelta(seconds=1)
    writer.windows.prepare([_click(sent, sent.anonymous[0], 1)], now=later)
    forgotten = writer.windows.window(sent.email_id)
    assert forgotten is not None and forgotten.keyed is None
    late = _click(sent, sent.anonymous[0], 2, occurred_at=later)
    assert writer.windows.recipient_keys([late]) == {}
