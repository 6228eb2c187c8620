"""The runner: moves one contact's run through the steps, exactly once per step.

Everything a step does and the move to the next step happen in the caller's
transaction, so they commit together or not at all: a process killed at any point
leaves each run at a step it has not yet done, or past one it has done. Effects that
leave the database go through something that keys them by the run and step (the
single-message idempotency key), or after the commit (the send job). A run stops at a
wait (``status='waiting'``, ``waiting_until``) and ``resume`` takes it on from there
once due; a claim (``UPDATE ... WHERE status='waiting'``) makes sure only one worker
does.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tidings.automation.definition import Definition, stored
from tidings.automation.models import (
    Automation,
    AutomationRun,
    AutomationStepCount,
    Recurrence,
    RunStatus,
)
from tidings.automation.step_kinds.base import Action, StepRun
from tidings.automation.step_kinds.registry import STEPS
from tidings.db.base import utcnow
from tidings.db.upsert import insert_for
from tidings.errors import TidingsError
from tidings.events import EventType, publish

log = logging.getLogger(__name__)

# More steps than a definition can hold without a wait: a guard, never reached.
MAX_STEPS_PER_PASS = 1000
UNFINISHED = (RunStatus.RUNNING.value, RunStatus.WAITING.value)


def definition_of(automation: Automation) -> Definition:
    """The stored definition of ``automation``."""
    return stored(automation.trigger, automation.steps, automation.recurrence)


def start(
    session: Session,
    automation: Automation,
    definition: Definition,
    contact_id: int,
    now: datetime | None = None,
) -> AutomationRun | None:
    """Let a contact enter the process (if its recurrence allows) and run its steps up
    to the first wait or the end, in this transaction; the run, or ``None``."""
    now = now or utcnow()
    last = session.execute(
        select(AutomationRun.run_number, AutomationRun.status)
        .where(AutomationRun.automation_id == automation.id, AutomationRun.contact_id == contact_id)
        .order_by(AutomationRun.run_number.desc())
        .limit(1)
    ).first()
    if last is not None:
        if automation.recurrence == Recurrence.ONCE.value:
            return None
        if automation.recurrence == Recurrence.IF_NOT_RUNNING.value and last.status in UNFINISHED:
            return None
    first = definition.first
    run = AutomationRun(
        automation_id=automation.id,
        contact_id=contact_id,
        run_number=(last.run_number + 1) if last is not None else 1,
        step_id=None,
        status=RunStatus.RUNNING.value,
        since=now,
        started_at=now,
        steps_taken=0,
    )
    try:
        with session.begin_nested():
            session.add(run)
    except IntegrityError:
        return None  # the same entry made by a concurrent transaction
    if first is None:
        _finish(run, now)
        return run
    _enter(session, automation.id, run, definition, first, now)
    advance(session, automation.id, definition, run, now)
    return run


def _enter(
    session: Session,
    automation_id: int,
    run: AutomationRun,
    definition: Definition,
    step_id: str,
    now: datetime,
) -> None:
    step = definition.step(step_id)
    assert step is not None
    run.step_id = step_id
    run.status = RunStatus.RUNNING.value
    run.since = now
    run.waiting_until = None
    run.steps_taken += 1
    table = AutomationStepCount.__table__
    statement = insert_for(session, table).values(
        automation_id=automation_id, step_id=step_id, entered=1
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[table.c.automation_id, table.c.step_id],
            set_={"entered": table.c.entered + 1},
        )
    )
    publish(
        session,
        EventType.AUTOMATION_STEP,
        {
            "automation_id": automation_id,
            "step_id": step_id,
            "contact_id": run.contact_id,
            "step_type": str(step["type"]),
        },
    )


def _finish(run: AutomationRun, now: datetime) -> None:
    run.status = RunStatus.FINISHED.value
    run.since = now
    run.waiting_until = None


def _fail(run: AutomationRun, now: datetime, error: str) -> None:
    log.warning(
        "automation %s: run %s of contact %s failed at step %s: %s",
        run.automation_id,
        run.id,
        run.contact_id,
        run.step_id,
        error,
    )
    run.status = RunStatus.FAILED.value
    run.since = now
    run.waiting_until = None
    run.error = error[:1000]


def advance(
    session: Session,
    automation_id: int,
    definition: Definition,
    run: AutomationRun,
    now: datetime,
) -> None:
    """Run the run's current step and the ones after it, up to a wait or the end."""
    for _ in range(MAX_STEPS_PER_PASS):
        step = definition.step(run.step_id)
        if step is None:
            _fail(run, now, f"step {run.step_id!r} is no longer in the process")
            return
        context = StepRun(session=session, automation_id=automation_id, run=run, step=step, now=now)
        try:
            with session.begin_nested():
                outcome = STEPS[step["type"]].run(context)
        except TidingsError as exc:
            _fail(run, now, str(exc.detail))
            return
        except Exception as exc:
            log.exception("automation %s: step %s failed", automation_id, run.step_id)
            _fail(run, now, f"{type(exc).__name__}: {exc}")
            return
        if outcome.action == Action.WAIT:
            run.status = RunStatus.WAITING.value
            run.waiting_until = outcome.until
            return
        if outcome.action == Action.FINISH:
            _finish(run, now)
            return
        target = outcome.target if outcome.branched else definition.following(step["id"])
        if target is None:
            _finish(run, now)
            return
        if definition.step(target) is None:
            _fail(run, now, f"step {target!r} is no longer in the process")
            return
        _enter(session, automation_id, run, definition, target, now)
    _fail(run, now, "too many steps without a wait")


def resume(session: Session, run_id: int, now: datetime | None = None) -> bool:
    """Take a waiting run on past its wait if it is due and its automation enabled;
    ``False`` when another worker did, or it is not due."""
    now = now or utcnow()
    enabled = select(Automation.id).where(Automation.enabled.is_(True))
    claimed = session.execute(
        update(AutomationRun)
        .where(
            AutomationRun.id == run_id,
            AutomationRun.status == RunStatus.WAITING.value,
            AutomationRun.waiting_until <= now,
            AutomationRun.automation_id.in_(enabled),
        )
        .values(status=RunStatus.RUNNING.value)
        .execution_options(synchronize_session=False)
    )
    if not claimed.rowcount:  # type: ignore[attr-defined]
        return False
    run = session.get(AutomationRun, run_id, populate_existing=True)
    assert run is not None
    automation = session.get(Automation, run.automation_id)
    assert automation is not None
    definition = definition_of(automation)
    if definition.step(run.step_id) is None:
        _fail(run, now, f"step {run.step_id!r} is no longer in the process")
        return True
    target = definition.following(str(run.step_id))
    if target is None:
        _finish(run, now)
        return True
    if definition.step(target) is None:
        _fail(run, now, f"step {target!r} is no longer in the process")
        return True
    _enter(session, automation.id, run, definition, target, now)
    advance(session, automation.id, definition, run, now)
    return True


def due_runs(session: Session, now: datetime, *, limit: int = 500) -> list[int]:
    """Waiting runs of enabled automations whose wait is over, earliest first."""
    return list(
        session.scalars(
            select(AutomationRun.id)
            .join(Automation, Automation.id == AutomationRun.automation_id)
            .where(
                AutomationRun.status == RunStatus.WAITING.value,
                AutomationRun.waiting_until <= now,
                Automation.enabled.is_(True),
            )
            .order_by(AutomationRun.waiting_until)
            .limit(limit)
        )
    )
