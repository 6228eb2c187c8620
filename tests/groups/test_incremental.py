"""Incremental membership updates: Python evaluation per contact, cascades, and the
groups subscriber of the event stream."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conditions.world import NOW, World
from tidings.activities.models import Activity
from tidings.db.base import utcnow
from tidings.events import Event, EventType, drain, publish
from tidings.events.models import OutboxEvent
from tidings.groups import events as group_events
from tidings.groups import service
from tidings.groups.membership import MembershipChange, update_contacts
from tidings.groups.models import GroupMember
from tidings.lists import service as lists
from tidings.runtime import Runtime

PRICING = {"type": "clicked_email", "url_contains": "/pricing", "within_days": 30}


def members(session: Session, group_id: int) -> set[int]:
    return set(session.scalars(service.member_ids_select(group_id)))


def test_update_contacts_joins_leaves_and_cascades(session: Session) -> None:
    w = World(session)
    listed = w.recipient_list()
    clicker, other = w.contact(), w.contact()
    w.subscribe(listed, other)
    hot, _ = service.create(session=session, name="hot", condition=PRICING, now=NOW)
    # Depends on `hot`, through `not`, and on a list.
    cold, _ = service.create(
        session=session,
        name="cold",
        condition={
            "all": [
                {"not": {"type": "in_group", "group_id": hot.id}},
                {"type": "in_list", "list_id": listed},
            ]
        },
        now=NOW,
    )
    w.subscribe(listed, clicker)
    assert members(session, hot.id) == set()
    assert members(session, cold.id) == {other}

    w.activity(clicker, "email_click", value="https://x.test/pricing")
    changes = update_contacts(session, [clicker, other, 10**9], now=NOW)
    # `hot` comes first; `cold` sees the new membership in the same pass.
    assert changes == [MembershipChange(hot.id, clicker, True)]
    assert members(session, hot.id) == {clicker}
    assert members(session, cold.id) == {other}

    # Thirty-one days later the click is out of the window: clicker leaves `hot` and,
    # through the cascade, joins `cold`.
    later = NOW + timedelta(days=31)
    changes = update_contacts(session, [clicker], now=later)
    assert changes == [
        MembershipChange(hot.id, clicker, False),
        MembershipChange(cold.id, clicker, True),
    ]
    assert members(session, cold.id) == {other, clicker}
    # Nothing changes twice.
    assert update_contacts(session, [clicker], now=later) == []


def test_incremental_and_full_rebuild_agree(session: Session) -> None:
    w = World(session)
    listed = w.recipient_list()
    mail = w.email()
    ids = [w.contact(fields={"score": n}) for n in range(8)]
    for n, cid in enumerate(ids):
        if n % 2:
            w.subscribe(listed, cid)
        if n % 3 == 0:
            w.activity(cid, "email_open", email_id=mail, ago=timedelta(days=n))
    condition = {
        "any": [
            {"all": [{"type": "in_list", "list_id": listed}, {"type": "opened_email"}]},
            {"type": "field", "field": "score", "op": "gt", "value": 5},
        ]
    }
    group, _ = service.create(session=session, name="g", condition=condition, now=NOW)
    from_sql = members(session, group.id)
    session.execute(GroupMember.__table__.delete())
    update_contacts(session, ids, now=NOW)
    assert members(session, group.id) == from_sql == {ids[3], ids[6], ids[7]}


def joined_and_left(session: Session) -> list[tuple[str, object, object]]:
    rows = session.scalars(
        select(OutboxEvent)
        .where(OutboxEvent.type.in_(["group.joined", "group.left"]))
        .order_by(OutboxEvent.id)
    )
    return [(r.type, r.data["contact_id"], r.data["group_id"]) for r in rows]


def test_an_activity_event_updates_groups_after_commit(runtime: Runtime) -> None:
    with runtime.session() as session:
        w = World(session)
        clicker = w.contact()
        hot, _ = service.create(session=session, name="hot", condition=PRICING)
        hot_id = hot.id
    drain(runtime, [group_events.SUBSCRIBER])
    with runtime.session() as session:
        activity = Activity(
            contact_id=clicker,
            type="email_click",
            value="https://x.test/pricing",
            occurred_at=utcnow(),
        )
        session.add(activity)
        session.flush()
        publish(session, EventType.ACTIVITY_CREATED, {"contact_id": clicker})
    with runtime.session() as session:
        # Not before the event is delivered.
        assert members(session, hot_id) == set()
    drain(runtime, [group_events.SUBSCRIBER])
    with runtime.session() as session:
        assert members(session, hot_id) == {clicker}
        assert joined_and_left(session) == [("group.joined", clicker, hot_id)]


def test_a_rolled_back_change_reaches_no_group(runtime: Runtime) -> None:
    with runtime.session() as session:
        w = World(session)
        listed = w.recipient_list()
        contact = w.contact()
        group, _ = service.create(
            session=session, name="g", condition={"type": "in_list", "list_id": listed}
        )
        group_id = group.id
    drain(runtime, [group_events.SUBSCRIBER])
    with pytest.raises(RuntimeError), runtime.session() as session:
        lists.subscribe(session=session, list_id=listed, contact_id=contact)
        raise RuntimeError("rolled back")
    drain(runtime, [group_events.SUBSCRIBER])
    with runtime.session() as session:
        assert members(session, group_id) == set()
        lists.subscribe(session=session, list_id=listed, contact_id=contact)
    drain(runtime, [group_events.SUBSCRIBER])
    with runtime.session() as session:
        assert members(session, group_id) == {contact}
        lists.unsubscribe(session=session, list_id=listed, contact_id=contact)
    drain(runtime, [group_events.SUBSCRIBER])
    with runtime.session() as session:
        assert members(session, group_id) == set()
        assert joined_and_left(session) == [
            ("group.joined", contact, group_id),
            ("group.left", contact, group_id),
        ]


def test_one_batch_updates_each_contact_once(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[list[int]] = []
    real = group_events.membership.update_contacts

    def counting(session: Session, ids: Sequence[int], **kw: object) -> object:
        seen.append(list(ids))
        return real(session, ids)

    monkeypatch.setattr(group_events.membership, "update_contacts", counting)
    with runtime.session() as session:
        w = World(session)
        listed = w.recipient_list()
        a, b = w.contact(), w.contact()
        group, _ = service.create(
            session=session, name="g", condition={"type": "in_list", "list_id": listed}
        )
        group_id = group.id
    drain(runtime, [group_events.SUBSCRIBER])
    seen.clear()
    with runtime.session() as session:
        lists.subscribe(session=session, list_id=listed, contact_id=a)
        lists.subscribe(session=session, list_id=listed, contact_id=b)
        publish(session, EventType.CONTACT_CHANGED, {"contact_id": b})
    drain(runtime, [group_events.SUBSCRIBER])
    assert seen == [sorted([a, b])]
    with runtime.session() as session:
        assert members(session, group_id) == {a, b}


def test_no_groups_no_work() -> None:
    events = [Event(1, EventType.CONTACT_CHANGED, utcnow(), {"contact_id": 3})]
    assert group_events.contacts_of(events) == [3]


def test_many_contacts_rebuild_all_groups_instead(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(group_events, "BULK_THRESHOLD", 2)
    with runtime.session() as session:
        w = World(session)
        listed = w.recipient_list()
        ids = [w.contact() for _ in range(3)]
        group, _ = service.create(
            session=session, name="g", condition={"not": {"type": "in_list", "list_id": listed}}
        )
        group_id = group.id
        built = group.last_rebuilt_at
        assert members(session, group_id) == set(ids)
    drain(runtime, [group_events.SUBSCRIBER])
    with runtime.session() as session:
        for cid in ids:
            lists.subscribe(session=session, list_id=listed, contact_id=cid)
    drain(runtime, [group_events.SUBSCRIBER])
    with runtime.session() as session:
        assert members(session, group_id) == set()
        rebuilt = service.get(session=session, group_id=group_id).last_rebuilt_at
        assert built is not None and rebuilt is not None and rebuilt > built
