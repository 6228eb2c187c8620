"""Recipient lists, subscriptions and opt-outs (B8)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from tidings.contacts.models import Contact
from tidings.db.base import utcnow
from tidings.errors import Invalid, NotFound
from tidings.events import EventType, publish
from tidings.lists.models import RecipientList, Subscription, SubscriptionStatus


def create_list(*, session: Session, name: str) -> RecipientList:
    """Create a recipient list."""
    if not name.strip():
        raise Invalid("a list needs a name")
    recipient_list = RecipientList(name=name.strip())
    session.add(recipient_list)
    session.flush()
    return recipient_list


def get_list(*, session: Session, list_id: int) -> RecipientList:
    """The list with ``list_id`` or ``NotFound``."""
    recipient_list = session.get(RecipientList, list_id)
    if recipient_list is None:
        raise NotFound(f"recipient list {list_id} not found")
    return recipient_list


def subscription(*, session: Session, list_id: int, contact_id: int) -> Subscription | None:
    """The contact's subscription to the list, if any."""
    return session.scalars(
        select(Subscription).where(
            Subscription.list_id == list_id, Subscription.contact_id == contact_id
        )
    ).one_or_none()


def subscribe(
    *, session: Session, list_id: int, contact_id: int, source: str = "api"
) -> Subscription:
    """Subscribe a contact directly (no opt-in mail)."""
    get_list(session=session, list_id=list_id)
    if session.get(Contact, contact_id) is None:
        raise NotFound(f"contact {contact_id} not found")
    sub = subscription(session=session, list_id=list_id, contact_id=contact_id)
    if sub is None:
        sub = Subscription(list_id=list_id, contact_id=contact_id, source=source[:200])
        session.add(sub)
    changed = sub.status != SubscriptionStatus.SUBSCRIBED.value
    sub.status = SubscriptionStatus.SUBSCRIBED.value
    session.flush()
    if changed:
        subscription_changed(session, sub)
    return sub


def subscription_changed(session: Session, sub: Subscription) -> None:
    """Publish ``subscription.changed`` (and ``contact.unsubscribed`` when it ended)."""
    publish(
        session,
        EventType.SUBSCRIPTION_CHANGED,
        {"contact_id": sub.contact_id, "list_id": sub.list_id, "status": sub.status},
    )
    if sub.status == SubscriptionStatus.UNSUBSCRIBED.value:
        publish(
            session,
            EventType.CONTACT_UNSUBSCRIBED,
            {"contact_id": sub.contact_id, "list_id": sub.list_id},
        )


def subscribe_pending(
    *, session: Session, list_id: int, contact_id: int, source: str
) -> Subscription:
    """Mark a contact ``pending`` on a list until they confirm (double opt-in); a
    subscribed contact stays subscribed. Mailouts reach subscribed contacts only.
    A status that changes is published (``subscription.changed``, status ``pending``):
    nothing starts from it, but the contact's lists changed."""
    sub = subscription(session=session, list_id=list_id, contact_id=contact_id)
    changed = sub is None or sub.status == SubscriptionStatus.UNSUBSCRIBED.value
    if sub is None:
        sub = Subscription(
            list_id=list_id,
            contact_id=contact_id,
            source=source[:200],
            status=SubscriptionStatus.PENDING.value,
        )
        session.add(sub)
    elif sub.status != SubscriptionStatus.SUBSCRIBED.value:
        sub.status = SubscriptionStatus.PENDING.value
        sub.source = source[:200]
        sub.updated_at = utcnow()
    session.flush()
    if changed:
        subscription_changed(session, sub)
    return sub


def drop_pending(*, session: Session, list_id: int, contact_id: int) -> bool:
    """Remove a subscription still waiting for confirmation; True if there was one."""
    sub = subscription(session=session, list_id=list_id, contact_id=contact_id)
    if sub is None or sub.status != SubscriptionStatus.PENDING.value:
        return False
    session.delete(sub)
    session.flush()
    return True


def unsubscribe(
    *, session: Session, list_id: int, contact_id: int, source: str = "api"
) -> Subscription | None:
    """Unsubscribe a contact from one list; returns the subscription if there was one."""
    sub = subscription(session=session, list_id=list_id, contact_id=contact_id)
    if sub is None:
        return None
    changed = sub.status != SubscriptionStatus.UNSUBSCRIBED.value
    sub.status = SubscriptionStatus.UNSUBSCRIBED.value
    sub.source = source[:200]
    sub.updated_at = utcnow()
    session.flush()
    if changed:
        subscription_changed(session, sub)
    return sub


def opt_out(*, session: Session, contact_id: int) -> None:
    """Global opt-out: no later send reaches this contact."""
    contact = session.get(Contact, contact_id)
    if contact is None:
        raise NotFound(f"contact {contact_id} not found")
    if contact.opted_out_at is None:
        contact.opted_out_at = utcnow()
        publish(
            session, EventType.CONTACT_UNSUBSCRIBED, {"contact_id": contact_id, "list_id": None}
        )
    session.flush()
