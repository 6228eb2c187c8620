"""An email's content is locked once a mailout of it exists: sending answers that for
``emails`` (``emails.hooks``); the package registers it when it is imported."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from tidings.sending.models import Mailout


def has_mailout(session: Session, email_id: int) -> bool:
    """True once any mailout of this email exists."""
    return (
        session.scalar(select(Mailout.id).where(Mailout.email_id == email_id).limit(1)) is not None
    )
