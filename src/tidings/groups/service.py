"""Operations on contact groups: create, rename, edit condition, delete, count, members."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, exists, select
from sqlalchemy.orm import Session

from tidings.conditions import Node, count_matching, parse
from tidings.contacts.models import Contact
from tidings.db.base import utcnow
from tidings.errors import Conflict, Invalid, NotFound
from tidings.groups.graph import check_condition, load_conditions
from tidings.groups.kind import group_ids
from tidings.groups.membership import (
    RebuildResult,
    forget_group,
    rebuild,
    rebuild_with_dependents,
    tune_for_bulk,
)
from tidings.groups.models import ContactGroup, GroupMember

MAX_NAME = 200


def _clean_name(session: Session, name: str, *, group_id: int | None = None) -> str:
    cleaned = name.strip() if isinstance(name, str) else ""
    if not cleaned or len(cleaned) > MAX_NAME:
        raise Invalid(f"name: must be 1 to {MAX_NAME} characters")
    clash = session.scalar(select(ContactGroup.id).where(ContactGroup.name == cleaned))
    if clash is not None and clash != group_id:
        raise Conflict(f"a contact group named {cleaned!r} already exists")
    return cleaned


def create(
    *, session: Session, name: str, condition: Any, now: datetime | None = None
) -> tuple[ContactGroup, RebuildResult]:
    """Create a group and fill it at once; ``Invalid`` names a bad condition path."""
    cleaned = _clean_name(session, name)
    node = parse(condition)
    check_condition(session, node)
    group = ContactGroup(name=cleaned, condition=node.to_json())
    session.add(group)
    session.flush()
    return group, rebuild(session, group, node=node, now=now)


def get(*, session: Session, group_id: int) -> ContactGroup:
    """The group with ``group_id`` or ``NotFound``."""
    group = session.get(ContactGroup, group_id)
    if group is None:
        raise NotFound(f"contact group {group_id} not found")
    return group


def list_groups(*, session: Session) -> list[ContactGroup]:
    """Every group, by name."""
    return list(session.scalars(select(ContactGroup).order_by(ContactGroup.name)))


def rename(*, session: Session, group: ContactGroup, name: str) -> ContactGroup:
    """Give the group a new (unique) name."""
    group.name = _clean_name(session, name, group_id=group.id)
    session.flush()
    return group


def edit_condition(
    *, session: Session, group: ContactGroup, condition: Any, now: datetime | None = None
) -> RebuildResult:
    """Replace the condition (refusing missing references and cycles), then rebuild the
    group and the groups depending on it."""
    node = parse(condition)
    check_condition(session, node, group_id=group.id)
    group.condition = node.to_json()
    group.updated_at = utcnow()
    session.flush()
    return rebuild_with_dependents(session, group, now=now)


def delete(*, session: Session, group: ContactGroup) -> None:
    """Delete a group and its members; refused while another group refers to it."""
    users = [
        other
        for gid, (other, node) in load_conditions(session).items()
        if gid != group.id and group.id in group_ids(node)
    ]
    if users:
        names = ", ".join(f"{other.id} ({other.name})" for other in users)
        raise Conflict(f"contact group {group.id} is used by the conditions of groups {names}")
    # Under the membership lock, so no rebuild or update adds members meanwhile.
    forget_group(session, group.id)
    session.delete(group)
    session.flush()


def preview_count(*, session: Session, condition: Any, now: datetime | None = None) -> int:
    """How many contacts the condition selects now, without saving anything."""
    node: Node = parse(condition)
    check_condition(session, node)
    tune_for_bulk(session)
    return count_matching(session, node, now=now)


def member_ids_select(group_id: int) -> Select[int]:
    """``SELECT contact_id FROM group_members WHERE group_id = :id`` for mailout filters."""
    return select(GroupMember.contact_id).where(GroupMember.group_id == group_id)


def is_member(group_id: int, contact_id: ColumnElement[int]) -> ColumnElement[bool]:
    """``EXISTS`` test that ``contact_id`` (a column) is in the group; negate it with ``~``
    to exclude a group (planned as an anti-join on PostgreSQL, unlike ``NOT IN``)."""
    return exists().where(GroupMember.group_id == group_id, GroupMember.contact_id == contact_id)


def members_page(
    *, session: Session, group_id: int, after: int | None = None, limit: int = 50
) -> tuple[list[Contact], int | None]:
    """Members with a contact id above ``after``, by id; and the cursor of the next page."""
    query = (
        select(Contact)
        .join(GroupMember, GroupMember.contact_id == Contact.id)
        .where(GroupMember.group_id == group_id)
        .order_by(Contact.id)
        .limit(limit + 1)
    )
    if after is not None:
        query = query.where(Contact.id > after)
    contacts = list(session.scalars(query))
    if len(contacts) > limit:
        return contacts[:limit], contacts[limit - 1].id
    return contacts, None


def groups_of_contact(*, session: Session, contact_id: int) -> list[ContactGroup]:
    """The groups a contact is in, by name."""
    return list(
        session.scalars(
            select(ContactGroup)
            .join(GroupMember, GroupMember.group_id == ContactGroup.id)
            .where(GroupMember.contact_id == contact_id)
            .order_by(ContactGroup.name)
        )
    )
