"""``{"type": "condition", "condition", "yes", "no"}``: a B11 condition evaluated for
the contact now; goes to step ``yes`` or ``no`` (a branch that is null or absent
finishes the run)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from tidings.automation import fields
from tidings.automation.step_kinds.base import Action, Outcome, StepKind, StepRun
from tidings.conditions import matches
from tidings.conditions import parse as parse_condition
from tidings.groups.graph import check_condition


def parse(session: Session, data: Mapping[str, Any], path: str) -> dict[str, Any]:
    fields.keys(data, path, required=("condition",), optional=("yes", "no"))
    node = parse_condition(data["condition"], f"{path}.condition")
    check_condition(session, node)
    out: dict[str, Any] = {"condition": node.to_json()}
    for branch in ("yes", "no"):
        target = fields.optional_text(data, branch, path)
        if target is not None:
            out[branch] = target
    return out


def run(ctx: StepRun) -> Outcome:
    node = parse_condition(ctx.step["condition"])
    holds = matches(ctx.session, node, ctx.run.contact_id, now=ctx.now)
    target = ctx.step.get("yes" if holds else "no")
    return Outcome(Action.NEXT, target=target, branched=True)


KIND = StepKind(name="condition", label="Condition", parse=parse, run=run, branches=("yes", "no"))
