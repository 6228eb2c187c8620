"""An email's content is locked once a mailout of it exists: sending answers that for
``emails`` (``emails.hooks``); the package registers it when it is imported."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from tidings.emails.hooks import FirstMailout
from tidings.sending.models import Mailout


def first_mailout(session: Session, email_id: int) -> FirstMailout | None:
    """The email's first mailout, or None while it has none."""
    row = session.execute(
        select(Mailout.id, Mailout.created_at)
        .where(Mailout.email_id == email_id)
        .order_by(Mailout.id)
        .limit(1)
    ).first()
    return None if row is None else FirstMailout(id=row[0], created_at=row[1])
