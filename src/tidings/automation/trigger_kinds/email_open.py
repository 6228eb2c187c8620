"""``{"type": "email_open", "email_id"?}``: a contact's recorded open."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from tidings.automation import fields
from tidings.automation.trigger_kinds.base import ACTIVITY_CREATED, TriggerKind


def parse(session: Session, data: Mapping[str, Any], path: str) -> dict[str, Any]:
    fields.check_keys(data, path, required=(), optional=("email_id",))
    email_id = fields.optional_id(data, "email_id", path)
    fields.email(session, email_id, f"{path}.email_id", purpose=None)
    return {"type": "email_open"} | fields.normalized(data, ("email_id",))


def matches(trigger: Mapping[str, Any], event_type: str, data: Mapping[str, Any]) -> bool:
    if event_type != ACTIVITY_CREATED or data.get("type") != "email_open":
        return False
    return trigger.get("email_id") is None or data.get("email_id") == trigger["email_id"]


KIND = TriggerKind(
    name="email_open",
    label="Opened an email",
    event_types=frozenset({ACTIVITY_CREATED}),
    parse=parse,
    matches=matches,
)
