"""Record bounces and complaints and apply their effects (B15).

``record_bounce`` and ``record_complaint`` are the single entry points: the bounce
listener calls them for returned mail, and sending calls ``record_bounce`` for a
message refused at RCPT. Each one, in the caller's transaction:

- writes the fact (a ``Bounce`` row; at most one of each kind per delivery, so a
  bounce received twice counts once) — the place to publish an event from;
- moves the delivery to ``bounced_hard`` / ``bounced_soft`` (statistics count
  deliveries by status; a hard bounce is never downgraded to soft);
- suppresses the address: at once for a hard bounce or a complaint, after
  ``TIDINGS_SOFT_BOUNCE_LIMIT`` soft bounces in a row for soft ones;
- counts a complaint in the email's statistics.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tidings.bounces import suppression
from tidings.bounces.models import Bounce, BounceKind, Suppression, SuppressionReason
from tidings.bounces.parse import Outcome, Verdict
from tidings.contacts.models import Contact
from tidings.errors import NotFound
from tidings.events import EventType, publish
from tidings.sending.models import Delivery, DeliveryStatus
from tidings.stats.models import EmailStats

DEFAULT_SOFT_BOUNCE_LIMIT = 3
DIAGNOSTIC_MAX = 1000
# Statuses of a delivery whose message went out (or was refused at RCPT).
SENT_STATES = (
    DeliveryStatus.SENT.value,
    DeliveryStatus.BOUNCED_SOFT.value,
    DeliveryStatus.BOUNCED_HARD.value,
)


def _soft_limit(session: Session) -> int:
    runtime = session.info.get("runtime")
    if runtime is None:
        return DEFAULT_SOFT_BOUNCE_LIMIT
    limit: int = runtime.settings.soft_bounce_limit
    return limit


def _locked_delivery(session: Session, delivery_id: int) -> Delivery:
    # FOR UPDATE on PostgreSQL: two reports about one delivery apply one after the
    # other (SQLite's write lock does the same).
    delivery = session.get(Delivery, delivery_id, with_for_update=True)
    if delivery is None:
        raise NotFound(f"delivery {delivery_id} not found")
    return delivery


def _existing(session: Session, delivery_id: int, kind: BounceKind) -> Bounce | None:
    return session.scalars(
        select(Bounce).where(Bounce.delivery_id == delivery_id, Bounce.kind == kind.value)
    ).first()


def soft_streak(session: Session, *, contact_id: int, up_to_delivery: int, limit: int) -> int:
    """Soft bounces in a row among the contact's sent messages, newest first, from
    ``up_to_delivery`` back: a message that did not bounce ends the streak."""
    statuses = session.scalars(
        select(Delivery.status)
        .where(
            Delivery.contact_id == contact_id,
            Delivery.id <= up_to_delivery,
            Delivery.status.in_(SENT_STATES),
        )
        .order_by(Delivery.id.desc())
        .limit(limit)
    ).all()
    streak = 0
    for status in statuses:
        if status != DeliveryStatus.BOUNCED_SOFT.value:
            break
        streak += 1
    return streak


def record_bounce(
    *,
    session: Session,
    delivery_id: int,
    kind: BounceKind,
    diagnostic: str | None,
    at: datetime,
    status: str | None = None,
    source: str = "dsn",
) -> Bounce | None:
    """Record that a delivery bounced (hard or soft) and apply the effects.

    Returns the new fact, or None when this delivery's bounce of that kind was
    already recorded (the delivery's status and the suppression are still ensured).
    """
    if kind not in (BounceKind.HARD, BounceKind.SOFT):
        raise ValueError("record_bounce takes a hard or soft bounce; use record_complaint")
    delivery = _locked_delivery(session, delivery_id)
    hard = kind is BounceKind.HARD
    if hard and delivery.status != DeliveryStatus.SKIPPED.value:
        delivery.status = DeliveryStatus.BOUNCED_HARD.value
    elif not hard and delivery.status in (
        DeliveryStatus.PENDING.value,
        DeliveryStatus.SENT.value,
        DeliveryStatus.FAILED.value,
    ):
        delivery.status = DeliveryStatus.BOUNCED_SOFT.value
    contact = session.get(Contact, delivery.contact_id) if delivery.contact_id else None
    diagnostic = (diagnostic or "").replace("\x00", "")[:DIAGNOSTIC_MAX] or None
    bounce = _existing(session, delivery_id, kind)
    created = None
    if bounce is None:
        bounce = created = Bounce(
            delivery_id=delivery_id,
            email_id=delivery.email_id,
            contact_id=contact.id if contact else None,
            kind=kind.value,
            source=source[:20],
            status=(status or None) and status[:20],
            diagnostic=diagnostic if contact else None,
            occurred_at=at,
        )
        session.add(bounce)
    session.flush()
    if contact is not None:
        reason: SuppressionReason | None = None
        if hard:
            reason = SuppressionReason.HARD_BOUNCE
        else:
            limit = _soft_limit(session)
            streak = soft_streak(
                session, contact_id=contact.id, up_to_delivery=delivery_id, limit=limit
            )
            if streak >= limit:
                reason = SuppressionReason.SOFT_BOUNCES
        if reason is not None:
            suppression.suppress(
                session=session,
                email=contact.email,
                reason=reason,
                detail=diagnostic,
                delivery_id=delivery_id,
                at=at,
            )
    if created is not None:
        publish(
            session,
            EventType.EMAIL_BOUNCED,
            {
                "email_id": created.email_id,
                "delivery_id": delivery_id,
                "contact_id": created.contact_id,
                "kind": kind.value,
            },
        )
    return created


def record_complaint(
    *,
    session: Session,
    delivery_id: int,
    feedback_type: str | None,
    at: datetime,
) -> Bounce | None:
    """Record a recipient's complaint (an ARF report) about a delivery: counted in the
    email's statistics once, and the address suppressed at once. Returns the new
    fact, or None when this delivery's complaint was already recorded."""
    delivery = _locked_delivery(session, delivery_id)
    contact = session.get(Contact, delivery.contact_id) if delivery.contact_id else None
    if _existing(session, delivery_id, BounceKind.COMPLAINT) is not None:
        return None
    bounce = Bounce(
        delivery_id=delivery_id,
        email_id=delivery.email_id,
        contact_id=contact.id if contact else None,
        kind=BounceKind.COMPLAINT.value,
        source="arf",
        feedback_type=(feedback_type or "abuse")[:40],
        occurred_at=at,
    )
    session.add(bounce)
    session.execute(
        update(EmailStats)
        .where(EmailStats.email_id == delivery.email_id)
        .values(complaints=EmailStats.complaints + 1)
    )
    session.flush()
    if contact is not None:
        suppression.suppress(
            session=session,
            email=contact.email,
            reason=SuppressionReason.COMPLAINT,
            detail=f"complaint ({bounce.feedback_type})",
            delivery_id=delivery_id,
            at=at,
        )
    publish(
        session,
        EventType.EMAIL_COMPLAINED,
        {"email_id": bounce.email_id, "delivery_id": delivery_id, "contact_id": bounce.contact_id},
    )
    return bounce


def apply_verdict(
    *, session: Session, delivery_id: int, verdict: Verdict, at: datetime
) -> Bounce | None:
    """Apply what a returned message says; warnings, auto-replies and unknown mail
    change nothing."""
    if verdict.outcome is Outcome.COMPLAINT:
        return record_complaint(
            session=session, delivery_id=delivery_id, feedback_type=verdict.feedback_type, at=at
        )
    if verdict.outcome in (Outcome.HARD, Outcome.SOFT):
        return record_bounce(
            session=session,
            delivery_id=delivery_id,
            kind=BounceKind(verdict.outcome.value),
            diagnostic=verdict.diagnostic,
            at=at,
            status=verdict.status,
            source=verdict.source,
        )
    return None


@dataclass(frozen=True)
class ContactDeliverability:
    """What the contact page shows: bounces, complaints and the suppression."""

    bounces: list[dict[str, Any]]
    suppression: Suppression | None


def contact_deliverability(
    *, session: Session, contact: Contact, limit: int = 20
) -> ContactDeliverability:
    """The contact's latest bounces and complaints, and whether they are suppressed."""
    from tidings.emails.models import Email

    rows = session.execute(
        select(Bounce, Email.name)
        .join(Email, Email.id == Bounce.email_id)
        .where(Bounce.contact_id == contact.id)
        .order_by(Bounce.occurred_at.desc(), Bounce.id.desc())
        .limit(limit)
    ).all()
    items = [
        {
            "kind": b.kind,
            "status": b.status,
            "diagnostic": b.diagnostic,
            "feedback_type": b.feedback_type,
            "source": b.source,
            "email_id": b.email_id,
            "email_name": name,
            "occurred_at": b.occurred_at,
        }
        for b, name in rows
    ]
    return ContactDeliverability(items, suppression.find(session, contact.email))


def export_rows(*, session: Session, contact_id: int) -> list[dict[str, Any]]:
    """The contact's bounces and complaints for a data export."""
    rows = session.scalars(
        select(Bounce).where(Bounce.contact_id == contact_id).order_by(Bounce.id)
    ).all()
    return [
        {
            "email_id": b.email_id,
            "kind": b.kind,
            "source": b.source,
            "status": b.status,
            "feedback_type": b.feedback_type,
            "diagnostic": b.diagnostic,
            "occurred_at": b.occurred_at.isoformat(),
        }
        for b in rows
    ]


def forget_contact(*, session: Session, contact_id: int, email: str) -> None:
    """For erasure: bounce facts lose their diagnostic (it may quote the address) and
    the suppression keeps only the address's keyed hash."""
    session.execute(update(Bounce).where(Bounce.contact_id == contact_id).values(diagnostic=None))
    suppression.forget_address(session=session, email=email)
