"""Full rebuilds publish who joined and who left, like incremental updates do."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from tests.conditions.world import World
from tidings.contacts.models import Contact
from tidings.events import Event, EventType, Subscriber, drain
from tidings.events.models import OutboxEvent
from tidings.groups import events as group_events
from tidings.groups import membership, service
from tidings.jobs import registry
from tidings.lists.models import Subscription
from tidings.privacy.erasure import erase_contact
from tidings.runtime import Runtime

MOVES = frozenset({EventType.GROUP_JOINED, EventType.GROUP_LEFT})


class Moves:
    """A subscriber of the stream that keeps the membership events it receives."""

    def __init__(self) -> None:
        self.got: list[tuple[str, int, int]] = []
        self.subscriber = Subscriber(name="test-moves", types=MOVES, handle=self.handle)

    def handle(self, session: Session, events: Sequence[Event]) -> None:
        for event in events:
            contact, group = event.data["contact_id"], event.data["group_id"]
            assert isinstance(contact, int) and isinstance(group, int)
            self.got.append((str(event.type), group, contact))

    def take(self, runtime: Runtime) -> set[tuple[str, int, int]]:
        # The groups' hand-out of rebuild moves, then this subscriber.
        drain(runtime, [group_events.MOVES_SUBSCRIBER, self.subscriber])
        got, self.got = set(self.got), []
        return got


def test_rebuild_all_publishes_joins_and_leaves_after_commit(runtime: Runtime) -> None:
    import tidings.groups.jobs  # noqa: F401 - registers the groups' jobs

    moves = Moves()
    with runtime.session() as session:
        w = World(session)
        listed = w.recipient_list()
        a, b, c = w.contact(), w.contact(), w.contact()
        w.subscribe(listed, a)
        w.subscribe(listed, b)
        in_list, _ = service.create(
            session=session, name="in list", condition={"type": "in_list", "list_id": listed}
        )
        outside, _ = service.create(
            session=session,
            name="outside",
            condition={"not": {"type": "in_group", "group_id": in_list.id}},
        )
        g, o = in_list.id, outside.id
    joined, left = EventType.GROUP_JOINED.value, EventType.GROUP_LEFT.value
    # Creating a group fills it: its first members are joins too.
    assert moves.take(runtime) == {(joined, g, a), (joined, g, b), (joined, o, c)}

    # Changed behind the incremental path's back (rows written directly, no event):
    # only a rebuild can see it.
    with runtime.session() as session:
        session.execute(
            update(Subscription).where(Subscription.contact_id == b).values(status="unsubscribed")
        )
        World(session).subscribe(listed, c)
    assert moves.take(runtime) == set()

    # A rebuild that rolls back publishes nothing.
    with pytest.raises(RuntimeError), runtime.session() as session:
        membership.rebuild_all(session)
        raise RuntimeError("rolled back")
    assert moves.take(runtime) == set()

    registry.run(runtime, "groups.rebuild_all", {})
    assert moves.take(runtime) == {
        (left, g, b),
        (joined, g, c),
        (joined, o, b),  # the dependent group, rebuilt after the one it refers to
        (left, o, c),
    }
    # Nothing moved since: a second rebuild publishes nothing.
    registry.run(runtime, "groups.rebuild_all", {})
    assert moves.take(runtime) == set()


def test_rebuilding_one_group_publishes_its_moves_and_its_dependents(runtime: Runtime) -> None:
    moves = Moves()
    with runtime.session() as session:
        w = World(session)
        listed = w.recipient_list()
        a, b = w.contact(), w.contact()
        w.subscribe(listed, a)
        group, _ = service.create(
            session=session, name="g", condition={"type": "in_list", "list_id": listed}
        )
        group_id = group.id
    moves.take(runtime)
    with runtime.session() as session:
        session.execute(update(Subscription).values(status="unsubscribed"))
        World(session).subscribe(listed, b)
    with runtime.session() as session:
        result = membership.rebuild_with_dependents(
            session, service.get(session=session, group_id=group_id)
        )
        assert (result.added, result.removed, result.member_count) == (1, 1, 1)
    assert moves.take(runtime) == {
        (EventType.GROUP_LEFT.value, group_id, a),
        (EventType.GROUP_JOINED.value, group_id, b),
    }


def test_the_update_job_publishes_its_moves(runtime: Runtime) -> None:
    import tidings.groups.jobs  # noqa: F401 - registers the groups' jobs

    moves = Moves()
    with runtime.session() as session:
        w = World(session)
        listed = w.recipient_list()
        a = w.contact()
        group, _ = service.create(
            session=session, name="g", condition={"type": "in_list", "list_id": listed}
        )
        group_id = group.id
        w.subscribe(listed, a)  # no event: only a job run for `a` finds it
    assert moves.take(runtime) == set()
    registry.run(runtime, "groups.update_contacts", {"contact_ids": [a]})
    assert moves.take(runtime) == {(EventType.GROUP_JOINED.value, group_id, a)}


def test_a_large_rebuild_writes_few_outbox_rows_and_hands_out_every_move(
    runtime: Runtime,
) -> None:
    moves = Moves()
    with runtime.session() as session:
        session.execute(
            insert(Contact), [{"email": f"m{n}@example.test", "fields": {}} for n in range(2500)]
        )
        erased = session.scalars(select(Contact.id).order_by(Contact.id)).first()
        top = session.scalar(select(func.max(OutboxEvent.id))) or 0
        group, result = service.create(session=session, name="all", condition={"all": []})
        assert result.added == 2500
        group_id = group.id
    with runtime.session() as session:
        rows = session.scalars(select(OutboxEvent.type).where(OutboxEvent.id > top)).all()
        assert rows == ["group.moves"] * 3  # 1,000 contacts an event
        # Erased after the rebuild, before the hand-out: left out.
        assert erased is not None
        erase_contact(session=session, contact_id=erased)
    got = moves.take(runtime)
    assert len(got) == 2499
    assert {kind for kind, _, _ in got} == {EventType.GROUP_JOINED.value}
    assert {group for _, group, _ in got} == {group_id}
    assert erased not in {contact for _, _, contact in got}
