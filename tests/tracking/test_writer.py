"""The batching event writer: group commit, nothing lost, counts independent of how
events fall into batches (B1, B2, B6)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, select

from tests.support import world
from tidings.activities.models import Activity
from tidings.db.base import utcnow
from tidings.emails import service as emails
from tidings.events.listen import Listener
from tidings.jobs import pressure
from tidings.jobs.pressure import busy_file, saturated
from tidings.runtime import Runtime
from tidings.sending.models import Delivery
from tidings.sending.service import start_mailout
from tidings.stats.models import COUNTER_FIELDS, EmailStats, LinkStats
from tidings.tracking.apply import KnownMarkers
from tidings.tracking.events import CLICK, OPEN, TrackedEvent
from tidings.tracking.models import TrackingEvent, UniqueMarker
from tidings.tracking.writer import EventWriter, WriterUnavailable


@dataclass
class Sent:
    """One sent email: its deliveries by contact, its links by position."""

    email_id: int
    consenting: list[int]  # delivery ids of recipients who agreed to tracking
    anonymous: list[int]  # delivery ids of the others
    links: dict[int, tuple[int, str]]  # position -> (link id, url)


def _sent(runtime: Runtime, *, consenting: int, anonymous: int, prefix: str) -> Sent:
    with runtime.session() as session:
        w = world.build(session, consenting=consenting, anonymous=anonymous, prefix=prefix)
        mailout = start_mailout(session=session, email_id=w.email_id)
        by_contact = dict(
            session.execute(
                select(Delivery.contact_id, Delivery.id).where(Delivery.mailout_id == mailout.id)
            ).all()
        )
        links = {
            link.position: (link.id, link.url)
            for link in emails.links(session=session, email_id=w.email_id)
        }
    return Sent(
        email_id=w.email_id,
        consenting=[by_contact[c] for c in w.consenting],
        anonymous=[by_contact[c] for c in w.anonymous],
        links=links,
    )


def _click(sent: Sent, delivery_id: int, position: int, **kw: Any) -> TrackedEvent:
    link_id, url = sent.links[position]
    return TrackedEvent(
        kind=CLICK,
        delivery_id=delivery_id,
        email_id=sent.email_id,
        link_id=link_id,
        url=url,
        occurred_at=kw.pop("occurred_at", utcnow()),
        **kw,
    )


def _open(sent: Sent, delivery_id: int, **kw: Any) -> TrackedEvent:
    return TrackedEvent(
        kind=OPEN,
        delivery_id=delivery_id,
        email_id=sent.email_id,
        link_id=None,
        url=None,
        occurred_at=utcnow(),
        **kw,
    )


def _counters(runtime: Runtime, sent: Sent) -> dict[str, Any]:
    with runtime.session() as session:
        stats = session.get(EmailStats, sent.email_id)
        assert stats is not None
        result: dict[str, Any] = {name: getattr(stats, name) for name in COUNTER_FIELDS}
        for position, (link_id, _) in sent.links.items():
            link = session.get(LinkStats, link_id)
            assert link is not None
            result[f"link{position}"] = (
                link.clicks_total,
                link.clicks_unique,
                link.clicks_automated,
            )
        result["events"] = session.scalar(
            select(func.count())
            .select_from(TrackingEvent)
            .where(TrackingEvent.email_id == sent.email_id)
        )
        result["activities"] = sorted(
            (a.type, a.value or "")
            for a in session.scalars(select(Activity).where(Activity.email_id == sent.email_id))
        )
    return result


@pytest.fixture
def writer(runtime: Runtime) -> Iterator[EventWriter]:
    """An event writer on the test database (started by each test)."""
    event_writer = EventWriter(runtime)
    yield event_writer
    event_writer.stop()


def _scenario(sent: Sent) -> list[TrackedEvent]:
    """Repeated clicks by the same recipients, an open, a bot: counting edge cases."""
    a, b = sent.consenting[0], sent.anonymous[0]
    return [
        _open(sent, a),
        _click(sent, a, 1),
        _click(sent, a, 1),
        _click(sent, a, 3),  # same URL as position 1, another position
        _click(sent, b, 1),
        _click(sent, b, 1),
        _click(sent, b, 2),
        _click(sent, a, 2, automated=True, automated_reason="scanner_user_agent"),
        _open(sent, b, automated=True, automated_reason="scanner_user_agent"),
    ]


EXPECTED = {
    "opens_total": 2,  # a's pixel; b's first click implies an open (B6)
    "opens_unique": 2,
    "opens_automated": 1,
    "clicks_total": 6,
    "clicks_unique": 2,
    "clicks_identified": 3,
    "clicks_anonymous": 3,
    "clicks_automated": 1,
    "unsubscribes": 0,
    "complaints": 0,
    "link1": (4, 2, 0),
    "link2": (1, 1, 1),
    "link3": (1, 1, 0),
    "events": 9,
}


async def _record_all_in_one_batch(writer: EventWriter, events: list[TrackedEvent]) -> None:
    # Queue every event before the writer thread runs: they form one batch.
    tasks = [asyncio.ensure_future(writer.record(event)) for event in events]
    await asyncio.sleep(0)
    writer.start()
    await asyncio.gather(*tasks)


def test_repeated_clicks_in_one_batch_count_unique_recipients_once(
    runtime: Runtime, writer: EventWriter
) -> None:
    sent = _sent(runtime, consenting=1, anonymous=1, prefix="one")
    asyncio.run(_record_all_in_one_batch(writer, _scenario(sent)))
    assert (writer.batches, writer.events) == (1, 9)
    counters = _counters(runtime, sent)
    activities = counters.pop("activities")
    assert counters == EXPECTED
    pricing, blog = sent.links[1][1], sent.links[2][1]
    # Only the consenting recipient's human interactions became activities, with the
    # exact URL clicked (B1, B3); the click after the pixel open implies no new open.
    expected = [("email_open", ""), ("email_click", pricing), ("email_click", pricing)]
    expected.append(("email_click", sent.links[3][1]))
    assert activities == sorted(expected)
    assert blog not in {value for _, value in activities}


def test_counts_do_not_depend_on_batching(runtime: Runtime, writer: EventWriter) -> None:
    together = _sent(runtime, consenting=1, anonymous=1, prefix="together")
    apart = _sent(runtime, consenting=1, anonymous=1, prefix="apart")
    asyncio.run(_record_all_in_one_batch(writer, _scenario(together)))
    for event in _scenario(apart):
        writer.record_blocking(event)
    assert writer.batches == 1 + len(_scenario(apart))
    first, second = _counters(runtime, together), _counters(runtime, apart)
    assert [v for _, v in first.pop("activities")] == [v for _, v in second.pop("activities")]
    assert first == second == EXPECTED


def test_concurrent_records_are_group_committed_and_all_stored(
    runtime: Runtime, writer: EventWriter
) -> None:
    sent = _sent(runtime, consenting=5, anonymous=15, prefix="many")
    deliveries = sent.consenting + sent.anonymous
    # Each recipient clicks once per round, rounds ten seconds apart: people, not a
    # burst of every link (B7).
    base = utcnow()
    events = [
        _click(
            sent,
            deliveries[i % len(deliveries)],
            1 + i % 3,
            occurred_at=base + timedelta(seconds=10 * (i // len(deliveries))),
        )
        for i in range(600)
    ]
    writer.start()

    async def main() -> None:
        await asyncio.gather(*(writer.record(event) for event in events))

    asyncio.run(main())
    assert writer.events == 600
    assert writer.batches < 60, f"{writer.batches} commits for 600 concurrent events"
    counters = _counters(runtime, sent)
    assert counters["events"] == 600
    assert counters["clicks_total"] == 600
    assert counters["clicks_identified"] == sum(
        1 for i in range(600) if deliveries[i % len(deliveries)] in sent.consenting
    )
    assert counters["clicks_unique"] == 20
    assert counters["opens_total"] == counters["opens_unique"] == 20
    assert counters["link1"][0] + counters["link2"][0] + counters["link3"][0] == 600
    # position p is clicked by deliveries i % 20 with i % 3 == p - 1: all 20 each
    assert counters["link1"][1] == counters["link2"][1] == counters["link3"][1] == 20


def test_threads_recording_at_once(runtime: Runtime, writer: EventWriter) -> None:
    sent = _sent(runtime, consenting=2, anonymous=2, prefix="threads")
    deliveries = sent.consenting + sent.anonymous
    writer.start()
    errors: list[Exception] = []

    def click_many(delivery_id: int) -> None:
        try:
            for i in range(50):
                # Two links: clicking around, not a burst of every link (B7).
                writer.record_blocking(_click(sent, delivery_id, 1 + i % 2))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=click_many, args=(d,)) for d in deliveries * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    counters = _counters(runtime, sent)
    assert counters["events"] == counters["clicks_total"] == 400
    assert counters["clicks_unique"] == 4
    assert writer.batches < 400


def test_events_across_hours_fill_the_timeline(runtime: Runtime, writer: EventWriter) -> None:
    from tidings.stats.service import timeline

    sent = _sent(runtime, consenting=1, anonymous=0, prefix="time")
    now = utcnow().replace(minute=30)
    writer.start()
    for hours_ago in (0, 0, 2):
        writer.record_blocking(
            _click(sent, sent.consenting[0], 1, occurred_at=now - timedelta(hours=hours_ago))
        )
    with runtime.session() as session:
        buckets = timeline(session=session, email_id=sent.email_id)
    clicks = sorted((item.clicks for item in buckets if item.clicks), reverse=True)
    assert clicks == [2, 1]


def _refused(email_id: int, delivery_id: int) -> TrackedEvent:
    """An event the database refuses: an interaction of no kind (the events' ``type``
    is NOT NULL)."""
    return TrackedEvent(
        kind=None,  # type: ignore[arg-type]
        delivery_id=delivery_id,
        email_id=email_id,
        link_id=None,
        url=None,
        occurred_at=utcnow(),
    )


def test_a_failing_batch_reports_unavailable_and_stores_nothing(runtime: Runtime) -> None:
    sent = _sent(runtime, consenting=1, anonymous=0, prefix="fail")
    writer = EventWriter(runtime)
    writer.start()
    try:
        broken = _refused(sent.email_id, sent.consenting[0])
        with pytest.raises(WriterUnavailable):
            writer.record_blocking(broken, timeout=30)
        # The writer lives on and stores the next events.
        writer.record_blocking(_click(sent, sent.consenting[0], 1))
    finally:
        writer.stop()
    counters = _counters(runtime, sent)
    assert counters["events"] == 1 and counters["clicks_total"] == 1


def test_one_bad_event_does_not_fail_its_batch_mates(runtime: Runtime, writer: EventWriter) -> None:
    sent = _sent(runtime, consenting=1, anonymous=1, prefix="mates")
    broken = _refused(sent.email_id, sent.anonymous[0])
    good = [_click(sent, sent.consenting[0], 1), _click(sent, sent.anonymous[0], 2)]

    async def main() -> list[BaseException | None]:
        tasks = [asyncio.ensure_future(writer.record(e)) for e in [good[0], broken, good[1]]]
        await asyncio.sleep(0)
        writer.start()
        return list(await asyncio.gather(*tasks, return_exceptions=True))

    results = asyncio.run(main())
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], WriterUnavailable)
    counters = _counters(runtime, sent)
    assert counters["events"] == 2 and counters["clicks_total"] == 2


def test_stop_writes_what_is_queued(runtime: Runtime) -> None:
    sent = _sent(runtime, consenting=1, anonymous=0, prefix="stop")
    writer = EventWriter(runtime)
    results: list[BaseException | None] = []

    async def main() -> None:
        tasks = [
            asyncio.ensure_future(writer.record(_click(sent, sent.consenting[0], 1)))
            for _ in range(20)
        ]
        await asyncio.sleep(0)
        writer.start()
        await asyncio.to_thread(writer.stop)
        results.extend(await asyncio.gather(*tasks, return_exceptions=True))

    asyncio.run(main())
    assert results == [None] * 20
    assert _counters(runtime, sent)["events"] == 20


def test_markers_known_to_exist_are_not_inserted_again(
    runtime: Runtime, writer: EventWriter
) -> None:
    sent = _sent(runtime, consenting=0, anonymous=1, prefix="known")
    recipient = sent.anonymous[0]
    writer.start()
    writer.record_blocking(_click(sent, recipient, 1))
    assert len(writer.known_markers) == 3  # opened, clicked, clicked link 1
    # Markers are never deleted; were they, the writer would still take them as
    # there: the second click of the same link counts as a repeat, not a first.
    with runtime.session() as session:
        session.execute(delete(UniqueMarker).where(UniqueMarker.email_id == sent.email_id))
    writer.record_blocking(_click(sent, recipient, 1))
    counters = _counters(runtime, sent)
    assert (counters["clicks_total"], counters["clicks_unique"], counters["opens_unique"]) == (
        2,
        1,
        1,
    )
    assert counters["link1"] == (2, 1, 0)
    with runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(UniqueMarker)) == 0


def test_a_refused_batch_leaves_its_markers_unknown(runtime: Runtime, writer: EventWriter) -> None:
    sent = _sent(runtime, consenting=0, anonymous=2, prefix="unknown")
    good, refused = sent.anonymous
    events = [_click(sent, good, 1), _refused(sent.email_id, refused)]

    async def main() -> list[BaseException | None]:
        tasks = [asyncio.ensure_future(writer.record(e)) for e in events]
        await asyncio.sleep(0)
        writer.start()
        return list(await asyncio.gather(*tasks, return_exceptions=True))

    results = asyncio.run(main())
    assert results[0] is None and isinstance(results[1], WriterUnavailable)
    window = writer.windows.window(sent.email_id)
    assert window is not None
    key = window.recipient_key
    assert (sent.email_id, "o", 0, key(good)) in writer.known_markers
    # The refused event's open marker was inserted in a transaction that rolled back.
    assert (sent.email_id, "o", 0, key(refused)) not in writer.known_markers
    writer.record_blocking(_open(sent, refused))
    assert _counters(runtime, sent)["opens_unique"] == 2


def test_known_markers_forget_the_oldest_generation() -> None:
    known = KnownMarkers(limit=2)
    first = [(1, "o", 0, b"a" * 16), (1, "c", 0, b"a" * 16)]
    known.add_committed(first)
    known.add_committed([(1, "o", 0, b"b" * 16)])  # the current generation overflows
    assert all(marker in known for marker in first)
    known.add_committed([(1, "o", 0, b"c" * 16), (1, "o", 0, b"d" * 16), (1, "o", 0, b"e" * 16)])
    assert not any(marker in known for marker in first)
    assert (1, "o", 0, b"e" * 16) in known


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_batch_with_activities_wakes_every_listener(
    runtime: Runtime, writer: EventWriter
) -> None:
    """PostgreSQL: the batch's NOTIFY wakes dispatchers in other processes at its
    commit (SQLite's dispatchers look at the outbox instead: nothing to notify)."""
    sent = _sent(runtime, consenting=1, anonymous=1, prefix="notify")
    woken = threading.Event()
    listener = Listener(runtime.engine, woken.set)
    listener.start()
    try:
        assert woken.wait(5)  # listening (it wakes once when it starts)
        woken.clear()
        writer.start()

        async def record(event: TrackedEvent) -> None:
            await writer.record(event)

        asyncio.run(record(_click(sent, sent.anonymous[0], 1)))
        assert not woken.wait(0.5)  # no activity, no event, nothing to wake
        asyncio.run(record(_click(sent, sent.consenting[0], 1)))
        assert woken.wait(5)
    finally:
        listener.stop()


def test_a_busy_writer_marks_the_machine_busy(
    runtime: Runtime, writer: EventWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Clicks first (``jobs.pressure``): each batch's events count in the gauge."""
    mark = busy_file(runtime.settings.resolved_data_dir())
    assert writer.gauge.path == mark and not saturated(mark)
    sent = _sent(runtime, consenting=1, anonymous=0, prefix="busy")
    writer.start()
    writer.record_blocking(_click(sent, sent.consenting[0], 1))
    assert writer.gauge.marks == 0  # one click in a quarter second is no burst
    monkeypatch.setattr(pressure, "WINDOW", 0.0)
    monkeypatch.setattr(pressure, "RAISE_RATE", 0.0)  # any rate is a burst now
    monkeypatch.setattr(pressure, "BUSY_SHARE", 0.0)  # and any writing keeps it busy
    writer.record_blocking(_click(sent, sent.consenting[0], 2))
    deadline = time.monotonic() + 5  # counted right after the batch's waiters wake
    while writer.gauge.marks == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert writer.gauge.marks == 1 and saturated(mark)
