"""Retention (B10): purge old activities and long-inactive contacts on a schedule."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session

from tidings.activities.models import Activity
from tidings.contacts.models import Contact
from tidings.privacy.erasure import erase_contact
from tidings.sending.models import Delivery

BATCH = 500


@dataclass(frozen=True)
class RetentionResult:
    """How much a purge removed."""

    activities_deleted: int
    contacts_erased: int


def purge(
    *, session: Session, now: datetime, activity_days: int = 0, inactive_contact_days: int = 0
) -> RetentionResult:
    """Delete activities older than ``activity_days`` and erase contacts with no activity,
    no delivery and no change for ``inactive_contact_days`` (0 keeps everything)."""
    activities_deleted = 0
    if activity_days > 0:
        cutoff = now - timedelta(days=activity_days)
        result = session.execute(delete(Activity).where(Activity.occurred_at < cutoff))
        activities_deleted = result.rowcount or 0  # type: ignore[attr-defined]
    erased = 0
    if inactive_contact_days > 0:
        cutoff = now - timedelta(days=inactive_contact_days)
        recent_activity = exists().where(
            Activity.contact_id == Contact.id, Activity.occurred_at >= cutoff
        )
        recent_delivery = exists().where(
            Delivery.contact_id == Contact.id, Delivery.created_at >= cutoff
        )
        stale = session.scalars(
            select(Contact.id)
            .where(Contact.updated_at < cutoff, ~recent_activity, ~recent_delivery)
            .limit(BATCH)
        ).all()
        for contact_id in stale:
            erase_contact(session=session, contact_id=contact_id)
            erased += 1
    return RetentionResult(activities_deleted=activities_deleted, contacts_erased=erased)
