"""Recording a contact activity where B1 allows it.

Replace with activities.service.record at merge: this is the same signature, kept
here until that function exists on the main line.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from tidings.activities.models import Activity
from tidings.consent import service as consents
from tidings.consent.models import TRACKING_CONSENT
from tidings.db.base import utcnow


def record(
    session: Session,
    contact_id: int,
    type: str,
    value: str | None = None,
    *,
    details: dict[str, Any] | None = None,
    occurred_at: datetime | None = None,
) -> Activity | None:
    """Log an activity for the contact if they hold an active agreement to the
    tracking consent (B1); None when it is not recorded."""
    consent = consents.get_by_code(session=session, code_name=TRACKING_CONSENT, missing_ok=True)
    if consent is None:
        return None
    agreement = consents.active_agreement(
        session=session, contact_id=contact_id, consent_id=consent.id
    )
    if agreement is None:
        return None
    activity = Activity(
        contact_id=contact_id,
        type=type,
        value=value,
        details=details,
        consent_id=consent.id,
        occurred_at=occurred_at or utcnow(),
    )
    session.add(activity)
    session.flush()
    return activity
