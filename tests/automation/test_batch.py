"""Contacts of one batch of events enter an automation together (one insert, one
``send_email`` batch), with the same outcome as one by one: recurrence, erased and
suppressed contacts, counts and events; a batch that fails is rolled back and every
contact enters on its own."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select, update

from tests.automation.helpers import create, deliver, make_contact, make_email, make_list, runs
from tidings.automation import service
from tidings.automation.models import AutomationRun
from tidings.contacts.models import Contact
from tidings.emails.models import Email
from tidings.events import EventType
from tidings.events.models import OutboxEvent
from tidings.lists import service as lists
from tidings.privacy.erasure import erase_contact
from tidings.runtime import Runtime
from tidings.sending.models import Delivery
from tidings.suppression.models import SuppressionReason
from tidings.suppression.service import suppress

ONE_BY_ONE = "enter one by one"


def _process(runtime: Runtime, list_id: int, email_id: int, recurrence: str) -> int:
    return create(
        runtime,
        name=f"Welcome {recurrence}",
        trigger={"type": "subscribed", "list_id": list_id},
        steps=[
            {"id": "send", "type": "send_email", "email_id": email_id},
            {"id": "tag", "type": "set_field", "field": "welcomed", "value": True},
        ],
        recurrence=recurrence,
    )


def _subscribe_all(runtime: Runtime, list_id: int, contact_ids: list[int]) -> None:
    """Subscriptions of several contacts in one transaction (one batch of events)."""
    with runtime.session() as session:
        for cid in contact_ids:
            lists.unsubscribe(session=session, list_id=list_id, contact_id=cid)
            lists.subscribe(session=session, list_id=list_id, contact_id=cid)


def _step_events(runtime: Runtime) -> list[tuple[int, str]]:
    with runtime.session() as session:
        return sorted(
            (int(data["contact_id"]), str(data["step_id"]))
            for data in session.scalars(
                select(OutboxEvent.data).where(OutboxEvent.type == EventType.AUTOMATION_STEP.value)
            )
        )


def _entered(runtime: Runtime, automation_id: int) -> list[int]:
    with runtime.session() as session:
        automation = service.get(session=session, automation_id=automation_id)
        return [f.entered for f in service.figures(session=session, automation=automation).steps]


def test_a_batch_enters_together_as_one_by_one_would(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    email_id, list_id = make_email(runtime), make_list(runtime)
    always = _process(runtime, list_id, email_id, "always")
    once = _process(runtime, list_id, email_id, "once")
    ann, bo, cy, di = (make_contact(runtime, f"{n}@example.com") for n in ("ann", "bo", "cy", "di"))
    with runtime.session() as session:
        suppress(session=session, email="cy@example.com", reason=SuppressionReason.MANUAL)
    # Ann subscribes twice in the batch; Di is erased before the batch is handled.
    _subscribe_all(runtime, list_id, [ann, bo, cy, ann, di])
    with runtime.session() as session:
        erase_contact(session=session, contact_id=di)
    with caplog.at_level(logging.INFO):
        deliver(runtime)
    assert ONE_BY_ONE not in caplog.text  # the batch itself went through
    assert sorted(runs(runtime, always)) == [
        (ann, "tag", "finished", 1),
        (ann, "tag", "finished", 2),
        (bo, "tag", "finished", 1),
        (cy, "tag", "finished", 1),
    ]
    assert sorted(runs(runtime, once)) == [
        (ann, "tag", "finished", 1),
        (bo, "tag", "finished", 1),
        (cy, "tag", "finished", 1),
    ]
    assert _entered(runtime, always) == [4, 4]
    assert _entered(runtime, once) == [3, 3]
    with runtime.session() as session:
        rows = session.execute(
            select(Delivery.contact_id, Delivery.status, Delivery.error, Delivery.idempotency_key)
        ).all()
        welcomed = set(session.scalars(select(Contact.id).where(Contact.fields.is_not(None))))
    assert sorted((cid, status) for cid, status, _, _ in rows) == sorted(
        [(ann, "pending")] * 3 + [(bo, "pending")] * 2 + [(cy, "skipped")] * 2
    )
    assert {error for cid, _, error, _ in rows if cid == cy} == {
        "the address is on the suppression list"
    }
    assert len({key for *_, key in rows}) == len(rows)  # one key per step of each run
    assert welcomed == {ann, bo, cy}
    # Every step a contact entered is published once.
    assert len(_step_events(runtime)) == 2 * (4 + 3)


def test_a_failing_batch_is_rolled_back_and_each_contact_enters_alone(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    email_id, list_id = make_email(runtime), make_list(runtime)
    automation_id = _process(runtime, list_id, email_id, "once")
    ann, bo = make_contact(runtime), make_contact(runtime, "bo@example.com")
    with runtime.session() as session:
        session.execute(update(Email).where(Email.id == email_id).values(purpose="regular"))
    _subscribe_all(runtime, list_id, [ann, bo])
    with caplog.at_level(logging.INFO):
        deliver(runtime)
    assert ONE_BY_ONE in caplog.text
    assert sorted(runs(runtime, automation_id)) == [
        (ann, "send", "failed", 1),
        (bo, "send", "failed", 1),
    ]
    with runtime.session() as session:
        errors = set(session.scalars(select(AutomationRun.error)))
        assert session.scalar(select(func.count()).select_from(Delivery)) == 0
    assert errors == {f"email {email_id} is no longer an automation email"}
    # The rolled-back batch left no count and no event behind: each contact once.
    assert _entered(runtime, automation_id) == [2, 0]
    assert _step_events(runtime) == sorted([(ann, "send"), (bo, "send")])
