"""``StepKind``: one entry of the table of steps, and what running a step gives."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from tidings.automation.models import AutomationRun
from tidings.errors import TidingsError


class StepFailed(TidingsError):
    """A step cannot run (its email or list was deleted, say): the contact's run ends
    with status ``failed`` and this message."""


class Action(StrEnum):
    """What the runner does after a step."""

    NEXT = "next"  # to ``target``, else the step's ``next``, else the following step
    WAIT = "wait"  # stay here until ``until``
    FINISH = "finish"


@dataclass(frozen=True)
class Outcome:
    """The result of running one step."""

    action: Action
    target: str | None = None
    until: datetime | None = None
    # ``True`` when ``target`` was chosen and ``None`` means "finish" (a condition's
    # branch without a step).
    branched: bool = False


NEXT = Outcome(Action.NEXT)
FINISH = Outcome(Action.FINISH)


@dataclass
class StepRun:
    """One step being run for one contact, inside the runner's transaction."""

    session: Session
    automation_id: int
    run: AutomationRun
    step: Mapping[str, Any]
    now: datetime

    @property
    def idempotency_key(self) -> str:
        """Unique to this step of this run and this visit of it."""
        return (
            f"automation:{self.automation_id}:{self.run.id}:{self.step['id']}"
            f":{self.run.steps_taken}"
        )


Parse = Callable[[Session, Mapping[str, Any], str], dict[str, Any]]
Run = Callable[[StepRun], Outcome]
# The same step for many runs at once (contacts entering together), with one outcome
# for all; raising leaves the runner to take the runs one by one.
RunMany = Callable[[list[StepRun]], Outcome]


@dataclass(frozen=True)
class StepKind:
    """A step: how its JSON is checked (``parse`` gives its own keys normalized, or
    raises ``Invalid`` naming the path), what it does (``run``), the keys that name
    other steps (``branches``), whether it waits, and whether it ends the run."""

    name: str
    label: str
    parse: Parse
    run: Run
    branches: tuple[str, ...] = ()
    waits: bool = False
    terminal: bool = False
    run_many: RunMany | None = None
