"""The automation editor's flow: what its script draws (step types and their inputs,
the emails and lists to pick, the counts), and a condition builder per condition step."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tidings.automation import service
from tidings.automation.models import Automation
from tidings.automation.step_kinds.registry import STEPS
from tidings.emails.models import Email
from tidings.groups.admin_builder import BuilderView, condition_builder
from tidings.lists.models import RecipientList

Flow = list[dict[str, Any]]
STEP_PATH = re.compile(r"steps\[(\d+)\]\.?")

# The inputs of each step type in the flow editor (key, input kind, label); a type
# without an entry gets a JSON box for its keys.
STEP_INPUTS: dict[str, list[dict[str, str]]] = {
    "send_email": [{"key": "email_id", "input": "email", "label": "Email to send"}],
    "wait": [{"key": "seconds", "input": "duration", "label": "Wait for"}],
    "condition": [{"key": "condition", "input": "condition", "label": "If the contact"}],
    "set_field": [
        {"key": "field", "input": "text", "label": "Field", "placeholder": "lead_status"},
        {"key": "value", "input": "value", "label": "Value (empty removes the field)"},
    ],
    "add_to_list": [{"key": "list_id", "input": "list", "label": "List"}],
    "remove_from_list": [{"key": "list_id", "input": "list", "label": "List"}],
    "log_activity": [
        {
            "key": "activity_type",
            "input": "text",
            "label": "Activity type",
            "placeholder": "custom:lead_scored",
        },
        {"key": "value", "input": "optional", "label": "Value (optional)"},
    ],
    "webhook": [{"key": "url", "input": "text", "label": "URL", "placeholder": "https://"}],
    "finish": [],
}


def flow_data(
    session: Session,
    flow: Flow | None,
    error_step: str,
    error: str,
    automation: Automation | None,
) -> str:
    """What the flow editor script draws, as one JSON document."""
    counts: dict[str, list[int]] = {}
    if automation is not None:
        figures = service.figures(session=session, automation=automation)
        counts = {str(f.step["id"]): [f.entered, f.waiting] for f in figures.steps}
    emails = session.execute(
        select(Email.id, Email.name).where(Email.purpose == "automation").order_by(Email.id)
    )
    lists = session.execute(
        select(RecipientList.id, RecipientList.name).order_by(RecipientList.name)
    )
    data = {
        "flow": flow,
        "kinds": [
            {"name": name, "label": kind.label, "inputs": STEP_INPUTS.get(name)}
            for name, kind in STEPS.items()
        ],
        "emails": [{"id": e.id, "name": e.name} for e in emails],
        "lists": [{"id": x.id, "name": x.name} for x in lists],
        "counts": counts,
        "error_step": error_step,
        "error": error,
    }
    return json.dumps(data, ensure_ascii=False)


def _nodes(flow: Flow) -> Iterator[dict[str, Any]]:
    for node in flow:
        yield node
        for branch in ("yes", "no"):
            if isinstance(node.get(branch), list):
                yield from _nodes(node[branch])


def condition_views(
    session: Session, flow: Flow | None, error_step: str, error: str
) -> list[tuple[str, BuilderView]]:
    """A condition builder for each condition step of the flow (the refusal's path
    inside the condition outlines its row)."""
    views: list[tuple[str, BuilderView]] = []
    for node in _nodes(flow or []):
        if node.get("type") != "condition":
            continue
        mine = ""
        found = STEP_PATH.match(error)
        if node["id"] == error_step and found and error[found.end() :].startswith("condition"):
            mine = error[found.end() :]
        data = node.get("condition")
        if isinstance(data, str):
            views.append((node["id"], condition_builder(session, None, text=data, error=mine)))
        else:
            views.append((node["id"], condition_builder(session, data, error=mine)))
    return views
