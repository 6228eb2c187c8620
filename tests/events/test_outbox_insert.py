"""The outbox insert (the driver's own statement): data, times and order arrive as
published, on both databases, for one event and for a rebuild's worth."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.orm import Session

from tidings.db.base import utcnow
from tidings.db.session import TransactionScoped
from tidings.events import (
    Event,
    EventType,
    JsonValue,
    Subscriber,
    drain,
    publish,
    publish_many,
)
from tidings.events.publish import PENDING_KEY
from tidings.runtime import Runtime

ODD: dict[str, JsonValue] = {
    "contact_id": 7,
    "url": "https://é.example/p?a=\"'<>&b=%00\\",
    "nested": {"list": [1, 2.5, None, True, "ü"], "empty": {}},
}


def test_data_times_and_order_arrive_as_published(runtime: Runtime) -> None:
    got: list[Event] = []

    def handle(session: Session, events: Sequence[Event]) -> None:
        got.extend(events)

    subscriber = Subscriber("outbox-test", frozenset(EventType), handle, batch_size=10_000)
    before = utcnow()
    with runtime.session() as session:
        publish(session, EventType.ACTIVITY_CREATED, ODD)
        # A later time in the same transaction keeps its own value.
        TransactionScoped(session, PENDING_KEY).add(
            (EventType.CONTACT_CHANGED, before + timedelta(seconds=5), {"contact_id": 8})
        )
        publish_many(
            session,
            [(EventType.GROUP_JOINED, {"contact_id": n, "group_id": 1}) for n in range(3000)],
        )
    drain(runtime, [subscriber])
    assert len(got) == 3002
    assert got[0].type is EventType.ACTIVITY_CREATED and got[0].data == ODD
    assert got[1].data == {"contact_id": 8}
    assert got[1].occurred_at == before + timedelta(seconds=5)
    assert before <= got[0].occurred_at <= utcnow() and got[0].occurred_at.tzinfo is not None
    # Ids in publishing order.
    assert [e.data["contact_id"] for e in got[2:]] == list(range(3000))
    assert [e.id for e in got] == sorted(e.id for e in got)
