"""Automation pages (B13): list, editor (trigger form and steps), the process as a
vertical flow with per-step counts and the contacts at each step, enable/disable."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import Response

from tidings.automation import flow as flows
from tidings.automation import service
from tidings.automation.admin_flow import condition_views, flow_data
from tidings.automation.definition import STEP_ID
from tidings.automation.models import Automation, AutomationRun, Recurrence
from tidings.automation.step_kinds.registry import STEPS
from tidings.automation.trigger_kinds.registry import TRIGGERS
from tidings.contacts.admin import register_panel
from tidings.contacts.models import Contact
from tidings.emails.models import Email, Link
from tidings.errors import Invalid
from tidings.groups.admin_builder import condition_builder
from tidings.groups.admin_words import describe, load_names, plain
from tidings.groups.models import ContactGroup
from tidings.lists.models import RecipientList
from tidings.values import Id, parse_id
from tidings.web.admin import admin_router, flash, page, redirect
from tidings.web.deps import SessionDep

TEMPLATES = Path(__file__).with_name("templates")
router = admin_router("/automations")
MAX_STEPS_TEXT = 200_000
PER_STEP = 20
PER_FOCUSED_STEP = 500  # the contacts at the step the page was opened on (?step=)
FormItems = dict[str, str]


async def form_fields(request: Request) -> FormItems:
    """The posted fields (each once), NUL characters dropped."""
    form = await request.form()
    return {
        key: value.replace("\x00", "")[:MAX_STEPS_TEXT]
        for key, value in form.items()
        if isinstance(value, str)
    }


FormDep = Annotated[FormItems, Depends(form_fields)]


@router.get("")
def automations_page(request: Request, session: SessionDep) -> Response:
    """Every automation with its trigger and how many contacts are in it."""
    rows = [
        {
            "automation": a,
            "trigger": TRIGGERS[a.trigger["type"]].label,
            "figures": service.figures(session=session, automation=a),
        }
        for a in service.list_automations(session=session)
    ]
    return page(request, "automation/list.html", {"section": "automations", "rows": rows})


# Editor


@dataclass
class EditorState:
    """What the editor shows, as typed, and why it was refused."""

    name: str = ""
    recurrence: str = Recurrence.ONCE.value
    enabled: bool = True
    trigger: dict[str, Any] = field(default_factory=lambda: {"type": "email_click"})
    steps_text: str = "[]"
    error: str = ""
    # The steps as a flow for the flow editor (``None``: they can only be edited as JSON).
    flow: list[dict[str, Any]] | None = field(default_factory=list)
    error_step: str = ""
    # The refusal in the editor's words (the step named by its id, not its position).
    error_words: str = ""


TRIGGER_FIELDS = ("email_id", "link_id", "list_id", "group_id", "form_id")
TRIGGER_TEXTS = ("url_contains", "activity_type", "value_contains")
# Which fields each trigger type takes from the form.
TRIGGER_KEYS: dict[str, tuple[str, ...]] = {
    "email_click": ("email_id", "link_id", "url_contains"),
    "email_open": ("email_id",),
    "form_submission": ("form_id",),
    "subscribed": ("list_id",),
    "joined_group": ("group_id",),
    "activity": ("activity_type", "value_contains"),
}


def _read(items: FormItems) -> tuple[EditorState, Any]:
    """The state to show again and the steps JSON (``Invalid`` if it does not parse)."""
    kind = items.get("trigger_type", "")
    trigger: dict[str, Any] = {"type": kind}
    for key in TRIGGER_KEYS.get(kind, ()):
        raw = items.get(f"trigger_{key}", "").strip()
        if not raw:
            continue
        trigger[key] = parse_id(raw, f"trigger.{key}") if key in TRIGGER_FIELDS else raw
    state = EditorState(
        name=items.get("name", ""),
        recurrence=items.get("recurrence", Recurrence.ONCE.value),
        enabled=items.get("enabled") == "on",
        trigger=trigger,
        steps_text=items.get("steps", ""),
    )
    if items.get("mode") == "flow":
        drawn = _json(items.get("flow", ""), "flow")
        steps = flows.to_steps(drawn)
        state.flow = drawn
        state.steps_text = json.dumps(steps, indent=2, ensure_ascii=False)
        return state, steps
    steps = _json(state.steps_text, "steps")
    state.flow = flows.to_flow(steps)
    return state, steps


def _json(text: str, what: str) -> Any:
    try:
        return json.loads(text or "[]")
    except (ValueError, RecursionError) as exc:
        raise Invalid(f"{what}: not valid JSON ({exc})") from None


def _posted(items: FormItems) -> EditorState:
    """What was posted, to show again when even reading it fails."""
    state = EditorState(name=items.get("name", ""), steps_text=items.get("steps", ""), flow=None)
    try:
        if items.get("mode") == "flow":
            drawn = _json(items.get("flow", ""), "flow")
            flows.to_steps(drawn)
            state.flow = drawn
        else:
            state.flow = flows.to_flow(_json(state.steps_text, "steps"))
    except Invalid:
        pass
    return state


STEP_PATH = re.compile(r"steps\[(\d+)\]")


def _refused(state: EditorState, exc: Invalid) -> None:
    """Keep the message, and the id of the step it is about (shown next to that step)."""
    state.error = str(exc.detail)
    found = STEP_PATH.match(state.error)
    if found is None:
        return
    try:
        step = json.loads(state.steps_text)[int(found.group(1))]
    except (ValueError, IndexError, TypeError, RecursionError):
        return
    if isinstance(step, dict) and isinstance(step.get("id"), str) and STEP_ID.fullmatch(step["id"]):
        state.error_step = step["id"]
        state.error_words = f"Step {step['id']}: {state.error[found.end() :].lstrip('.')}"


def _choices(session: Session) -> dict[str, Any]:
    emails = list(session.execute(select(Email.id, Email.name, Email.purpose).order_by(Email.id)))
    links = list(
        session.execute(
            select(Link.id, Link.email_id, Link.url).order_by(Link.email_id, Link.position)
        )
    )
    return {
        "emails": emails,
        "automation_emails": [e for e in emails if e.purpose == "automation"],
        "email_names": {e.id: e.name for e in emails},
        "links": links,
        "lists": list(
            session.execute(
                select(RecipientList.id, RecipientList.name).order_by(RecipientList.name)
            )
        ),
        "groups": list(
            session.execute(select(ContactGroup.id, ContactGroup.name).order_by(ContactGroup.name))
        ),
        "triggers": [(name, kind.label) for name, kind in TRIGGERS.items()],
        "step_kinds": [(name, kind.label) for name, kind in STEPS.items()],
        "recurrences": [r.value for r in Recurrence],
    }


def _editor(
    request: Request, session: Session, state: EditorState, automation: Automation | None
) -> Response:
    context: dict[str, Any] = {"section": "automations", "automation": automation, "state": state}
    context |= _choices(session)
    context["flow_data"] = flow_data(session, state.flow, state.error_step, state.error, automation)
    context["condition_views"] = condition_views(session, state.flow, state.error_step, state.error)
    context["blank_condition"] = condition_builder(session, {"all": []})
    return page(request, "automation/editor.html", context, status_code=422 if state.error else 200)


@router.get("/new")
def new_automation(request: Request, session: SessionDep) -> Response:
    """An empty editor."""
    return _editor(request, session, EditorState(), None)


@router.post("/new")
def create_automation(request: Request, session: SessionDep, items: FormDep) -> Response:
    """Create the automation from the form."""
    state = _posted(items)
    try:
        state, steps = _read(items)
        automation = service.create(
            session=session,
            name=state.name,
            trigger=state.trigger,
            steps=steps,
            recurrence=state.recurrence,
            enabled=state.enabled,
        )
    except Invalid as exc:
        session.rollback()
        _refused(state, exc)
        return _editor(request, session, state, None)
    flash(request, "The automation was created.")
    return redirect(f"/automations/{automation.id}")


@router.get("/{automation_id}/edit")
def edit_automation(request: Request, session: SessionDep, automation_id: Id) -> Response:
    """The editor filled with the automation."""
    automation = service.get(session=session, automation_id=automation_id)
    state = EditorState(
        name=automation.name,
        recurrence=automation.recurrence,
        enabled=automation.enabled,
        trigger=dict(automation.trigger),
        steps_text=json.dumps(automation.steps, indent=2, ensure_ascii=False),
        flow=flows.to_flow(automation.steps),
    )
    return _editor(request, session, state, automation)


@router.post("/{automation_id}/edit")
def save_automation(
    request: Request, session: SessionDep, automation_id: Id, items: FormDep
) -> Response:
    """Save the changed definition."""
    automation = service.get(session=session, automation_id=automation_id)
    state = _posted(items)
    try:
        state, steps = _read(items)
        service.update(
            session=session,
            automation=automation,
            name=state.name,
            trigger=state.trigger,
            steps=steps,
            recurrence=state.recurrence,
            enabled=state.enabled,
        )
    except Invalid as exc:
        session.rollback()
        _refused(state, exc)
        return _editor(request, session, state, automation)
    flash(request, "The automation was saved.")
    return redirect(f"/automations/{automation.id}")


# The process


def _step_words(step: dict[str, Any], names: dict[str, Any]) -> str:
    kind = step["type"]
    if kind == "send_email":
        return f"Send “{names['emails'].get(step['email_id'], step['email_id'])}”"
    if kind == "wait":
        if "seconds" in step:
            return f"Wait {_duration(int(step['seconds']))}"
        return f"Wait until {step['until']} UTC"
    if kind == "condition":
        return f"If the contact matches: {plain(describe(step['condition'], names['conditions']))}"
    if kind == "set_field":
        return f"Set {step['field']} to {json.dumps(step['value'], ensure_ascii=False)}"
    if kind in ("add_to_list", "remove_from_list"):
        name = names["lists"].get(step["list_id"], step["list_id"])
        return f"{'Add to' if kind == 'add_to_list' else 'Remove from'} the list “{name}”"
    if kind == "log_activity":
        return f"Log {step['activity_type']}" + (f" “{step['value']}”" if "value" in step else "")
    if kind == "webhook":
        return f"Call the webhook {step['url']}"
    return "Finish"


def _duration(seconds: int) -> str:
    for unit, size in (("day", 86_400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            n = seconds // size
            return f"{n} {unit}{'' if n == 1 else 's'}"
    return f"{seconds} second{'' if seconds == 1 else 's'}"


def _trigger_words(trigger: dict[str, Any], names: dict[str, Any]) -> str:
    words = TRIGGERS[trigger["type"]].label
    if trigger.get("email_id"):
        words += f" “{names['emails'].get(trigger['email_id'], trigger['email_id'])}”"
    if trigger.get("link_id"):
        link = names["links"].get(trigger["link_id"], f"#{trigger['link_id']}")
        words += f", link {link}"
    if trigger.get("url_contains"):
        words += f", URL containing “{trigger['url_contains']}”"
    if trigger.get("list_id"):
        words += f" “{names['lists'].get(trigger['list_id'], trigger['list_id'])}”"
    if trigger.get("group_id"):
        words += f" “{names['groups'].get(trigger['group_id'], trigger['group_id'])}”"
    if trigger.get("activity_type"):
        words += f": {trigger['activity_type']}"
    if trigger.get("value_contains"):
        words += f" with value containing “{trigger['value_contains']}”"
    if trigger.get("form_id"):
        words += f" (form {trigger['form_id']})"
    return words


@router.get("/{automation_id}")
def automation_page(
    request: Request,
    session: SessionDep,
    automation_id: Id,
    step: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """The process as a flow: per-step counts and the contacts standing at each step."""
    automation = service.get(session=session, automation_id=automation_id)
    figures = service.figures(session=session, automation=automation)
    names = {
        "emails": dict(session.execute(select(Email.id, Email.name)).all()),
        "links": dict(
            session.execute(
                select(Link.id, Link.url).where(Link.id == automation.trigger.get("link_id"))
            ).all()
        ),
        "lists": dict(session.execute(select(RecipientList.id, RecipientList.name)).all()),
        "groups": dict(session.execute(select(ContactGroup.id, ContactGroup.name)).all()),
        "conditions": load_names(
            session,
            [dict(s["condition"]) for s in automation.steps if s["type"] == "condition"],
        ),
    }
    standing: dict[str, list[tuple[AutomationRun, Contact]]] = {}
    for f in figures.steps:
        if f.waiting:
            rows = session.execute(
                select(AutomationRun, Contact)
                .join(Contact, Contact.id == AutomationRun.contact_id)
                .where(
                    AutomationRun.automation_id == automation.id,
                    AutomationRun.step_id == f.step["id"],
                    AutomationRun.status.in_(("running", "waiting")),
                )
                .order_by(AutomationRun.id)
                .limit(PER_FOCUSED_STEP if f.step["id"] == step else PER_STEP)
            ).all()
            standing[f.step["id"]] = [(run, contact) for run, contact in rows]
    done = session.execute(
        select(AutomationRun, Contact)
        .join(Contact, Contact.id == AutomationRun.contact_id)
        .where(
            AutomationRun.automation_id == automation.id,
            AutomationRun.status.in_(("finished", "failed")),
        )
        .order_by(AutomationRun.since.desc())
        .limit(PER_STEP)
    ).all()
    steps: list[dict[str, Any]] = [
        {"figures": f, "words": _step_words(dict(f.step), names), "step": f.step}
        for f in figures.steps
    ]
    context = {
        "section": "automations",
        "automation": automation,
        "figures": figures,
        "steps": steps,
        "by_id": {item["step"]["id"]: item for item in steps},
        "drawn": flows.to_flow(automation.steps),
        "trigger_words": _trigger_words(automation.trigger, names),
        "standing": standing,
        "done": [(run, contact) for run, contact in done],
        "focus": step,
        "steps_json": json.dumps(automation.steps, indent=2, ensure_ascii=False),
    }
    return page(request, "automation/detail.html", context)


@router.post("/{automation_id}/enabled")
def set_enabled(
    request: Request, session: SessionDep, automation_id: Id, items: FormDep
) -> Response:
    """Enable or disable (the button asks for confirmation first)."""
    automation = service.get(session=session, automation_id=automation_id)
    enabled = items.get("enabled") == "1"
    service.update(session=session, automation=automation, enabled=enabled)
    flash(
        request,
        "The automation is enabled: new contacts enter it and waits go on."
        if enabled
        else "The automation is disabled: no one enters, and contacts in it stay where they are.",
    )
    return redirect(f"/automations/{automation.id}")


@router.post("/{automation_id}/delete")
def delete_automation(request: Request, session: SessionDep, automation_id: Id) -> Response:
    """Delete the automation (the button asks for confirmation first)."""
    service.delete(
        session=session, automation=service.get(session=session, automation_id=automation_id)
    )
    flash(request, "The automation was deleted.")
    return redirect("/automations")


def contact_processes(session: Session, contact_id: int) -> list[dict[str, Any]]:
    """The processes a contact is in or went through, for the contact page."""
    return [
        {"run": run, "name": name}
        for run, name in service.runs_of_contact(session=session, contact_id=contact_id)
    ]


register_panel(
    "automation/_contact_processes.html",
    lambda session, contact_id: {"processes": contact_processes(session, contact_id)},
)
