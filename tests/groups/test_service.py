"""Contact groups: create, rename, edit, delete, references and cycles, full rebuilds."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tests.conditions.world import NOW, World
from tidings.contacts.models import Contact
from tidings.errors import Conflict, Invalid
from tidings.groups import service
from tidings.groups.membership import member_count, rebuild, rebuild_all
from tidings.groups.models import ContactGroup, GroupMember
from tidings.lists.models import Subscription


def members(session: Session, group_id: int) -> set[int]:
    return set(session.scalars(service.member_ids_select(group_id)))


def in_list(list_id: int) -> dict[str, object]:
    return {"type": "in_list", "list_id": list_id}


def in_group(group_id: int) -> dict[str, object]:
    return {"type": "in_group", "group_id": group_id}


def test_create_fills_the_group_and_normalizes_the_condition(session: Session) -> None:
    w = World(session)
    listed = w.recipient_list()
    a, b, _ = w.contact(), w.contact(), w.contact()
    w.subscribe(listed, a)
    w.subscribe(listed, b)
    condition = {"all": [{"type": "in_list", "list_id": listed, "extra": None}]}
    with pytest.raises(Invalid, match=r"condition.all\[0\].extra: unknown key"):
        service.create(session=session, name="Subscribers", condition=condition)
    condition = {"all": [{"list_id": listed, "type": "in_list"}]}
    group, result = service.create(session=session, name="  Subscribers ", condition=condition)
    assert group.name == "Subscribers"
    assert group.condition == {"all": [in_list(listed)]}
    assert (result.added, result.removed, result.member_count) == (2, 0, 2)
    assert members(session, group.id) == {a, b}
    assert group.last_rebuilt_at is not None
    assert member_count(session, group.id) == 2


def test_names_are_required_and_unique(session: Session) -> None:
    service.create(session=session, name="VIP", condition={"all": []})
    with pytest.raises(Conflict):
        service.create(session=session, name="VIP", condition={"all": []})
    with pytest.raises(Invalid, match="name"):
        service.create(session=session, name="  ", condition={"all": []})
    other, _ = service.create(session=session, name="Other", condition={"all": []})
    with pytest.raises(Conflict):
        service.rename(session=session, group=other, name="VIP")
    service.rename(session=session, group=other, name="Renamed")
    assert service.get(session=session, group_id=other.id).name == "Renamed"


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        (
            {"all": [{"type": "in_list", "list_id": 999}]},
            "condition.all[0].list_id: recipient list",
        ),
        ({"not": {"type": "in_group", "group_id": 999}}, "condition.not.group_id: contact group"),
        ({"type": "received_email", "email_id": 999}, "condition.email_id: email 999"),
        ({"type": "consent", "code_name": "nope"}, "condition.code_name: consent 'nope'"),
        ({"type": "clicked_email", "within_days": -1}, "condition.within_days: must be"),
    ],
)
def test_bad_conditions_are_refused_with_their_path(
    session: Session, condition: dict[str, object], message: str
) -> None:
    with pytest.raises(Invalid) as error:
        service.create(session=session, name="G", condition=condition)
    assert str(error.value.detail).startswith(message)
    with pytest.raises(Invalid):
        service.preview_count(session=session, condition=condition)
    assert session.scalar(select(ContactGroup.id)) is None


def test_self_reference_and_cycles_are_refused(session: Session) -> None:
    a, _ = service.create(session=session, name="A", condition={"all": []})
    b, _ = service.create(session=session, name="B", condition=in_group(a.id))
    c, _ = service.create(session=session, name="C", condition={"not": in_group(b.id)})
    with pytest.raises(Invalid, match=r"condition.group_id: a group cannot refer to itself"):
        service.edit_condition(session=session, group=a, condition=in_group(a.id))
    with pytest.raises(Invalid) as error:
        service.edit_condition(
            session=session, group=a, condition={"any": [{"all": []}, in_group(c.id)]}
        )
    assert str(error.value.detail) == (
        f"condition.any[1].group_id: would make a cycle of groups "
        f"({a.id} -> {c.id} -> {b.id} -> {a.id})"
    )
    # Nothing changed.
    assert service.get(session=session, group_id=a.id).condition == {"all": []}


def test_delete_is_refused_while_used_and_removes_members(session: Session) -> None:
    w = World(session)
    contact = w.contact()
    a, _ = service.create(session=session, name="A", condition={"all": []})
    b, _ = service.create(session=session, name="B", condition=in_group(a.id))
    assert members(session, b.id) == {contact}
    with pytest.raises(Conflict, match=f"used by the conditions of groups {b.id} "):
        service.delete(session=session, group=a)
    service.delete(session=session, group=b)
    service.delete(session=session, group=a)
    assert session.scalar(select(GroupMember.contact_id)) is None


def test_rebuild_is_a_diff_that_leaves_staying_members_untouched(session: Session) -> None:
    w = World(session)
    listed = w.recipient_list()
    stay, leave, join = w.contact(), w.contact(), w.contact()
    w.subscribe(listed, stay)
    w.subscribe(listed, leave)
    group, _ = service.create(session=session, name="G", condition=in_list(listed), now=NOW)
    before = {
        row.contact_id: row.added_at
        for row in session.scalars(select(GroupMember).where(GroupMember.group_id == group.id))
    }
    w.subscribe(listed, join)
    session.execute(
        update(Subscription).where(Subscription.contact_id == leave).values(status="unsubscribed")
    )
    later = NOW + timedelta(hours=1)
    result = rebuild(session, group, now=later)
    assert (result.added, result.removed, result.member_count) == (1, 1, 2)
    session.expire_all()
    after = {
        row.contact_id: row.added_at
        for row in session.scalars(select(GroupMember).where(GroupMember.group_id == group.id))
    }
    assert set(after) == {stay, join}
    assert after[stay] == before[stay]  # untouched row
    assert after[join] == later
    again = rebuild(session, group, now=later)
    assert (again.added, again.removed) == (0, 0)


def test_editing_a_condition_rebuilds_dependents(session: Session) -> None:
    w = World(session)
    first, second = w.recipient_list("first"), w.recipient_list("second")
    x, y = w.contact(), w.contact()
    w.subscribe(first, x)
    w.subscribe(second, y)
    base, _ = service.create(session=session, name="base", condition=in_list(first))
    derived, _ = service.create(session=session, name="derived", condition=in_group(base.id))
    outside, _ = service.create(
        session=session, name="outside", condition={"not": in_group(derived.id)}
    )
    assert members(session, derived.id) == {x}
    assert members(session, outside.id) == {y}
    service.edit_condition(session=session, group=base, condition=in_list(second))
    assert members(session, base.id) == {y}
    assert members(session, derived.id) == {y}
    assert members(session, outside.id) == {x}


def test_rebuild_all_goes_in_dependency_order(session: Session) -> None:
    w = World(session)
    listed = w.recipient_list()
    x = w.contact()
    # Created in reverse order of dependency, with stored conditions set directly.
    top = w.group("top")
    middle = w.group("middle")
    bottom = w.group("bottom")
    session.execute(
        update(ContactGroup).where(ContactGroup.id == top).values(condition=in_group(middle))
    )
    session.execute(
        update(ContactGroup).where(ContactGroup.id == middle).values(condition=in_group(bottom))
    )
    session.execute(
        update(ContactGroup).where(ContactGroup.id == bottom).values(condition=in_list(listed))
    )
    w.subscribe(listed, x)
    session.expire_all()
    results = rebuild_all(session, now=NOW)
    assert [r.group_id for r in results] == [bottom, middle, top]
    assert members(session, top) == {x}


def test_preview_counts_without_saving(session: Session) -> None:
    w = World(session)
    listed = w.recipient_list()
    for _ in range(3):
        w.subscribe(listed, w.contact())
    w.contact()
    assert service.preview_count(session=session, condition=in_list(listed)) == 3
    assert service.preview_count(session=session, condition={"not": in_list(listed)}) == 1
    assert session.scalar(select(ContactGroup.id)) is None


def test_member_filters_for_mailouts(session: Session) -> None:
    w = World(session)
    a, b, c = w.contact(), w.contact(), w.contact()
    group = w.group("g")
    w.member(group, a)
    w.member(group, b)
    included = set(
        session.scalars(select(Contact.id).where(Contact.id.in_(service.member_ids_select(group))))
    )
    excluded = set(session.scalars(select(Contact.id).where(~service.is_member(group, Contact.id))))  # type: ignore[arg-type]
    assert included == {a, b}
    assert excluded == {c}
    assert [g.id for g in service.groups_of_contact(session=session, contact_id=a)] == [group]


def test_members_page_uses_keyset_pagination(session: Session) -> None:
    w = World(session)
    group = w.group("g")
    ids = [w.contact() for _ in range(5)]
    for cid in ids:
        w.member(group, cid)
    page, cursor = service.members_page(session=session, group_id=group, limit=2)
    assert [c.id for c in page] == ids[:2] and cursor == ids[1]
    page, cursor = service.members_page(session=session, group_id=group, after=cursor, limit=2)
    assert [c.id for c in page] == ids[2:4] and cursor == ids[3]
    page, cursor = service.members_page(session=session, group_id=group, after=cursor, limit=2)
    assert [c.id for c in page] == ids[4:] and cursor is None
