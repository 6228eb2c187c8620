"""Sending: mailouts, deliveries, SMTP delivery with exactly-once resume.

Importing the package registers how ``emails`` learns that an email has been sent
(``emails.hooks.on_sent_check``): emails sits below sending and never imports it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tidings.emails.hooks import on_sent_check

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tidings.emails.hooks import FirstMailout


@on_sent_check
def _first_mailout(session: Session, email_id: int) -> FirstMailout | None:
    # Imported on first use: render processes import this package without SQLAlchemy.
    from tidings.sending.email_hooks import first_mailout

    return first_mailout(session, email_id)
