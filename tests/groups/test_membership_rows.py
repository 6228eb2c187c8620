"""Membership rows without foreign keys: erasing a contact or deleting a group removes
them explicitly, writers of the table are serialized on PostgreSQL, and an incremental
update of one contact stays within a few statements."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, inspect, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from tests.conditions.world import NOW, World
from tidings.conditions import dialect_of
from tidings.contacts.models import Contact
from tidings.db.base import utcnow
from tidings.groups import service
from tidings.groups.membership import rebuild, update_contacts
from tidings.groups.models import ContactGroup, GroupMember
from tidings.privacy.erasure import erase_contact
from tidings.privacy.retention import purge
from tidings.runtime import Runtime

EVERYONE: dict[str, Any] = {"all": []}


def rows_of_contact(session: Session, contact_id: int) -> list[int]:
    statement = select(GroupMember.group_id).where(GroupMember.contact_id == contact_id)
    return sorted(session.scalars(statement))


def test_group_members_have_no_foreign_keys(session: Session) -> None:
    assert inspect(session.connection()).get_foreign_keys("group_members") == []


def test_erasing_a_contact_removes_its_membership_rows(session: Session) -> None:
    w = World(session)
    listed = w.recipient_list()
    target, other = w.contact(), w.contact()
    w.subscribe(listed, target)
    w.subscribe(listed, other)
    everyone, _ = service.create(session=session, name="everyone", condition=EVERYONE)
    subscribers, _ = service.create(
        session=session, name="subscribers", condition={"type": "in_list", "list_id": listed}
    )
    assert rows_of_contact(session, target) == sorted([everyone.id, subscribers.id])

    erase_contact(session=session, contact_id=target)

    assert rows_of_contact(session, target) == []
    assert rows_of_contact(session, other) == sorted([everyone.id, subscribers.id])
    # No row points at a contact that does not exist.
    orphans = select(func.count()).where(GroupMember.contact_id.not_in(select(Contact.id)))
    assert session.scalar(orphans) == 0
    # Nothing brings the erased contact back.
    assert update_contacts(session, [target], now=NOW) == []
    assert rebuild(session, everyone, now=NOW).member_count == 1
    assert rows_of_contact(session, target) == []


def test_retention_purge_removes_membership_rows(session: Session) -> None:
    w = World(session)
    stale = w.contact()
    kept = w.contact()
    group, _ = service.create(session=session, name="everyone", condition=EVERYONE)
    now = utcnow()
    session.get_one(Contact, stale).updated_at = now - timedelta(days=400)
    session.flush()
    assert purge(session=session, now=now, inactive_contact_days=365).contacts_erased == 1
    assert rows_of_contact(session, stale) == []
    assert set(session.scalars(service.member_ids_select(group.id))) == {kept}


def test_deleting_a_group_removes_its_rows_only(session: Session) -> None:
    w = World(session)
    a, b = w.contact(), w.contact()
    first, _ = service.create(session=session, name="first", condition=EVERYONE)
    second, _ = service.create(session=session, name="second", condition=EVERYONE)
    service.delete(session=session, group=first)
    remaining = session.execute(select(GroupMember.group_id, GroupMember.contact_id)).all()
    assert sorted(remaining) == sorted([(second.id, a), (second.id, b)])


def test_rebuild_inserts_without_conflict_after_incremental_updates(session: Session) -> None:
    w = World(session)
    listed = w.recipient_list()
    early, late = w.contact(), w.contact()
    w.subscribe(listed, early)
    group, _ = service.create(
        session=session, name="g", condition={"type": "in_list", "list_id": listed}, now=NOW
    )
    w.subscribe(listed, late)
    # The incremental update adds `late`; the rebuild then finds nothing to insert.
    assert len(update_contacts(session, [late], now=NOW)) == 1
    result = rebuild(session, group, now=NOW)
    assert (result.added, result.removed, result.member_count) == (0, 0, 2)


@contextmanager
def statements(session: Session) -> Iterator[list[str]]:
    """The SQL statements ``session`` sends while the block runs."""
    seen: list[str] = []
    conn = session.connection()

    def record(*args: Any) -> None:
        seen.append(args[2])

    event.listen(conn, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(conn, "before_cursor_execute", record)


def test_one_contact_is_updated_in_few_statements(session: Session) -> None:
    w = World(session)
    listed = w.recipient_list()
    contact = w.contact()
    w.subscribe(listed, contact)
    clicked = {"type": "clicked_email", "url_contains": "/pricing", "within_days": 30}
    listed_group = {"type": "in_list", "list_id": listed}
    group_ids = [
        service.create(session=session, name=name, condition=condition, now=NOW)[0].id
        for name, condition in (("a", listed_group), ("b", clicked), ("c", {"not": clicked}))
    ]
    w.activity(contact, "email_click", value="https://x.test/pricing")
    with statements(session) as seen:
        changes = update_contacts(session, [contact], now=NOW)
    # Joins `b` and leaves `c`: the group list (with the locks on PostgreSQL), the
    # facts, then the changes of all groups: on PostgreSQL one statement, on SQLite
    # one INSERT and one DELETE.
    assert sorted(change.joined for change in changes) == [False, True]
    if dialect_of(session) == "postgresql":
        assert len(seen) == 3, seen
        assert seen[0].startswith("WITH locks") and seen[-1].startswith("WITH leaving")
    else:
        assert len(seen) == 4, seen
        assert seen[-2].startswith("INSERT") and seen[-1].startswith("DELETE")
    assert rows_of_contact(session, contact) == sorted(group_ids[:2])


# Advisory locks are PostgreSQL's; SQLite serializes writers with its database lock.
POSTGRESQL_ONLY = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


@POSTGRESQL_ONLY
def test_a_rebuild_holds_off_updates_and_erasure_until_it_commits(runtime: Runtime) -> None:
    with runtime.session() as session:
        w = World(session)
        listed = w.recipient_list()
        contact = w.contact()
        group, _ = service.create(
            session=session, name="g", condition={"type": "in_list", "list_id": listed}
        )
        group_id = group.id
        w.subscribe(listed, contact)

    rebuilding = runtime.sessions()
    try:
        result = rebuild(rebuilding, rebuilding.get_one(ContactGroup, group_id))
        assert result.added == 1
        for attempt in (
            lambda s: update_contacts(s, [contact]),
            lambda s: erase_contact(session=s, contact_id=contact),
            lambda s: service.delete(session=s, group=s.get_one(ContactGroup, group_id)),
        ):
            other = runtime.sessions()
            try:
                other.execute(text("SET LOCAL lock_timeout = '200ms'"))
                with pytest.raises(OperationalError, match="lock timeout"):
                    attempt(other)
            finally:
                other.rollback()
                other.close()
        rebuilding.commit()
    finally:
        rebuilding.close()

    # Once the rebuild committed, the update reads its result and has nothing to do.
    with runtime.session() as session:
        assert update_contacts(session, [contact]) == []
        assert rows_of_contact(session, contact) == [group_id]


@POSTGRESQL_ONLY
def test_an_update_in_progress_holds_off_a_rebuild(runtime: Runtime) -> None:
    with runtime.session() as session:
        contact = World(session).contact()
        group, _ = service.create(session=session, name="g", condition=EVERYONE)
        group_id = group.id
    updating = runtime.sessions()
    try:
        update_contacts(updating, [contact])
        other = runtime.sessions()
        try:
            other.execute(text("SET LOCAL lock_timeout = '200ms'"))
            with pytest.raises(OperationalError, match="lock timeout"):
                rebuild(other, other.get_one(ContactGroup, group_id))
        finally:
            other.rollback()
            other.close()
    finally:
        updating.rollback()
        updating.close()
