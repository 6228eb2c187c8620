"""``{"type": "activity", "activity_type": "custom:<name>", "value_contains"?}``: a
contact's recorded activity of that type (any type of the activity log may be named:
``page_visit``, ``form_submission``, ``custom:...``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from tidings.automation import fields
from tidings.automation.trigger_kinds.base import ACTIVITY_CREATED, TriggerKind, contains
from tidings.errors import Invalid

ACTIVITY_TYPE = re.compile(r"[a-z_]{1,50}|custom:[A-Za-z0-9_-]{1,100}")


def activity_type(data: Mapping[str, Any], key: str, path: str) -> str:
    """A snake-case built-in type or ``custom:<name>``."""
    value = fields.required_text(data, key, path)
    if not ACTIVITY_TYPE.fullmatch(value):
        raise Invalid(
            f"{path}.{key}: must be an activity type in snake case or custom:<name> "
            "(letters, digits, '_' or '-')"
        )
    return value


def parse(session: Session, data: Mapping[str, Any], path: str) -> dict[str, Any]:
    fields.check_keys(data, path, required=("activity_type",), optional=("value_contains",))
    activity_type(data, "activity_type", path)
    fields.optional_text(data, "value_contains", path)
    return {"type": "activity"} | fields.normalized(data, ("activity_type", "value_contains"))


def matches(trigger: Mapping[str, Any], event_type: str, data: Mapping[str, Any]) -> bool:
    if event_type != ACTIVITY_CREATED or data.get("type") != trigger["activity_type"]:
        return False
    return contains(data.get("value"), trigger.get("value_contains"))


KIND = TriggerKind(
    name="activity",
    label="Any other activity",
    event_types=frozenset({ACTIVITY_CREATED}),
    parse=parse,
    matches=matches,
)
