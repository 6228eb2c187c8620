"""Reading the activity log: per email and per contact, newest first, keyset pages."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session

from tidings.activities.models import Activity
from tidings.activities.schemas import ActivityOut, ActivityPage
from tidings.contacts.models import Contact
from tidings.errors import Invalid
from tidings.values import MAX_ID

MAX_LIMIT = 500


def encode_cursor(occurred_at: datetime, activity_id: int) -> str:
    """An opaque cursor for the row after which the next page starts."""
    micros = int(occurred_at.timestamp() * 1_000_000)
    return base64.urlsafe_b64encode(f"{micros}:{activity_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """Read a cursor; ``Invalid`` if it was not made by ``encode_cursor``."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        micros, activity_id = raw.split(":")
        at = datetime.fromtimestamp(int(micros) / 1_000_000, UTC)
        if not 1 <= int(activity_id) <= MAX_ID:
            raise ValueError(activity_id)
        return at, int(activity_id)
    except (ValueError, OverflowError, OSError, binascii.Error, UnicodeDecodeError):
        raise Invalid("cursor: not a cursor returned by this API") from None


def _page(
    session: Session,
    query: Select[Activity, str],
    *,
    activity_type: str | None,
    link_id: int | None,
    cursor: str | None,
    limit: int,
) -> ActivityPage:
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid(f"limit: must be between 1 and {MAX_LIMIT}")
    if activity_type:
        query = query.where(Activity.type == activity_type)
    if link_id is not None:
        query = query.where(Activity.link_id == link_id)
    if cursor:
        at, last_id = decode_cursor(cursor)
        query = query.where(
            or_(Activity.occurred_at < at, and_(Activity.occurred_at == at, Activity.id < last_id))
        )
    rows = session.execute(
        query.order_by(Activity.occurred_at.desc(), Activity.id.desc()).limit(limit + 1)
    ).all()
    items = [ActivityOut.of(activity, email) for activity, email in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1][0]
        next_cursor = encode_cursor(last.occurred_at, last.id)
    return ActivityPage(items=items, next_cursor=next_cursor)


def _base() -> Select[Activity, str]:
    return select(Activity, Contact.email).join(Contact, Contact.id == Activity.contact_id)


def for_email(
    *,
    session: Session,
    email_id: int,
    activity_type: str | None = None,
    link_id: int | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> ActivityPage:
    """Identified interactions with one email (B3)."""
    return _page(
        session,
        _base().where(Activity.email_id == email_id),
        activity_type=activity_type,
        link_id=link_id,
        cursor=cursor,
        limit=limit,
    )


def for_contact(
    *,
    session: Session,
    contact_id: int,
    activity_type: str | None = None,
    link_id: int | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> ActivityPage:
    """One contact's activity timeline (B3)."""
    return _page(
        session,
        _base().where(Activity.contact_id == contact_id),
        activity_type=activity_type,
        link_id=link_id,
        cursor=cursor,
        limit=limit,
    )
