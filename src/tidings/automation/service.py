"""Operations on automations: create, change, enable/disable, delete, and where each
contact stands (per-step counts, the contacts at a step)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tidings.automation.definition import parse_definition
from tidings.automation.models import Automation, AutomationRun, AutomationStepCount, RunStatus
from tidings.automation.runner import UNFINISHED, definition_of
from tidings.db.base import utcnow
from tidings.errors import Invalid, NotFound

MAX_NAME = 200
UNSET: Any = object()
# A status filter: ``running`` and ``finished`` each stand for two stored statuses.
STATUS_FILTERS: dict[str, tuple[str, ...]] = {
    "running": UNFINISHED,
    "waiting": (RunStatus.WAITING.value,),
    "finished": (RunStatus.FINISHED.value, RunStatus.FAILED.value),
    "failed": (RunStatus.FAILED.value,),
}


def _name(name: object) -> str:
    cleaned = name.strip() if isinstance(name, str) else ""
    if not cleaned or len(cleaned) > MAX_NAME:
        raise Invalid(f"name: must be 1 to {MAX_NAME} characters")
    return cleaned


def create(
    *,
    session: Session,
    name: str,
    trigger: Any,
    steps: Any,
    recurrence: Any = None,
    enabled: bool = True,
) -> Automation:
    """Create an automation; ``Invalid`` names the bad path of its definition."""
    cleaned = _name(name)
    definition = parse_definition(session, trigger=trigger, steps=steps, recurrence=recurrence)
    automation = Automation(
        name=cleaned,
        trigger=definition.trigger,
        steps=definition.steps,
        recurrence=definition.recurrence,
        enabled=bool(enabled),
    )
    session.add(automation)
    session.flush()
    return automation


def get(*, session: Session, automation_id: int) -> Automation:
    """The automation with ``automation_id`` or ``NotFound``."""
    automation = session.get(Automation, automation_id)
    if automation is None:
        raise NotFound(f"automation {automation_id} not found")
    return automation


def list_automations(*, session: Session) -> list[Automation]:
    """Every automation, newest first."""
    return list(session.scalars(select(Automation).order_by(Automation.id.desc())))


def update(
    *,
    session: Session,
    automation: Automation,
    name: Any = UNSET,
    trigger: Any = UNSET,
    steps: Any = UNSET,
    recurrence: Any = UNSET,
    enabled: Any = UNSET,
) -> Automation:
    """Change any of the fields. A changed definition is checked whole; contacts at a
    step that is no longer there fail when they would go on from it."""
    if name is not UNSET:
        automation.name = _name(name)
    if trigger is not UNSET or steps is not UNSET or recurrence is not UNSET:
        definition = parse_definition(
            session,
            trigger=automation.trigger if trigger is UNSET else trigger,
            steps=automation.steps if steps is UNSET else steps,
            recurrence=automation.recurrence if recurrence is UNSET else recurrence,
        )
        automation.trigger = definition.trigger
        automation.steps = definition.steps
        automation.recurrence = definition.recurrence
    if enabled is not UNSET:
        if not isinstance(enabled, bool):
            raise Invalid("enabled: must be true or false")
        automation.enabled = enabled
    automation.updated_at = utcnow()
    session.flush()
    return automation


def delete(*, session: Session, automation: Automation) -> None:
    """Delete an automation with its runs and counts (contacts simply leave it)."""
    session.delete(automation)
    session.flush()


@dataclass(frozen=True)
class StepFigures:
    """One step with how many entered it and how many stand at it now."""

    step: Mapping[str, Any]
    entered: int
    waiting: int


@dataclass(frozen=True)
class Figures:
    """An automation's per-step figures and its run totals."""

    steps: list[StepFigures]
    running: int
    finished: int
    failed: int


def figures(*, session: Session, automation: Automation) -> Figures:
    """Per-step counts (entered; standing there now) and totals by status."""
    entered: dict[str, int] = dict(
        session.execute(
            select(AutomationStepCount.step_id, AutomationStepCount.entered).where(
                AutomationStepCount.automation_id == automation.id
            )
        ).all()
    )
    standing: dict[str | None, int] = dict(
        session.execute(
            select(AutomationRun.step_id, func.count())
            .where(
                AutomationRun.automation_id == automation.id,
                AutomationRun.status.in_(UNFINISHED),
            )
            .group_by(AutomationRun.step_id)
        ).all()
    )
    totals: dict[str, int] = dict(
        session.execute(
            select(AutomationRun.status, func.count())
            .where(AutomationRun.automation_id == automation.id)
            .group_by(AutomationRun.status)
        ).all()
    )
    return Figures(
        steps=[
            StepFigures(
                step=step,
                entered=int(entered.get(step["id"], 0)),
                waiting=int(standing.get(step["id"], 0)),
            )
            for step in definition_of(automation).steps
        ],
        running=sum(int(totals.get(s, 0)) for s in UNFINISHED),
        finished=int(totals.get(RunStatus.FINISHED.value, 0)),
        failed=int(totals.get(RunStatus.FAILED.value, 0)),
    )


def runs_page(
    *,
    session: Session,
    automation_id: int,
    step: str | None = None,
    status: str | None = None,
    after: int | None = None,
    limit: int = 50,
) -> tuple[list[AutomationRun], int | None]:
    """Runs by id (keyset paging): the page and the id to continue after, if any."""
    query = select(AutomationRun).where(AutomationRun.automation_id == automation_id)
    if step is not None:
        query = query.where(AutomationRun.step_id == step)
    if status is not None:
        if status not in STATUS_FILTERS:
            raise Invalid(f"status: must be one of {', '.join(STATUS_FILTERS)}")
        query = query.where(AutomationRun.status.in_(STATUS_FILTERS[status]))
    if after is not None:
        query = query.where(AutomationRun.id > after)
    rows = list(session.scalars(query.order_by(AutomationRun.id).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, rows[-1].id if more and rows else None


def runs_of_contact(*, session: Session, contact_id: int) -> list[tuple[AutomationRun, str]]:
    """A contact's runs with their automation's name, latest first."""
    return [
        (run, name)
        for run, name in session.execute(
            select(AutomationRun, Automation.name)
            .join(Automation, Automation.id == AutomationRun.automation_id)
            .where(AutomationRun.contact_id == contact_id)
            .order_by(AutomationRun.id.desc())
            .limit(100)
        ).all()
    ]
