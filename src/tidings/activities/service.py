"""Recording one contact activity (the only writer of single activities) and its event.

``record`` is what every producer of an activity outside the tracking writer calls:
custom activities from the API, form submissions, page visits, an automation's
``log_activity`` step. It asks the consent gate (B1) first (``activities.gate``, filled
by ``consent``): nothing is stored, and ``None`` returned, when the contact does not
hold the consent the activity would be tracked under. A recorded activity publishes
``activity.created`` in the same transaction.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from tidings.activities.gate import consent_gate
from tidings.activities.models import Activity, ActivityType
from tidings.activities.schemas import MAX_VALUE
from tidings.db.base import utcnow
from tidings.errors import Invalid
from tidings.events import EventType, JsonValue, publish

CUSTOM_PREFIX = "custom:"
# Same key syntax as contact fields; the type column holds 100 characters.
CUSTOM_NAME = re.compile(r"[A-Za-z0-9_-]{1,93}")
# Types whose value is a URL (the event's ``url``).
URL_TYPES = frozenset({ActivityType.EMAIL_CLICK.value, ActivityType.PAGE_VISIT.value})


def custom_type(text: str) -> str:
    """``text`` if it is a valid ``custom:<name>`` type, else ``Invalid``."""
    if not text.startswith(CUSTOM_PREFIX):
        raise Invalid("type must be custom:<name>")
    if not CUSTOM_NAME.fullmatch(text[len(CUSTOM_PREFIX) :]):
        raise Invalid("the name after custom: must be 1 to 93 letters, digits, '_' or '-'")
    return text


def check_value(value: str | None) -> str | None:
    """``value`` if it is at most ``MAX_VALUE`` characters, else ``Invalid``."""
    if value is not None and len(value) > MAX_VALUE:
        raise Invalid(f"value must be at most {MAX_VALUE} characters")
    return value


def record(
    session: Session,
    contact_id: int,
    type: str,
    value: str | None = None,
    email_id: int | None = None,
    link_id: int | None = None,
    occurred_at: datetime | None = None,
    *,
    details: dict[str, Any] | None = None,
) -> Activity | None:
    """Record one activity of an existing contact where consent allows it (B1) and
    publish ``activity.created``; ``None`` (nothing stored) when it does not.

    With ``email_id`` the tracking policy decides, as for a click in that email;
    without, the contact must hold an active agreement to the ``tracking`` consent.
    """
    at = occurred_at or utcnow()
    allowed, consent_id = consent_gate(session, contact_id, email_id, at)
    if not allowed:
        return None
    activity = Activity(
        contact_id=contact_id,
        type=type,
        email_id=email_id,
        link_id=link_id,
        value=check_value(value),
        details=details,
        consent_id=consent_id,
        occurred_at=at,
    )
    session.add(activity)
    session.flush()
    publish(session, EventType.ACTIVITY_CREATED, activity_data(activity))
    return activity


def activity_data(activity: Activity) -> dict[str, JsonValue]:
    """The ``activity.created`` event's data for ``activity``."""
    return event_data(
        activity_id=activity.id,
        contact_id=activity.contact_id,
        type=activity.type,
        value=activity.value,
        email_id=activity.email_id,
        link_id=activity.link_id,
        occurred_at=activity.occurred_at,
    )


def event_data(
    *,
    activity_id: int,
    contact_id: int,
    type: str,
    value: str | None,
    email_id: int | None,
    link_id: int | None,
    occurred_at: datetime,
) -> dict[str, JsonValue]:
    """``activity.created`` data (also built by the tracking writer for its batch)."""
    return {
        "contact_id": contact_id,
        "activity_id": activity_id,
        "type": type,
        "value": value,
        "email_id": email_id,
        "link_id": link_id,
        "url": value if type in URL_TYPES else None,
        "occurred_at": occurred_at.isoformat(),
    }
