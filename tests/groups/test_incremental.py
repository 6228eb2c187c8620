"""Incremental membership updates: Python evaluation per contact, cascades, the hook and
the jobs through the real queue."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from tests.conditions.world import NOW, World
from tidings.activities.models import Activity
from tidings.db.base import utcnow
from tidings.groups import hooks, service
from tidings.groups.membership import MembershipChange, update_contacts
from tidings.groups.models import GroupMember
from tidings.jobs.queue import JobQueue
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
    session.execute(GroupMember.__table__.delete())  # type: ignore[attr-defined]
    update_contacts(session, ids, now=NOW)
    assert members(session, group.id) == from_sql == {ids[3], ids[6], ids[7]}


def _immediate(runtime: Runtime) -> None:
    runtime._queue = JobQueue(runtime, immediate=True)


def test_hook_updates_groups_through_the_queue_after_commit(runtime: Runtime) -> None:
    _immediate(runtime)
    with runtime.session() as session:
        w = World(session)
        clicker = w.contact()
        hot, _ = service.create(session=session, name="hot", condition=PRICING)
        hot_id = hot.id
    with runtime.session() as session:
        session.add(
            Activity(
                contact_id=clicker,
                type="email_click",
                value="https://x.test/pricing",
                occurred_at=utcnow(),
            )
        )
        hooks.contacts_changed(session, [clicker])
        # Not before the commit.
        assert members(session, hot_id) == set()
    with runtime.session() as session:
        assert members(session, hot_id) == {clicker}


def test_hook_enqueues_nothing_on_rollback(runtime: Runtime) -> None:
    _immediate(runtime)
    with runtime.session() as session:
        w = World(session)
        listed = w.recipient_list()
        contact = w.contact()
        group, _ = service.create(
            session=session, name="g", condition={"type": "in_list", "list_id": listed}
        )
        group_id = group.id
    with pytest.raises(RuntimeError), runtime.session() as session:
        World(session).subscribe(listed, contact)
        hooks.contacts_changed(session, [contact])
        raise RuntimeError("rolled back")
    with runtime.session() as session:
        assert members(session, group_id) == set()
        World(session).subscribe(listed, contact)
        hooks.contacts_changed(session, [contact])
    with runtime.session() as session:
        assert members(session, group_id) == {contact}


def test_hook_merges_one_transaction_into_one_job(runtime: Runtime) -> None:
    queue = JobQueue(runtime)  # the embedded queue, without a consumer
    runtime._queue = queue
    queue.huey.flush()
    with runtime.session() as session:
        hooks.contacts_changed(session, [1])  # no groups yet: nothing to do
    assert queue.pending() == 0
    with runtime.session() as session:
        w = World(session)
        listed = w.recipient_list()
        a, b = w.contact(), w.contact()
        group, _ = service.create(
            session=session, name="g", condition={"type": "in_list", "list_id": listed}
        )
        group_id = group.id
    with runtime.session() as session:
        World(session).subscribe(listed, a)
        World(session).subscribe(listed, b)
        hooks.contacts_changed(session, [b])
        hooks.contacts_changed(session, [a, b])
        assert queue.pending() == 0
    assert queue.pending() == 1
    task = queue.huey.dequeue()
    assert task.args[1] == {"contact_ids": sorted([a, b])}
    queue.huey.execute(task)
    with runtime.session() as session:
        assert members(session, group_id) == {a, b}


def test_many_contacts_rebuild_all_groups_instead(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    _immediate(runtime)
    monkeypatch.setattr(hooks, "BULK_THRESHOLD", 2)
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
    with runtime.session() as session:
        for cid in ids:
            World(session).subscribe(listed, cid)
        hooks.contacts_changed(session, ids)
    with runtime.session() as session:
        assert members(session, group_id) == set()
        rebuilt = service.get(session=session, group_id=group_id).last_rebuilt_at
        assert built is not None and rebuilt is not None and rebuilt > built
