"""The event stream: outbox rows only on commit, delivery in order, exactly once per
subscriber, failures retried, cleanup, and the dispatcher thread's wake-up."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from tidings.config import Settings
from tidings.db.base import utcnow
from tidings.events import Event, EventType, Subscriber, dispatch, drain, publish, publish_many
from tidings.events.models import OutboxEvent, SubscriberCursor
from tidings.runtime import Runtime


class Recorder:
    """A subscriber that records what it got (and can be told to fail)."""

    def __init__(self, name: str, types: set[EventType], batch_size: int = 500) -> None:
        self.got: list[Event] = []
        self.fail = False
        self.arrived = threading.Event()
        self.subscriber = Subscriber(
            name=name, types=frozenset(types), handle=self.handle, batch_size=batch_size
        )

    def handle(self, session: Session, events: Sequence[Event]) -> None:
        if self.fail:
            raise RuntimeError("handler failed")
        self.got.extend(events)
        self.arrived.set()


def test_published_only_on_commit_and_in_order(runtime: Runtime) -> None:
    rec = Recorder("rec", {EventType.CONTACT_CREATED, EventType.CONTACT_CHANGED})
    with pytest.raises(RuntimeError), runtime.session() as session:
        publish(session, EventType.CONTACT_CREATED, {"contact_id": 1})
        raise RuntimeError("rolled back")
    with runtime.session() as session:
        publish(session, EventType.CONTACT_CREATED, {"contact_id": 2})
        publish_many(
            session,
            [
                (EventType.CONTACT_CHANGED, {"contact_id": 2}),
                (EventType.GROUP_JOINED, {"contact_id": 2, "group_id": 1}),
            ],
        )
        assert session.scalar(select(func.count()).select_from(OutboxEvent)) == 0
    assert drain(runtime, [rec.subscriber]) == 2
    assert [(e.type, e.data["contact_id"]) for e in rec.got] == [
        (EventType.CONTACT_CREATED, 2),
        (EventType.CONTACT_CHANGED, 2),
    ]
    assert rec.got[0].id < rec.got[1].id
    assert rec.got[0].occurred_at.tzinfo is not None
    # Exactly once: nothing more the second time.
    assert drain(runtime, [rec.subscriber]) == 0


def test_data_must_be_json_safe(runtime: Runtime) -> None:
    with runtime.session() as session, pytest.raises(TypeError, match=r"data\.at"):
        publish(session, EventType.CONTACT_CHANGED, {"at": utcnow()})  # type: ignore[dict-item]


def test_batches_and_a_failing_subscriber_does_not_stop_the_others(runtime: Runtime) -> None:
    good = Recorder("good", {EventType.CONTACT_CHANGED}, batch_size=3)
    bad = Recorder("bad", {EventType.CONTACT_CHANGED})
    bad.fail = True
    with runtime.session() as session:
        publish_many(session, [(EventType.CONTACT_CHANGED, {"contact_id": n}) for n in range(7)])
    dispatch.deliver_pending(runtime, [bad.subscriber, good.subscriber])
    assert [e.data["contact_id"] for e in good.got] == list(range(7))
    with runtime.session() as session:
        cursor = session.get(SubscriberCursor, "bad")
        assert cursor is not None and cursor.position == 0 and cursor.failures == 1
        assert cursor.retry_at is not None and "handler failed" in (cursor.last_error or "")
    # Waiting for its retry: a pass leaves it alone.
    assert dispatch.deliver_pending(runtime, [bad.subscriber]) == 0
    bad.fail = False
    assert drain(runtime, [bad.subscriber]) == 7
    with runtime.session() as session:
        cursor = session.get(SubscriberCursor, "bad")
        assert cursor is not None and cursor.failures == 0 and cursor.last_error is None


def test_drain_raises_a_handlers_error(runtime: Runtime) -> None:
    bad = Recorder("bad", {EventType.CONTACT_CHANGED})
    bad.fail = True
    with runtime.session() as session:
        publish(session, EventType.CONTACT_CHANGED, {"contact_id": 1})
    with pytest.raises(dispatch.HandlerFailed):
        drain(runtime, [bad.subscriber])


def test_a_handler_rolls_back_with_its_cursor(runtime: Runtime) -> None:
    """A handler's writes and the cursor move commit together, or neither does."""
    calls: list[int] = []

    def handle(session: Session, events: Sequence[Event]) -> None:
        calls.append(len(events))
        publish(session, EventType.GROUP_JOINED, {"contact_id": 1, "group_id": 1})
        if len(calls) == 1:
            raise RuntimeError("first try fails after publishing")

    sub = Subscriber("chain", frozenset({EventType.CONTACT_CHANGED}), handle)
    follower = Recorder("follower", {EventType.GROUP_JOINED})
    with runtime.session() as session:
        publish(session, EventType.CONTACT_CHANGED, {"contact_id": 1})
    dispatch.deliver_pending(runtime, [sub, follower.subscriber])
    assert follower.got == []
    drain(runtime, [sub, follower.subscriber])
    assert calls == [1, 1]
    # The event the failed try published was rolled back with it: one, not two.
    assert len(follower.got) == 1


def test_cleanup_keeps_a_day_and_what_someone_has_not_passed(runtime: Runtime) -> None:
    a = Recorder("a", {EventType.CONTACT_CHANGED})
    b = Recorder("b", {EventType.CONTACT_CREATED})
    with runtime.session() as session:
        publish_many(session, [(EventType.CONTACT_CHANGED, {"contact_id": n}) for n in range(3)])
    drain(runtime, [a.subscriber])
    assert dispatch.cleanup(runtime, [a.subscriber, b.subscriber], keep=timedelta(0)) == 0
    drain(runtime, [a.subscriber, b.subscriber])
    assert dispatch.cleanup(runtime, [a.subscriber, b.subscriber]) == 0  # younger than a day
    with runtime.session() as session:
        session.execute(update(OutboxEvent).values(occurred_at=utcnow() - timedelta(days=2)))
    assert dispatch.cleanup(runtime, [a.subscriber, b.subscriber]) == 3
    # Ids keep growing after the table was emptied.
    with runtime.session() as session:
        publish(session, EventType.CONTACT_CHANGED, {"contact_id": 9})
    drain(runtime, [a.subscriber])
    assert a.got[-1].id > a.got[-2].id


def test_the_dispatcher_thread_delivers_right_after_commit(runtime: Runtime) -> None:
    rec = Recorder("live", {EventType.CONTACT_CHANGED})
    with dispatch.dispatching(runtime, [rec.subscriber]) as loop:
        loop.period = 30.0  # only the wake-up can deliver in time
        time.sleep(0.2)  # the start-up pass
        with runtime.session() as session:
            publish(session, EventType.CONTACT_CHANGED, {"contact_id": 5})
        committed = time.monotonic()
        assert rec.arrived.wait(5)
        elapsed = time.monotonic() - committed
    assert [e.data for e in rec.got] == [{"contact_id": 5}]
    assert elapsed < 0.5, elapsed


def test_a_commit_in_another_process_wakes_the_dispatcher(
    runtime: Runtime, settings: Settings
) -> None:
    """PostgreSQL: NOTIFY at the commit; SQLite: the loop's look at the outbox."""
    rec = Recorder("elsewhere", {EventType.CONTACT_CHANGED})
    other = Runtime(settings)  # stands for another process: its wake-up reaches no loop here
    dispatch.registry_of(other).enqueue_wakeups = False
    try:
        with dispatch.dispatching(runtime, [rec.subscriber]) as loop:
            loop.period = 30.0
            if runtime.engine.dialect.name == "postgresql":
                loop.peek = 30.0  # only the notification can deliver in time
            time.sleep(0.3)  # the start-up pass, and the listener's connection
            with other.session() as session:
                publish(session, EventType.CONTACT_CHANGED, {"contact_id": 6})
            committed = time.monotonic()
            assert rec.arrived.wait(5)
            elapsed = time.monotonic() - committed
    finally:
        other.close()
    assert [e.data for e in rec.got] == [{"contact_id": 6}]
    assert elapsed < 0.5, elapsed


def test_two_dispatchers_never_deliver_an_event_twice(runtime: Runtime) -> None:
    seen: list[int] = []
    lock = threading.Lock()

    def handle(session: Session, events: Sequence[Event]) -> None:
        time.sleep(0.01)
        with lock:
            seen.extend(e.id for e in events)

    sub = Subscriber("once", frozenset({EventType.CONTACT_CHANGED}), handle, batch_size=5)
    with runtime.session() as session:
        publish_many(session, [(EventType.CONTACT_CHANGED, {"contact_id": n}) for n in range(60)])
    threads = [
        threading.Thread(target=dispatch.deliver_pending, args=(runtime, [sub])) for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 60 and len(set(seen)) == 60
