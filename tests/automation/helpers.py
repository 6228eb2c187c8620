"""Rows automation tests need, made through the real services."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from tidings.automation import service
from tidings.automation.jobs import resume_all
from tidings.automation.models import AutomationRun
from tidings.automation.triggers import SUBSCRIBER
from tidings.contacts import service as contacts
from tidings.db.base import utcnow
from tidings.emails import service as emails
from tidings.emails.models import EmailPurpose
from tidings.events import drain
from tidings.lists import service as lists
from tidings.runtime import Runtime


def make_email(runtime: Runtime, *, purpose: str = EmailPurpose.AUTOMATION.value) -> int:
    with runtime.session() as session:
        email = emails.create(
            session=session,
            name=f"Follow-up {purpose}",
            subject="About pricing",
            html='<p>Hi! <a href="https://example.com/pricing/pro">See plans</a></p>',
            sender_name="Tidings Test",
            sender_address="news@example.com",
            purpose=purpose,
        )
        return email.id


def make_list(runtime: Runtime, name: str = "Leads") -> int:
    with runtime.session() as session:
        return lists.create_list(session=session, name=name).id


def make_contact(runtime: Runtime, address: str = "ann@example.com") -> int:
    with runtime.session() as session:
        return contacts.create(session=session, email=address).id


def subscribe(runtime: Runtime, list_id: int, contact_id: int) -> None:
    """(Re)subscribe through the lists service, which publishes ``subscription.changed``
    each time the status becomes ``subscribed``."""
    with runtime.session() as session:
        lists.unsubscribe(session=session, list_id=list_id, contact_id=contact_id)
        lists.subscribe(session=session, list_id=list_id, contact_id=contact_id)


def create(runtime: Runtime, **fields: object) -> int:
    with runtime.session() as session:
        return service.create(session=session, **fields).id  # type: ignore[arg-type]


def deliver(runtime: Runtime) -> None:
    """Hand every pending event to the automation subscriber."""
    drain(runtime, [SUBSCRIBER])


def fast_forward(runtime: Runtime) -> int:
    """Make every wait due now and run the scheduler's pass."""
    with runtime.session() as session:
        session.execute(
            update(AutomationRun)
            .where(AutomationRun.waiting_until.is_not(None))
            .values(waiting_until=utcnow() - timedelta(seconds=1))
        )
    return resume_all(runtime)


def runs(runtime: Runtime, automation_id: int) -> list[tuple[int, str | None, str, int]]:
    """(contact, step, status, run number) of every run, by id."""
    with runtime.session() as session:
        return [
            (r.contact_id, r.step_id, r.status, r.run_number)
            for r in session.scalars(
                select(AutomationRun)
                .where(AutomationRun.automation_id == automation_id)
                .order_by(AutomationRun.id)
            )
        ]
