"""An automation's definition: trigger, steps and recurrence, checked as a whole.

Every error is ``Invalid`` naming the path at fault (``trigger.link_id``,
``steps[2].next``): an unknown step id, a cycle of steps without a wait, an email that
is not an automation email, a missing list. A step goes to ``next``, else to the
following step, else the run finishes; a condition goes to ``yes`` or ``no``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from tidings.automation.models import Recurrence
from tidings.automation.step_kinds.base import StepKind
from tidings.automation.step_kinds.registry import STEPS
from tidings.automation.trigger_kinds.base import TriggerKind
from tidings.automation.trigger_kinds.registry import TRIGGERS
from tidings.errors import Invalid

MAX_STEPS = 100
STEP_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True)
class Definition:
    """A checked definition; ``steps`` are normalized step objects."""

    trigger: dict[str, Any]
    steps: list[dict[str, Any]]
    recurrence: str
    _index: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._index.update({str(step["id"]): n for n, step in enumerate(self.steps)})

    @property
    def trigger_kind(self) -> TriggerKind:
        """The trigger's kind."""
        return TRIGGERS[self.trigger["type"]]

    @property
    def first(self) -> str | None:
        """The first step's id (``None``: no steps)."""
        return str(self.steps[0]["id"]) if self.steps else None

    def step(self, step_id: str | None) -> dict[str, Any] | None:
        """The step with this id, if there is one."""
        if step_id is None or step_id not in self._index:
            return None
        return self.steps[self._index[step_id]]

    def following(self, step_id: str) -> str | None:
        """Where a step goes when it does not choose: ``next``, else the following
        step, else nowhere (the run finishes)."""
        step = self.step(step_id)
        if step is None or STEPS[step["type"]].terminal:
            return None
        if step.get("next") is not None:
            return str(step["next"])
        position = self._index[step_id] + 1
        return str(self.steps[position]["id"]) if position < len(self.steps) else None


def parse_recurrence(value: object, path: str = "recurrence") -> str:
    """``once``, ``always`` or ``if_not_running``."""
    if value is None:
        return Recurrence.ONCE.value
    try:
        return Recurrence(str(value)).value
    except ValueError:
        known = ", ".join(r.value for r in Recurrence)
        raise Invalid(f"{path}: must be one of {known}") from None


def parse_trigger(session: Session, data: Any, path: str = "trigger") -> dict[str, Any]:
    """The normalized trigger JSON."""
    if not isinstance(data, Mapping):
        raise Invalid(f"{path}: must be an object with a type")
    name = data.get("type")
    kind = TRIGGERS.get(name) if isinstance(name, str) else None
    if kind is None:
        known = ", ".join(TRIGGERS)
        raise Invalid(f"{path}.type: unknown trigger type {data.get('type')!r} (known: {known})")
    return kind.parse(session, data, path)


def _step_kind(data: Any, path: str) -> StepKind:
    if not isinstance(data, Mapping):
        raise Invalid(f"{path}: must be an object with an id and a type")
    name = data.get("type")
    kind = STEPS.get(name) if isinstance(name, str) else None
    if kind is None:
        known = ", ".join(STEPS)
        raise Invalid(f"{path}.type: unknown step type {name!r} (known: {known})")
    return kind


def parse_steps(session: Session, data: Any, path: str = "steps") -> list[dict[str, Any]]:
    """The normalized steps; refuses unknown step ids and cycles without a wait."""
    if not isinstance(data, list) or not data:
        raise Invalid(f"{path}: must be a list of at least one step")
    if len(data) > MAX_STEPS:
        raise Invalid(f"{path}: at most {MAX_STEPS} steps")
    steps: list[dict[str, Any]] = []
    seen: set[str] = set()
    for n, raw in enumerate(data):
        where = f"{path}[{n}]"
        kind = _step_kind(raw, where)
        step_id = raw.get("id")
        if not isinstance(step_id, str) or not STEP_ID.fullmatch(step_id):
            raise Invalid(f"{where}.id: 1 to 64 letters, digits, '_' or '-'")
        if step_id in seen:
            raise Invalid(f"{where}.id: {step_id!r} is used by an earlier step")
        seen.add(step_id)
        if kind.branches and raw.get("next") is not None:
            raise Invalid(
                f"{where}.next: a {kind.name} step goes on by {' or '.join(kind.branches)}"
            )
        step = {"id": step_id, "type": kind.name} | kind.parse(session, raw, where)
        if raw.get("next") is not None:
            if kind.terminal:
                raise Invalid(f"{where}.next: a {kind.name} step goes nowhere")
            if not isinstance(raw["next"], str):
                raise Invalid(f"{where}.next: must be a step id")
            step["next"] = raw["next"]
        steps.append(step)
    _check_targets(steps, path)
    _check_cycles(steps, path)
    return steps


def _edges(steps: list[dict[str, Any]], path: str) -> list[list[tuple[str, str]]]:
    """Per step, the (target id, path naming the edge) pairs it can go to."""
    out: list[list[tuple[str, str]]] = []
    for n, step in enumerate(steps):
        kind = STEPS[step["type"]]
        where = f"{path}[{n}]"
        edges: list[tuple[str, str]] = []
        if kind.branches:
            edges = [(step[b], f"{where}.{b}") for b in kind.branches if step.get(b) is not None]
        elif step.get("next") is not None:
            edges = [(step["next"], f"{where}.next")]
        elif not kind.terminal and n + 1 < len(steps):
            edges = [(steps[n + 1]["id"], where)]
        out.append(edges)
    return out


def _check_targets(steps: list[dict[str, Any]], path: str) -> None:
    ids = {step["id"] for step in steps}
    for edges in _edges(steps, path):
        for target, where in edges:
            if target not in ids:
                raise Invalid(f"{where}: unknown step id {target!r}")


def _check_cycles(steps: list[dict[str, Any]], path: str) -> None:
    """A loop must pass through a wait, or a contact would loop within one transaction."""
    index = {step["id"]: n for n, step in enumerate(steps)}
    edges = _edges(steps, path)
    state = [0] * len(steps)  # 0 new, 1 on the current path, 2 done

    def visit(n: int, trail: list[str]) -> None:
        state[n] = 1
        if not STEPS[steps[n]["type"]].waits:
            for target, where in edges[n]:
                m = index[target]
                if state[m] == 1:
                    cycle = [*trail[trail.index(target) :], target]
                    raise Invalid(f"{where}: makes a cycle without a wait ({' -> '.join(cycle)})")
                if state[m] == 0:
                    visit(m, [*trail, target])
        state[n] = 2

    for n, step in enumerate(steps):
        if state[n] == 0:
            visit(n, [step["id"]])


def parse_definition(
    session: Session, *, trigger: Any, steps: Any, recurrence: Any = None
) -> Definition:
    """The checked definition of an automation."""
    return Definition(
        trigger=parse_trigger(session, trigger),
        steps=parse_steps(session, steps),
        recurrence=parse_recurrence(recurrence),
    )


def stored(trigger: dict[str, Any], steps: list[dict[str, Any]], recurrence: str) -> Definition:
    """The definition of a saved automation (already checked when it was saved)."""
    return Definition(trigger=trigger, steps=steps, recurrence=recurrence)
