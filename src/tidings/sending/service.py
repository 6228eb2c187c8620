"""Start mailouts and report their progress."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, func, insert, literal, select
from sqlalchemy.orm import Session

from tidings.contacts.models import Contact
from tidings.db.base import utcnow
from tidings.emails.models import Email, EmailPurpose
from tidings.errors import Conflict, Invalid, NotFound
from tidings.groups.models import ContactGroup
from tidings.groups.service import is_member, member_ids_select
from tidings.lists.models import Subscription, SubscriptionStatus
from tidings.sending import gate
from tidings.sending.models import (
    ACTIVE_MAILOUT_STATES,
    SENT_STATE_VALUES,
    Delivery,
    DeliveryCounts,
    DeliveryStatus,
    Mailout,
    MailoutStatus,
)
from tidings.sending.schemas import MailoutProgress

RUN_MAILOUT_JOB = "sending.run_mailout"


def recipient_conditions(
    *, email_id: int, list_id: int, include_group: int | None, exclude_group: int | None
) -> list[ColumnElement[bool]]:
    """Who a mailout of this email started now reaches, over ``Subscription`` joined
    with ``Contact``: subscribed, not opted out, not suppressed, not yet sent this
    email (bounced messages were sent), and within / outside the given contact groups."""
    already = select(Delivery.contact_id).where(
        Delivery.email_id == email_id,
        Delivery.contact_id.is_not(None),
        # Sent (bounced ones too: they were sent) or about to be.
        Delivery.status.in_([*SENT_STATE_VALUES, DeliveryStatus.PENDING.value]),
    )
    conditions: list[ColumnElement[bool]] = [
        Subscription.list_id == list_id,
        Subscription.status == SubscriptionStatus.SUBSCRIBED.value,
        *gate.mailout_conditions(),
        # A later mailout of the same email reaches only those not yet sent it.
        Contact.id.not_in(already),
    ]
    if include_group is not None:
        conditions.append(Contact.id.in_(member_ids_select(include_group)))
    if exclude_group is not None:
        # NOT EXISTS: NOT IN over a large group degrades to a scan per row on PostgreSQL.
        conditions.append(~is_member(exclude_group, Contact.id.expression))
    return conditions


def _check_group(session: Session, group_id: int) -> None:
    if session.get(ContactGroup, group_id) is None:
        raise NotFound(f"contact group {group_id} not found")


def start_mailout(
    *,
    session: Session,
    email_id: int,
    contact_group_id: int | None = None,
    exclude_contact_group_id: int | None = None,
    send_at: datetime | None = None,
) -> Mailout:
    """Snapshot the recipients of a regular email into pending deliveries.

    Skips contacts who unsubscribed from the list or opted out globally. The mailout
    runs in a worker once this transaction commits. With ``send_at`` in the future the
    mailout is ``scheduled``: its recipients are taken when it is due
    (``sending.control.start_due``), so later subscribers and opt-outs count.
    """
    if send_at is not None and send_at.tzinfo is None:
        raise Invalid("send_at: give a time zone (e.g. 2026-12-24T09:00:00+01:00)")
    email = session.get(Email, email_id)
    if email is None:
        raise NotFound(f"email {email_id} not found")
    if email.purpose != EmailPurpose.REGULAR.value:
        raise Invalid(f"only regular emails are sent to a list; this one is {email.purpose}")
    if email.recipient_list_id is None:
        raise Invalid("the email has no recipient list")
    active = session.scalar(
        select(Mailout.id).where(
            Mailout.email_id == email_id,
            Mailout.status.in_(ACTIVE_MAILOUT_STATES),
        )
    )
    if active is not None:
        raise Conflict(f"mailout {active} of this email is still running or scheduled")
    for group_id in (contact_group_id, exclude_contact_group_id):
        if group_id is not None:
            _check_group(session, group_id)
    mailout = Mailout(
        email_id=email_id,
        recipient_list_id=email.recipient_list_id,
        contact_group_id=contact_group_id,
        exclude_contact_group_id=exclude_contact_group_id,
        status=MailoutStatus.QUEUED.value,
        send_at=send_at,
    )
    session.add(mailout)
    session.flush()
    if send_at is not None and send_at > utcnow():
        mailout.status = MailoutStatus.SCHEDULED.value
        session.flush()
        return mailout
    take_recipients(session=session, mailout=mailout)
    runtime = session.info.get("runtime")
    if runtime is not None:
        runtime.queue.enqueue_after_commit(session, RUN_MAILOUT_JOB, mailout_id=mailout.id)
    return mailout


def take_recipients(*, session: Session, mailout: Mailout) -> None:
    """Snapshot who the mailout reaches now into its pending deliveries."""
    email_id = mailout.email_id
    list_id = mailout.recipient_list_id
    if list_id is None:
        raise Invalid("the email has no recipient list")
    conditions = recipient_conditions(
        email_id=email_id,
        list_id=list_id,
        include_group=mailout.contact_group_id,
        exclude_group=mailout.exclude_contact_group_id,
    )
    recipients = (
        select(
            literal(mailout.id),
            literal(email_id),
            Contact.id,
            literal(DeliveryStatus.PENDING.value),
            literal(0),
            literal(utcnow(), Delivery.created_at.type),
        )
        .select_from(Subscription)
        .join(Contact, Contact.id == Subscription.contact_id)
        .where(*conditions)
        .order_by(Contact.id)
    )
    session.execute(
        insert(Delivery).from_select(
            ["mailout_id", "email_id", "contact_id", "status", "attempts", "created_at"],
            recipients,
        )
    )
    mailout.total = (
        session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.mailout_id == mailout.id)
        )
        or 0
    )
    session.flush()


def get_mailout(*, session: Session, mailout_id: int) -> Mailout:
    """The mailout or ``NotFound``."""
    mailout = session.get(Mailout, mailout_id)
    if mailout is None:
        raise NotFound(f"mailout {mailout_id} not found")
    return mailout


def progress(*, session: Session, mailout: Mailout) -> MailoutProgress:
    """Where a mailout stands: its deliveries counted by status."""
    counts = DeliveryCounts.of(
        session.execute(
            select(Delivery.status, func.count())
            .where(Delivery.mailout_id == mailout.id)
            .group_by(Delivery.status)
        ).all()
    )
    return MailoutProgress.of(mailout, counts)
