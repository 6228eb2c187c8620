"""``{"type": "joined_group", "group_id"}``: a contact became a member of the group."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from tidings.automation import fields
from tidings.automation.trigger_kinds.base import GROUP_JOINED, TriggerKind
from tidings.errors import Invalid
from tidings.groups.models import ContactGroup


def parse(session: Session, data: Mapping[str, Any], path: str) -> dict[str, Any]:
    fields.check_keys(data, path, required=("group_id",))
    group_id = fields.required_id(data, "group_id", path)
    if session.get(ContactGroup, group_id) is None:
        raise Invalid(f"{path}.group_id: contact group {group_id} not found")
    return {"type": "joined_group", "group_id": group_id}


def matches(trigger: Mapping[str, Any], event_type: str, data: Mapping[str, Any]) -> bool:
    return event_type == GROUP_JOINED and data.get("group_id") == trigger["group_id"]


KIND = TriggerKind(
    name="joined_group",
    label="Joined a contact group",
    event_types=frozenset({GROUP_JOINED}),
    parse=parse,
    matches=matches,
)
