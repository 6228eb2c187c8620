"""Retention purges old activities and inactive contacts, and nothing else."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tidings.activities.models import Activity
from tidings.contacts import service as contacts
from tidings.contacts.models import Contact
from tidings.db.base import utcnow
from tidings.privacy.retention import purge


def test_purge_respects_both_periods(session: Session) -> None:
    now = utcnow()
    old = contacts.create(session=session, email="old@example.com")
    old.updated_at = now - timedelta(days=400)
    active = contacts.create(session=session, email="active@example.com")
    active.updated_at = now - timedelta(days=400)
    fresh = contacts.create(session=session, email="fresh@example.com")
    session.add_all(
        [
            Activity(contact_id=active.id, type="email_click", occurred_at=now - timedelta(days=5)),
            Activity(contact_id=fresh.id, type="email_open", occurred_at=now - timedelta(days=90)),
        ]
    )
    session.flush()

    nothing = purge(session=session, now=now)
    assert nothing.activities_deleted == 0 and nothing.contacts_erased == 0

    result = purge(session=session, now=now, activity_days=30, inactive_contact_days=365)
    assert result.activities_deleted == 1
    assert result.contacts_erased == 1
    remaining = set(session.scalars(select(Contact.email)))
    assert remaining == {"active@example.com", "fresh@example.com"}
    assert session.scalar(select(func.count()).select_from(Activity)) == 1
