"""Recording a page visit as an activity of a consenting contact.

Replace with activities.service.record at merge: this is a stand-in with the same
signature, so the call site in ``public.py`` changes by its import only.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from tidings.activities.models import Activity
from tidings.db.base import utcnow
from tidings.groups.hooks import contacts_changed


def record(
    session: Session,
    contact_id: int,
    type: str,
    value: str | None = None,
    *,
    consent_id: int | None = None,
    **_: Any,
) -> Activity | None:
    """Record an activity for a contact the caller found consenting (replace with
    activities.service.record at merge); groups are updated after the commit."""
    if consent_id is None:
        return None
    row = Activity(
        contact_id=contact_id,
        type=type,
        value=value,
        consent_id=consent_id,
        occurred_at=utcnow(),
    )
    session.add(row)
    session.flush()
    contacts_changed(session, [contact_id])
    return row
