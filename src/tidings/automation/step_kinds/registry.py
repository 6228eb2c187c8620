"""The table of step kinds (SPEC "API contract v1, part 2": Automation)."""

from __future__ import annotations

from tidings.automation.step_kinds import (
    condition,
    finish,
    lists,
    send_email,
    set_field,
    wait,
)
from tidings.automation.step_kinds.base import StepKind

STEPS: dict[str, StepKind] = {
    kind.name: kind
    for kind in (
        send_email.KIND,
        wait.KIND,
        condition.KIND,
        set_field.KIND,
        lists.ADD,
        lists.REMOVE,
        finish.KIND,
    )
}
