"""The table of trigger kinds (SPEC "API contract v1, part 2": Automation)."""

from __future__ import annotations

from tidings.automation.trigger_kinds import (
    activity,
    email_click,
    email_open,
    form_submission,
    joined_group,
    subscribed,
)
from tidings.automation.trigger_kinds.base import TriggerKind

TRIGGERS: dict[str, TriggerKind] = {
    kind.name: kind
    for kind in (
        email_click.KIND,
        email_open.KIND,
        form_submission.KIND,
        subscribed.KIND,
        joined_group.KIND,
        activity.KIND,
    )
}

EVENT_TYPES: frozenset[str] = frozenset().union(*(k.event_types for k in TRIGGERS.values()))
