"""``{"type": "finish"}``: the run ends here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from tidings.automation import fields
from tidings.automation.step_kinds.base import FINISH, Outcome, StepKind, StepRun


def parse(session: Session, data: Mapping[str, Any], path: str) -> dict[str, Any]:
    fields.check_keys(data, path, required=(), optional=("id",))
    return {}


def run(ctx: StepRun) -> Outcome:
    return FINISH


KIND = StepKind(name="finish", label="Finish", parse=parse, run=run, terminal=True)
