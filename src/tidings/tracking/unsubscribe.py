"""Unsubscribe through a delivery's signed token (B8)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import insert, update
from sqlalchemy.orm import Session

from tidings.activities.models import Activity, ActivityType
from tidings.activities.service import event_data
from tidings.consent.policy import TrackingPolicy
from tidings.db.base import utcnow
from tidings.emails.models import Email
from tidings.events import EventType, publish
from tidings.lists import service as lists
from tidings.lists.models import RecipientList, SubscriptionStatus
from tidings.sending.models import Delivery, Mailout
from tidings.stats.models import EmailStats


@dataclass(frozen=True)
class UnsubscribeTarget:
    """Who a token unsubscribes, and from what."""

    delivery_id: int
    contact_id: int | None
    email_id: int
    list_id: int | None
    list_name: str


def target(session: Session, delivery_id: int) -> UnsubscribeTarget | None:
    """What the token's delivery points at, or None if it is unknown."""
    delivery = session.get(Delivery, delivery_id)
    if delivery is None:
        return None
    list_id: int | None = None
    if delivery.mailout_id is not None:
        mailout = session.get(Mailout, delivery.mailout_id)
        list_id = mailout.recipient_list_id if mailout else None
    if list_id is None:
        email = session.get(Email, delivery.email_id)
        list_id = email.recipient_list_id if email else None
    recipient_list = session.get(RecipientList, list_id) if list_id is not None else None
    return UnsubscribeTarget(
        delivery_id=delivery.id,
        contact_id=delivery.contact_id,
        email_id=delivery.email_id,
        list_id=list_id,
        list_name=recipient_list.name if recipient_list else "this list",
    )


def unsubscribe(
    session: Session, where: UnsubscribeTarget, *, everything: bool, policy: TrackingPolicy
) -> bool:
    """Unsubscribe now; returns True if anything changed. Counted once per contact."""
    if where.contact_id is None:
        return False
    changed = False
    if where.list_id is not None:
        sub = lists.subscription(
            session=session, list_id=where.list_id, contact_id=where.contact_id
        )
        if sub is not None and sub.status != SubscriptionStatus.UNSUBSCRIBED.value:
            lists.unsubscribe(
                session=session,
                list_id=where.list_id,
                contact_id=where.contact_id,
                source="email_link",
            )
            changed = True
    if everything:
        from tidings.contacts.models import Contact

        contact = session.get(Contact, where.contact_id)
        if contact is not None and contact.opted_out_at is None:
            lists.opt_out(session=session, contact_id=where.contact_id)
            changed = True
    if not changed:
        return False
    session.execute(
        update(EmailStats)
        .where(EmailStats.email_id == where.email_id)
        .values(unsubscribes=EmailStats.unsubscribes + 1)
    )
    now = utcnow()
    allowed = policy.allowed(session, [(where.contact_id, where.email_id)], now)
    consent_id = allowed.get((where.contact_id, where.email_id))
    if (where.contact_id, where.email_id) in allowed:
        value = "all" if everything else where.list_name
        activity_id = session.execute(
            insert(Activity)
            .values(
                contact_id=where.contact_id,
                type=ActivityType.EMAIL_UNSUBSCRIBE.value,
                email_id=where.email_id,
                value=value,
                consent_id=consent_id,
                occurred_at=now,
            )
            .returning(Activity.id)
        ).scalar_one()
        publish(
            session,
            EventType.ACTIVITY_CREATED,
            event_data(
                activity_id=activity_id,
                contact_id=where.contact_id,
                type=ActivityType.EMAIL_UNSUBSCRIBE.value,
                value=value,
                email_id=where.email_id,
                link_id=None,
                occurred_at=now,
            ),
        )
    return True
