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
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

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
from tidings.automation.step_kinds.base import NEXT, Action, Outcome, StepRun
from tidings.automation.step_kinds.registry import STEPS
from tidings.db.base import utcnow
from tidings.db.upsert import insert_for
from tidings.errors import TidingsError
from tidings.events import EventType, publish, publish_many

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


def start_many(
    session: Session,
    automation: Automation,
    definition: Definition,
    contact_ids: Sequence[int],
    now: datetime | None = None,
) -> None:
    """``start`` for the contacts of several trigger events at once, in this
    transaction: their earlier runs in one query, the new runs in one insert, the
    step count once, and a first step that can (``StepKind.run_many``) for all of
    them together; the steps after it run contact by contact. A contact entering
    twice in the batch enters the second time through ``start``. If the batch fails
    (a concurrent entry, a step that fails), its savepoint is rolled back and every
    contact goes through ``start`` one by one, with its own savepoints and errors.
    """
    now = now or utcnow()
    first_time = list(dict.fromkeys(contact_ids))
    again = list(contact_ids)
    for contact_id in first_time:
        again.remove(contact_id)
    if len(first_time) < 2:
        for contact_id in contact_ids:
            start(session, automation, definition, contact_id, now)
        return
    try:
        with session.begin_nested():
            runs = _enter_many(session, automation, definition, first_time, now)
            first = definition.step(definition.first) if definition.first else None
            kind = STEPS[first["type"]] if first is not None else None
            outcome = None
            if runs and first is not None and kind is not None and kind.run_many is not None:
                contexts = [
                    StepRun(
                        session=session, automation_id=automation.id, run=r, step=first, now=now
                    )
                    for r in runs
                ]
                outcome = kind.run_many(contexts)
    except Exception as exc:  # noqa: BLE001 - one by one tells each contact's own outcome
        log.info(
            "automation %s: %d contacts enter one by one (%s)", automation.id, len(first_time), exc
        )
        for contact_id in contact_ids:
            start(session, automation, definition, contact_id, now)
        return
    for run in runs:
        if run.status != RunStatus.RUNNING.value:
            continue
        if outcome is None or (
            first is not None
            and _move(session, automation.id, definition, run, first, outcome, now)
        ):
            advance(session, automation.id, definition, run, now)
    for contact_id in again:
        start(session, automation, definition, contact_id, now)


def _enter_many(
    session: Session,
    automation: Automation,
    definition: Definition,
    contact_ids: list[int],
    now: datetime,
) -> list[AutomationRun]:
    """New runs of the contacts their recurrence lets in, at the first step."""
    last: dict[int, tuple[int, str]] = {}
    for contact_id, number, status in session.execute(
        select(AutomationRun.contact_id, AutomationRun.run_number, AutomationRun.status).where(
            AutomationRun.automation_id == automation.id,
            AutomationRun.contact_id.in_(contact_ids),
        )
    ):
        if contact_id not in last or number > last[contact_id][0]:
            last[contact_id] = (number, status)
    entering = []
    for contact_id in contact_ids:
        before = last.get(contact_id)
        if before is not None and automation.recurrence == Recurrence.ONCE.value:
            continue
        if (
            before is not None
            and automation.recurrence == Recurrence.IF_NOT_RUNNING.value
            and before[1] in UNFINISHED
        ):
            continue
        entering.append((contact_id, before[0] + 1 if before is not None else 1))
    first = definition.first
    runs = [
        AutomationRun(
            automation_id=automation.id,
            contact_id=contact_id,
            run_number=number,
            step_id=first,
            status=RunStatus.RUNNING.value if first is not None else RunStatus.FINISHED.value,
            since=now,
            started_at=now,
            steps_taken=1 if first is not None else 0,
        )
        for contact_id, number in entering
    ]
    if not runs:
        return runs
    session.add_all(runs)
    session.flush()
    if first is None:
        return runs
    step = definition.step(first)
    assert step is not None
    table = AutomationStepCount.__table__
    statement = insert_for(session, table).values(
        automation_id=automation.id, step_id=first, entered=len(runs)
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[table.c.automation_id, table.c.step_id],
            set_={"entered": table.c.entered + len(runs)},
        )
    )
    publish_many(
        session,
        [
            (
                EventType.AUTOMATION_STEP,
                {
                    "automation_id": automation.id,
                    "step_id": first,
                    "contact_id": run.contact_id,
                    "step_type": str(step["type"]),
                },
            )
            for run in runs
        ],
    )
    return runs


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
        if not _move(session, automation_id, definition, run, step, outcome, now):
            return
    _fail(run, now, "too many steps without a wait")


def _move(
    session: Session,
    automation_id: int,
    definition: Definition,
    run: AutomationRun,
    step: Mapping[str, Any],
    outcome: Outcome,
    now: datetime,
) -> bool:
    """After a step: stay at a wait, finish, or enter the next step (then True)."""
    if outcome.action == Action.WAIT:
        run.status = RunStatus.WAITING.value
        run.waiting_until = outcome.until
        return False
    if outcome.action == Action.FINISH:
        _finish(run, now)
        return False
    target = outcome.target if outcome.branched else definition.following(step["id"])
    if target is None:
        _finish(run, now)
        return False
    if definition.step(target) is None:
        _fail(run, now, f"step {target!r} is no longer in the process")
        return False
    _enter(session, automation_id, run, definition, target, now)
    return True


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
    waited = definition.step(run.step_id)
    if waited is None:
        _fail(run, now, f"step {run.step_id!r} is no longer in the process")
        return True
    if _move(session, automation.id, definition, run, waited, NEXT, now):
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
