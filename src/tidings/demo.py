"""Demo data: a tracking consent, twenty contacts (half consenting), a list, an email."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from tidings.consent import service as consent
from tidings.consent.models import TRACKING_CONSENT
from tidings.contacts import service as contacts
from tidings.emails import service as emails
from tidings.emails.models import Email
from tidings.lists import service as lists
from tidings.lists.models import RecipientList
from tidings.sending import service as sending

DEMO_LIST = "Demo newsletter readers"
DEMO_EMAIL = "Demo: November newsletter"
PEOPLE = [
    ("Ada", "Lovelace"),
    ("Grace", "Hopper"),
    ("Alan", "Turing"),
    ("Katherine", "Johnson"),
    ("Edsger", "Dijkstra"),
    ("Barbara", "Liskov"),
    ("Donald", "Knuth"),
    ("Frances", "Allen"),
    ("Ken", "Thompson"),
    ("Margaret", "Hamilton"),
    ("Dennis", "Ritchie"),
    ("Radia", "Perlman"),
    ("John", "Backus"),
    ("Hedy", "Lamarr"),
    ("Tim", "Berners-Lee"),
    ("Shafi", "Goldwasser"),
    ("Linus", "Torvalds"),
    ("Annie", "Easley"),
    ("Guido", "van Rossum"),
    ("Sophie", "Wilson"),
]
DEMO_HTML = """<!doctype html>
<html><body style="font-family: Georgia, serif; max-width: 36rem; margin: auto;">
<h1>Hello {{ contact.first_name or "there" }},</h1>
<p>Here is what is new this month at Example Widgets.</p>
<p><a href="https://example.com/pricing">See the new pricing</a> — plans now start lower.</p>
<p><a href="https://example.com/blog/autumn-release">Read about the autumn release</a>
 and <a href="https://example.com/docs/getting-started">the getting started guide</a>.</p>
<p>Questions? <a href="https://example.com/pricing">Compare plans again</a> or
 <a href="mailto:hello@example.com">write to us</a>.</p>
<p style="color:#666">You receive this because you subscribed to
 {{ contact.fields.company or "our" }} updates.</p>
</body></html>"""


@dataclass(frozen=True)
class DemoResult:
    """What the seed created or found."""

    email_id: int
    list_id: int
    mailout_id: int | None
    created: bool


def seed(*, session: Session, send: bool = True) -> DemoResult:
    """Create the demo data once; later runs find it and change nothing."""
    existing = session.scalars(select(Email).where(Email.name == DEMO_EMAIL)).first()
    if existing is not None and existing.recipient_list_id is not None:
        return DemoResult(
            email_id=existing.id, list_id=existing.recipient_list_id, mailout_id=None, created=False
        )
    consent.ensure_tracking_consent(session=session)
    recipient_list = session.scalars(
        select(RecipientList).where(RecipientList.name == DEMO_LIST)
    ).first() or lists.create_list(session=session, name=DEMO_LIST)
    for index, (first, last) in enumerate(PEOPLE):
        address = f"{first}.{last}".lower().replace(" ", "") + "@example.com"
        contact = contacts.find_by_email(session=session, email=address) or contacts.create(
            session=session,
            email=address,
            first_name=first,
            last_name=last,
            fields={"company": "Example Widgets" if index % 3 else None},
        )
        lists.subscribe(
            session=session, list_id=recipient_list.id, contact_id=contact.id, source="demo"
        )
        if index % 2 == 0:
            consent.agree(
                session=session, contact_id=contact.id, code_name=TRACKING_CONSENT, source="demo"
            )
    email = emails.create(
        session=session,
        name=DEMO_EMAIL,
        subject="{{ contact.first_name or 'Friend' }}, our November news",
        html=DEMO_HTML,
        sender_name="Example Widgets",
        sender_address="news@example.com",
        recipient_list_id=recipient_list.id,
    )
    mailout_id = None
    if send:
        mailout_id = sending.start_mailout(session=session, email_id=email.id).id
    return DemoResult(
        email_id=email.id, list_id=recipient_list.id, mailout_id=mailout_id, created=True
    )
