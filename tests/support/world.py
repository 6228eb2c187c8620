"""Small builders for the rows most tests need, through the real services."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tidings.consent import service as consent
from tidings.contacts import service as contacts
from tidings.emails import service as emails
from tidings.lists import service as lists
from tidings.runtime import Runtime
from tidings.sending.models import Delivery

LINKS_HTML = """<html><body>
<p>Hi {{ contact.first_name or "there" }}!</p>
<p><a href="https://example.com/pricing?plan=pro&amp;ref=mail">Pricing</a></p>
<p><a href="https://example.com/blog">Blog</a></p>
<p><a href="https://example.com/pricing?plan=pro&amp;ref=mail">Pricing again</a></p>
<p><a href="mailto:hello@example.com">Mail us</a> <a href="javascript:alert(1)">js</a></p>
</body></html>"""


@dataclass
class World:
    """A list with contacts (some agreeing to tracking) and an email to it."""

    list_id: int
    email_id: int
    consenting: list[int]
    anonymous: list[int]


def build(
    session: Session,
    *,
    consenting: int = 1,
    anonymous: int = 1,
    html: str = LINKS_HTML,
    prefix: str = "person",
) -> World:
    """Create the world and return its ids."""
    recipient_list = lists.create_list(session=session, name="Newsletter")
    agreed: list[int] = []
    others: list[int] = []
    for index in range(consenting + anonymous):
        contact = contacts.create(
            session=session,
            email=f"{prefix}{index}@example.com",
            first_name=f"P{index}",
        )
        lists.subscribe(session=session, list_id=recipient_list.id, contact_id=contact.id)
        if index < consenting:
            consent.agree(session=session, contact_id=contact.id, code_name="tracking")
            agreed.append(contact.id)
        else:
            others.append(contact.id)
    email = emails.create(
        session=session,
        name="News",
        subject="News for {{ contact.first_name }}",
        html=html,
        sender_name="Tidings Test",
        sender_address="news@example.com",
        recipient_list_id=recipient_list.id,
    )
    return World(list_id=recipient_list.id, email_id=email.id, consenting=agreed, anonymous=others)


def delivery_statuses(runtime: Runtime, mailout_id: int) -> dict[str, int]:
    """How many deliveries of a mailout are in each status."""
    with runtime.session() as session:
        rows = session.execute(
            select(Delivery.status, func.count())
            .where(Delivery.mailout_id == mailout_id)
            .group_by(Delivery.status)
        ).all()
    return {str(status): int(n) for status, n in rows}
