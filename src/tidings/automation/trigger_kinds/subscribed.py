"""``{"type": "subscribed", "list_id"}``: a contact's subscription to the list became
``subscribed`` (a pending double opt-in starts nothing until it is confirmed)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from tidings.automation import fields
from tidings.automation.trigger_kinds.base import SUBSCRIPTION_CHANGED, TriggerKind


def parse(session: Session, data: Mapping[str, Any], path: str) -> dict[str, Any]:
    fields.check_keys(data, path, required=("list_id",))
    list_id = fields.required_id(data, "list_id", path)
    fields.recipient_list(session, list_id, f"{path}.list_id")
    return {"type": "subscribed", "list_id": list_id}


def matches(trigger: Mapping[str, Any], event_type: str, data: Mapping[str, Any]) -> bool:
    return (
        event_type == SUBSCRIPTION_CHANGED
        and data.get("status") == "subscribed"
        and data.get("list_id") == trigger["list_id"]
    )


KIND = TriggerKind(
    name="subscribed",
    label="Subscribed to a list",
    event_types=frozenset({SUBSCRIPTION_CHANGED}),
    parse=parse,
    matches=matches,
)
