"""``{"type": "form_submission", "form_id"?}``: a contact submitted a form (any, or
form N). A submission is the person's own act of handing over their address, so it
starts a process like a recorded activity does."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from tidings.automation import fields
from tidings.automation.trigger_kinds.base import FORM_SUBMITTED, TriggerKind


def parse(session: Session, data: Mapping[str, Any], path: str) -> dict[str, Any]:
    fields.check_keys(data, path, required=(), optional=("form_id",))
    fields.optional_id(data, "form_id", path)
    return {"type": "form_submission"} | fields.normalized(data, ("form_id",))


def matches(trigger: Mapping[str, Any], event_type: str, data: Mapping[str, Any]) -> bool:
    if event_type != FORM_SUBMITTED:
        return False
    return trigger.get("form_id") is None or data.get("form_id") == trigger["form_id"]


KIND = TriggerKind(
    name="form_submission",
    label="Submitted a form",
    event_types=frozenset({FORM_SUBMITTED}),
    parse=parse,
    matches=matches,
)
