"""A new email and each of its link positions get their statistics rows in the same
transaction (the tracking writer's statements update them and expect them); stats
registers this with ``emails.hooks`` when the package is imported."""

from __future__ import annotations

from sqlalchemy.orm import Session

from tidings.emails.hooks import on_email_created, on_link_created
from tidings.emails.models import Email, Link
from tidings.stats.models import EmailStats, LinkStats


@on_email_created
def add_email_stats(session: Session, email: Email) -> None:
    session.add(EmailStats(email_id=email.id))


@on_link_created
def add_link_stats(session: Session, link: Link) -> None:
    session.add(LinkStats(link_id=link.id, email_id=link.email_id))
