"""``{"type": "log_activity", "activity_type": "custom:<name>", "value"?}``: record a
custom activity for the contact through the activity service, which records it only
where consent allows (B1) and publishes it like any other activity."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from tidings.activities import service as activities
from tidings.automation import fields
from tidings.automation.step_kinds.base import NEXT, Outcome, StepKind, StepRun
from tidings.errors import Invalid

MAX_VALUE = 1000


def parse(session: Session, data: Mapping[str, Any], path: str) -> dict[str, Any]:
    fields.keys(data, path, required=("activity_type",), optional=("value",))
    kind = fields.required_text(data, "activity_type", path)
    name = kind.removeprefix("custom:")
    if not kind.startswith("custom:") or not fields.CUSTOM_NAME.fullmatch(name):
        raise Invalid(f"{path}.activity_type: must be custom:<name> (letters, digits, '_' or '-')")
    fields.optional_text(data, "value", path)
    return fields.normalized(data, ("activity_type", "value"))


def run(ctx: StepRun) -> Outcome:
    activities.record(
        session=ctx.session,
        contact_id=ctx.run.contact_id,
        type=str(ctx.step["activity_type"]),
        value=ctx.step.get("value"),
        occurred_at=ctx.now,
    )
    return NEXT


KIND = StepKind(name="log_activity", label="Log custom activity", parse=parse, run=run)
