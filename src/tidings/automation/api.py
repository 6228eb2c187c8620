"""REST API of automations: ``/api/v1/automations``."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response

from tidings.automation import service
from tidings.automation.models import Automation
from tidings.automation.schemas import (
    AutomationCreate,
    AutomationList,
    AutomationOut,
    AutomationPatch,
    RunOut,
    RunsPage,
)
from tidings.automation.step_kinds.webhook import secret_for
from tidings.errors import Invalid
from tidings.values import MAX_ID, Id, Text
from tidings.web.deps import SessionDep, require_api_key
from tidings.web.errors import API_RESPONSES, BODY_RESPONSES, responses

router = APIRouter(
    prefix="/api/v1/automations",
    tags=["automation"],
    dependencies=[Depends(require_api_key)],
    responses=API_RESPONSES,
)


def _out(session: SessionDep, automation: Automation) -> AutomationOut:
    runtime = session.info["runtime"]
    return AutomationOut.of(
        automation,
        service.figures(session=session, automation=automation),
        secret=secret_for(runtime, automation.id),
    )


@router.get("")
def list_automations(session: SessionDep) -> AutomationList:
    """Every automation with its figures, newest first."""
    return AutomationList(
        items=[_out(session, a) for a in service.list_automations(session=session)]
    )


@router.post("", status_code=201, responses=BODY_RESPONSES)
def create_automation(body: AutomationCreate, session: SessionDep) -> AutomationOut:
    """Create an automation; 422 names the bad path of the definition."""
    automation = service.create(
        session=session,
        name=body.name,
        trigger=body.trigger,
        steps=body.steps,
        recurrence=body.recurrence,
        enabled=body.enabled,
    )
    return _out(session, automation)


@router.get("/{automation_id}", responses=responses(404))
def get_automation(automation_id: Id, session: SessionDep) -> AutomationOut:
    """One automation with per-step counts and run totals."""
    return _out(session, service.get(session=session, automation_id=automation_id))


@router.patch("/{automation_id}", responses=BODY_RESPONSES | responses(404))
def update_automation(
    automation_id: Id, body: AutomationPatch, session: SessionDep
) -> AutomationOut:
    """Change any field, e.g. ``{"enabled": false}``."""
    automation = service.get(session=session, automation_id=automation_id)
    given = body.model_fields_set
    if not given:
        raise Invalid("give at least one of name, trigger, steps, recurrence, enabled")
    for key in ("name", "recurrence", "enabled"):
        if key in given and getattr(body, key) is None:
            raise Invalid(f"{key}: must not be null")
    service.update(
        session=session,
        automation=automation,
        name=body.name if "name" in given else service.UNSET,
        trigger=body.trigger if "trigger" in given else service.UNSET,
        steps=body.steps if "steps" in given else service.UNSET,
        recurrence=body.recurrence if "recurrence" in given else service.UNSET,
        enabled=body.enabled if "enabled" in given else service.UNSET,
    )
    return _out(session, automation)


@router.delete(
    "/{automation_id}", status_code=204, response_class=Response, responses=responses(404)
)
def delete_automation(automation_id: Id, session: SessionDep) -> Response:
    """Delete an automation, its runs and counts."""
    service.delete(
        session=session, automation=service.get(session=session, automation_id=automation_id)
    )
    return Response(status_code=204)


@router.get("/{automation_id}/contacts", responses=responses(404))
def contacts(
    automation_id: Id,
    session: SessionDep,
    step: Annotated[Text | None, Query(max_length=64)] = None,
    status: Literal["running", "waiting", "finished", "failed"] | None = None,
    cursor: Annotated[Text | None, Query(max_length=20)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> RunsPage:
    """Where contacts stand, by run: filter by ``step`` and ``status`` (``running``
    includes waiting, ``finished`` includes failed); pass ``next_cursor`` back as
    ``cursor``."""
    service.get(session=session, automation_id=automation_id)
    after: int | None = None
    if cursor:
        if not (cursor.isascii() and cursor.isdigit() and int(cursor) <= MAX_ID):
            raise Invalid("cursor: must be a next_cursor value from an earlier page")
        after = int(cursor)
    runs, next_id = service.runs_page(
        session=session,
        automation_id=automation_id,
        step=step,
        status=status,
        after=after,
        limit=limit,
    )
    return RunsPage(
        items=[RunOut.of(run) for run in runs],
        next_cursor=None if next_id is None else str(next_id),
    )
