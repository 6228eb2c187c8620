"""The ``in_group`` condition kind, which contact groups bring to the condition language.

``{"type": "in_group", "group_id": N}``: currently a member of contact group N. Its SQL
and its facts read ``group_members``, a table of this package, so the kind lives here
and registers itself in ``tidings.conditions.KINDS`` when the package is imported.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self

from sqlalchemy import Select, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from tidings.conditions import (
    KINDS,
    Builder,
    ContactFacts,
    FactQuery,
    FactRow,
    FactSource,
    Input,
    Kind,
    Leaf,
    Names,
    Needs,
    Node,
    Part,
    Reference,
    SqlContext,
    Target,
    references,
    validate,
)
from tidings.conditions.targets import Choices
from tidings.conditions.words import named, pick, text
from tidings.groups.models import ContactGroup, GroupMember

_members = GroupMember.__table__.c


def _member_rows(query: FactQuery) -> Select[Any]:
    return select(*query.columns(_members.contact_id, number=_members.group_id)).where(
        _members.contact_id.in_(query.ids)
    )


def _member_of(rows: list[FactRow]) -> set[int]:
    # A set, not a frozenset: an incremental update changes it as groups are evaluated.
    return {row[0] for row in rows}


# The ids of the groups the contact is a member of.
MEMBERSHIP = FactSource("group", _member_rows, _member_of)


def _names(session: Session, keys: Collection[Any]) -> dict[Any, str]:
    query = select(ContactGroup.id, ContactGroup.name).where(ContactGroup.id.in_(list(keys)))
    return {key: name for key, name in session.execute(query)}


def _choices(session: Session, exclude: Any) -> Choices:
    query = select(ContactGroup.id, ContactGroup.name).order_by(ContactGroup.name)
    if exclude is not None:
        query = query.where(ContactGroup.id != exclude)
    return [(str(gid), name) for gid, name in session.execute(query)]


GROUP = Target("group", "contact group", _names, _choices)


@dataclass(frozen=True)
class InGroupCondition(Leaf):
    """A member of the group ``group_id``."""

    kind = "in_group"
    group_id: int
    path: str = "condition"

    @classmethod
    def parse(cls, data: Mapping[str, object], path: str) -> Self:
        validate.check_keys(data, path, required=("group_id",))
        return cls(group_id=validate.required_int(data, "group_id", path), path=path)

    def to_json(self) -> dict[str, Any]:
        return {"type": self.kind, "group_id": self.group_id}

    def references(self) -> tuple[Reference, ...]:
        return (Reference(GROUP.name, self.group_id, f"{self.path}.group_id"),)

    def needs(self) -> Needs:
        return {MEMBERSHIP: None}

    def to_sql(self, ctx: SqlContext) -> ColumnElement[bool]:
        # An alias, so a statement that also writes group_members never correlates it.
        members = GroupMember.__table__.alias()
        return ctx.contact_in(members.c.contact_id, members.c.group_id == self.group_id)

    def evaluate(self, facts: ContactFacts, now: datetime) -> bool:
        return self.group_id in facts.get(MEMBERSHIP)

    def words(self, names: Names, negate: bool) -> list[Part]:
        start = pick(negate, "is in the group ", "is not in the group ")
        return [text(start), named(names, GROUP.name, self.group_id)]


KIND = KINDS.register(
    Kind(
        InGroupCondition,
        Builder(
            "In contact group",
            (
                Input(
                    "group_id",
                    "select",
                    "Contact group",
                    source=GROUP.name,
                    empty="choose a group",
                    integer=True,
                ),
            ),
            order=40,
        ),
        targets=(GROUP,),
    )
)


def group_ids(node: Node) -> set[int]:
    """The contact groups a tree depends on (its ``in_group`` leaves)."""
    return {int(ref.key) for ref in references(node) if ref.target == GROUP.name}
