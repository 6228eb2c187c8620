"""``{"type": "wait", "seconds"}`` or ``{"type": "wait", "until"}`` (ISO 8601; without
a time zone it is UTC): the contact stays here until then. A date already past goes on
at once. The scheduler resumes waits that are due, whatever restarts happened."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from tidings.automation import fields
from tidings.automation.step_kinds.base import NEXT, Action, Outcome, StepKind, StepRun
from tidings.errors import Invalid

MAX_SECONDS = 10 * 366 * 86_400


def parse_until(value: object, path: str) -> datetime:
    """An ISO 8601 time, aware (UTC when no zone is given)."""
    if not isinstance(value, str) or len(value) > 64:
        raise Invalid(f"{path}: must be an ISO 8601 date and time")
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise Invalid(f"{path}: must be an ISO 8601 date and time") from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    try:
        return at.astimezone(UTC)
    except (OverflowError, ValueError):
        raise Invalid(f"{path}: out of range") from None


def parse(session: Session, data: Mapping[str, Any], path: str) -> dict[str, Any]:
    fields.keys(data, path, optional=("seconds", "until"))
    seconds = fields.optional_id(data, "seconds", path, maximum=MAX_SECONDS)
    until = data.get("until")
    if (seconds is None) == (until is None):
        raise Invalid(f"{path}: give either seconds or until")
    if seconds is not None:
        return {"seconds": seconds}
    return {"until": parse_until(until, f"{path}.until").isoformat()}


def due(step: Mapping[str, Any], now: datetime) -> datetime:
    """When a contact entering the step at ``now`` goes on."""
    if "seconds" in step:
        return now + timedelta(seconds=int(step["seconds"]))
    return parse_until(step["until"], "until")


def run(ctx: StepRun) -> Outcome:
    until = due(ctx.step, ctx.now)
    if until <= ctx.now:
        return NEXT
    return Outcome(Action.WAIT, until=until)


KIND = StepKind(name="wait", label="Wait", parse=parse, run=run, waits=True)
