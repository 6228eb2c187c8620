"""``{"type": "add_to_list", "list_id"}`` and ``{"type": "remove_from_list",
"list_id"}``: subscribe the contact to the list (source ``automation:<id>``) or
unsubscribe them from it. A list deleted since fails the step."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from tidings.automation import fields
from tidings.automation.step_kinds.base import NEXT, Outcome, StepFailed, StepKind, StepRun
from tidings.lists import service as lists
from tidings.lists.models import RecipientList


def parse(session: Session, data: Mapping[str, Any], path: str) -> dict[str, Any]:
    fields.keys(data, path, required=("list_id",))
    list_id = fields.required_id(data, "list_id", path)
    fields.recipient_list(session, list_id, f"{path}.list_id")
    return {"list_id": list_id}


def _list(ctx: StepRun) -> int:
    list_id = int(ctx.step["list_id"])
    if ctx.session.get(RecipientList, list_id) is None:
        raise StepFailed(f"recipient list {list_id} no longer exists")
    return list_id


def add(ctx: StepRun) -> Outcome:
    lists.subscribe(
        session=ctx.session,
        list_id=_list(ctx),
        contact_id=ctx.run.contact_id,
        source=f"automation:{ctx.automation_id}",
    )
    return NEXT


def remove(ctx: StepRun) -> Outcome:
    lists.unsubscribe(
        session=ctx.session,
        list_id=_list(ctx),
        contact_id=ctx.run.contact_id,
        source=f"automation:{ctx.automation_id}",
    )
    return NEXT


ADD = StepKind(name="add_to_list", label="Add to list", parse=parse, run=add)
REMOVE = StepKind(name="remove_from_list", label="Remove from list", parse=parse, run=remove)
