"""API bodies and read models of contact groups."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

from tidings.contacts.schemas import ContactOut
from tidings.groups.models import ContactGroup
from tidings.groups.service import MAX_NAME
from tidings.values import JsonTree, Text, Timestamp

Condition = Annotated[
    JsonTree, Field(description="Condition tree: all / any / not / leaf nodes (SPEC B11)")
]


class GroupCreate(BaseModel):
    """A new group: its name and condition JSON (SPEC "Condition JSON")."""

    name: Annotated[Text, Field(max_length=MAX_NAME)]
    condition: Condition


class GroupPatch(BaseModel):
    """Changes to a group: a new name, a new condition, or both."""

    name: Annotated[Text, Field(max_length=MAX_NAME)] | None = None
    condition: Condition = None


class Preview(BaseModel):
    """A condition to count without saving."""

    condition: Condition


class PreviewCount(BaseModel):
    """How many contacts a condition selects now."""

    count: int


class GroupOut(BaseModel):
    """A contact group; ``member_count`` is its current size."""

    id: int
    name: str
    condition: dict[str, Any]
    member_count: int | None
    created_at: Timestamp
    updated_at: Timestamp
    last_rebuilt_at: Timestamp | None

    @classmethod
    def of(cls, group: ContactGroup, *, count: int | None) -> GroupOut:
        """The read model of a stored group."""
        return cls(
            id=group.id,
            name=group.name,
            condition=group.condition,
            member_count=count,
            created_at=group.created_at,
            updated_at=group.updated_at,
            last_rebuilt_at=group.last_rebuilt_at,
        )


class GroupList(BaseModel):
    """Every group, by name."""

    items: list[GroupOut]


class RebuildOut(GroupOut):
    """A group after a rebuild, with the members it gained and lost."""

    added: int
    removed: int


class MembersPage(BaseModel):
    """Members by contact id; pass ``next_cursor`` back as ``cursor``."""

    items: list[ContactOut]
    next_cursor: str | None
