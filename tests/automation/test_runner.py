"""Processes started from the event stream, run step by step, resumed after waits."""

from __future__ import annotations

from sqlalchemy import func, select

from tests.automation.helpers import (
    create,
    deliver,
    fast_forward,
    make_contact,
    make_email,
    make_list,
    runs,
    subscribe,
)
from tidings.automation import runner, service
from tidings.automation.models import AutomationRun
from tidings.contacts.models import Contact
from tidings.events import EventType, JsonValue, publish
from tidings.events.models import OutboxEvent
from tidings.lists.models import RecipientList
from tidings.privacy.erasure import erase_contact
from tidings.runtime import Runtime
from tidings.sending.models import Delivery


def _process(runtime: Runtime, list_id: int, email_id: int, **extra: object) -> int:
    return create(
        runtime,
        name="Follow-up",
        trigger={"type": "subscribed", "list_id": list_id},
        steps=[
            {"id": "send", "type": "send_email", "email_id": email_id},
            {"id": "pause", "type": "wait", "seconds": 60},
            {
                "id": "check",
                "type": "condition",
                "condition": {"not": {"type": "opened_email", "email_id": email_id}},
                "yes": "cold",
                "no": None,
            },
            {"id": "cold", "type": "set_field", "field": "lead_status", "value": "cold"},
        ],
        **extra,
    )


def test_a_process_runs_to_its_wait_then_on_to_the_end(runtime: Runtime) -> None:
    email_id, list_id = make_email(runtime), make_list(runtime)
    automation_id = _process(runtime, list_id, email_id)
    ann = make_contact(runtime)
    subscribe(runtime, list_id, ann)
    deliver(runtime)
    assert runs(runtime, automation_id) == [(ann, "pause", "waiting", 1)]
    with runtime.session() as session:
        sent = session.scalars(select(Delivery).where(Delivery.contact_id == ann)).one()
        assert sent.email_id == email_id and sent.mailout_id is None
        assert sent.idempotency_key is not None and sent.idempotency_key.startswith(
            f"automation:{automation_id}:"
        )
        steps = list(
            session.scalars(
                select(OutboxEvent.data).where(OutboxEvent.type == EventType.AUTOMATION_STEP.value)
            )
        )
        assert [s["step_id"] for s in steps] == ["send", "pause"]
    # Not due yet: nothing moves.
    assert runner_pass(runtime) == 0
    assert fast_forward(runtime) == 1
    assert runs(runtime, automation_id) == [(ann, "cold", "finished", 1)]
    with runtime.session() as session:
        contact = session.get(Contact, ann)
        assert contact is not None and contact.fields == {"lead_status": "cold"}
        automation = service.get(session=session, automation_id=automation_id)
        figures = service.figures(session=session, automation=automation)
        assert [(f.step["id"], f.entered, f.waiting) for f in figures.steps] == [
            ("send", 1, 0),
            ("pause", 1, 0),
            ("check", 1, 0),
            ("cold", 1, 0),
        ]
        assert (figures.running, figures.finished, figures.failed) == (0, 1, 0)
        # One message, whatever happens afterwards.
        assert session.scalar(select(func.count()).select_from(Delivery)) == 1


def runner_pass(runtime: Runtime) -> int:
    from tidings.automation.jobs import resume_all

    return resume_all(runtime)


def test_a_run_is_resumed_once(runtime: Runtime) -> None:
    email_id, list_id = make_email(runtime), make_list(runtime)
    automation_id = _process(runtime, list_id, email_id)
    ann = make_contact(runtime)
    subscribe(runtime, list_id, ann)
    deliver(runtime)
    fast_forward(runtime)  # makes it due and resumes it
    with runtime.session() as session:
        run_id = session.scalars(select(AutomationRun.id)).one()
        assert runner.resume(session, run_id) is False
    with runtime.session() as session:
        automation = service.get(session=session, automation_id=automation_id)
        counts = service.figures(session=session, automation=automation)
        assert [f.entered for f in counts.steps] == [1, 1, 1, 1]


def test_recurrence(runtime: Runtime) -> None:
    email_id, list_id = make_email(runtime), make_list(runtime)
    once = _process(runtime, list_id, email_id)
    always = _process(runtime, list_id, email_id, recurrence="always")
    not_running = _process(runtime, list_id, email_id, recurrence="if_not_running")
    ann = make_contact(runtime)
    for _ in range(2):
        subscribe(runtime, list_id, ann)
    deliver(runtime)
    assert [r[3] for r in runs(runtime, once)] == [1]
    assert [r[3] for r in runs(runtime, always)] == [1, 2]
    assert [r[3] for r in runs(runtime, not_running)] == [1]
    fast_forward(runtime)
    subscribe(runtime, list_id, ann)
    deliver(runtime)
    assert [r[3] for r in runs(runtime, once)] == [1]
    assert [r[3] for r in runs(runtime, always)] == [1, 2, 3]
    assert [r[3] for r in runs(runtime, not_running)] == [1, 2]
    # Each run sent its own message; the once-only process sent one.
    with runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(Delivery)) == 1 + 3 + 2


def test_triggers_match_only_their_events(runtime: Runtime) -> None:
    email_id = make_email(runtime)
    clicks = create(
        runtime,
        name="Pricing clicks",
        trigger={"type": "email_click", "email_id": email_id, "url_contains": "/PRICING"},
        steps=[{"id": "mark", "type": "set_field", "field": "hot", "value": True}],
        recurrence="always",
    )
    ann = make_contact(runtime)
    base: dict[str, JsonValue] = {
        "contact_id": ann,
        "email_id": email_id,
        "link_id": 1,
        "value": None,
    }
    with runtime.session() as session:
        for data in (
            base | {"type": "email_click", "url": "https://example.com/pricing/pro"},
            base | {"type": "email_click", "url": "https://example.com/blog"},
            base | {"type": "email_open", "url": None},
            base | {"type": "email_click", "email_id": email_id + 1, "url": "https://x/pricing"},
        ):
            publish(session, EventType.ACTIVITY_CREATED, data)
        # An event about an anonymous interaction would name no contact: nothing starts.
        publish(session, EventType.ACTIVITY_CREATED, base | {"contact_id": None})
    deliver(runtime)
    assert [(r[1], r[2]) for r in runs(runtime, clicks)] == [("mark", "finished")]


def test_disabled_processes_take_no_one_and_hold_their_waits(runtime: Runtime) -> None:
    email_id, list_id = make_email(runtime), make_list(runtime)
    automation_id = _process(runtime, list_id, email_id)
    ann, bo = make_contact(runtime), make_contact(runtime, "bo@example.com")
    subscribe(runtime, list_id, ann)
    deliver(runtime)
    with runtime.session() as session:
        automation = service.get(session=session, automation_id=automation_id)
        service.update(session=session, automation=automation, enabled=False)
    subscribe(runtime, list_id, bo)
    deliver(runtime)
    assert fast_forward(runtime) == 0
    assert runs(runtime, automation_id) == [(ann, "pause", "waiting", 1)]
    with runtime.session() as session:
        automation = service.get(session=session, automation_id=automation_id)
        service.update(session=session, automation=automation, enabled=True)
    assert fast_forward(runtime) == 1
    assert runs(runtime, automation_id) == [(ann, "cold", "finished", 1)]


def test_a_deleted_list_fails_the_step_and_an_erased_contact_leaves(runtime: Runtime) -> None:
    list_id, other = make_list(runtime), make_list(runtime, "Customers")
    automation_id = create(
        runtime,
        name="Move",
        trigger={"type": "subscribed", "list_id": list_id},
        steps=[
            {"id": "pause", "type": "wait", "seconds": 5},
            {"id": "move", "type": "add_to_list", "list_id": other},
        ],
    )
    ann, bo = make_contact(runtime), make_contact(runtime, "bo@example.com")
    subscribe(runtime, list_id, ann)
    subscribe(runtime, list_id, bo)
    deliver(runtime)
    with runtime.session() as session:
        erase_contact(session=session, contact_id=bo)
    with runtime.session() as session:
        gone = session.get(RecipientList, other)
        session.delete(gone)
    fast_forward(runtime)
    assert runs(runtime, automation_id) == [(ann, "move", "failed", 1)]
    with runtime.session() as session:
        run = session.scalars(select(AutomationRun)).one()
        assert run.error == f"recipient list {other} no longer exists"
        automation = service.get(session=session, automation_id=automation_id)
        figures = service.figures(session=session, automation=automation)
        # Counts keep the erased contact's entry.
        assert [f.entered for f in figures.steps] == [2, 1]
