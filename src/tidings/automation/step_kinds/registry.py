"""The table of step kinds (SPEC "API contract v1, part 2": Automation)."""

from __future__ import annotations

from tidings.automation.step_kinds import (
    condition,
    finish,
    lists,
    log_activity,
    send_email,
    set_field,
    wait,
    webhook,
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
        log_activity.KIND,
        webhook.KIND,
        finish.KIND,
    )
}
