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
from tidings.sending import identities
from tidings.sending import service as sending
from tidings.sending.models import SenderIdentity

DEMO_LIST = "Demo newsletter readers"
DEMO_POSTAL_ADDRESS = "Example Widgets Ltd, 1 Example Street, Springfield 12345, USA"
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
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Example Widgets: November news</title></head>
<body style="margin:0; padding:0; background:#f4f4f4;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0"
 style="background:#f4f4f4;"><tr><td align="center" style="padding:24px 12px;">
<table role="presentation" width="600" cellpadding="0" cellspacing="0" border="0"
 style="max-width:600px; background:#ffffff; font-family:Georgia, serif; color:#222222;">
<tr><td style="padding:24px 32px 8px;">
<img src="https://example.com/static/logo.png" width="160" height="40"
 alt="Example Widgets" style="display:block; border:0;">
</td></tr>
<tr><td style="padding:8px 32px; font-size:16px; line-height:24px;">
<h1 style="font-size:26px; line-height:32px; margin:16px 0;">
Hello {{ contact.first_name or "there" }},</h1>
<p>Here is what is new this month at Example Widgets: lower prices for small teams, the
autumn release with the features you asked for most, and a new guide for your first week.
As always, this letter is short enough to read with your morning coffee.</p>
<h2 style="font-size:20px; margin:24px 0 8px;">New pricing for small teams</h2>
<p>We heard from many of you that the Team plan was too much for a group of three or
four people. From this month the Starter plan includes up to five seats, shared
projects and email support, and the Team plan costs a fifth less than before. Nothing
changes for you if your plan already suits you: existing plans keep their price.</p>
<p><a href="https://example.com/pricing">See the new pricing</a>: plans now start lower.</p>
<h2 style="font-size:20px; margin:24px 0 8px;">The autumn release</h2>
<p>The autumn release brings offline editing, faster search across every project and a
calendar view that finally shows due dates and holidays side by side. We also rewrote
the import from spreadsheets: it now keeps your column names and tells you which rows
it could not read, and why, instead of skipping them quietly.</p>
<p><a href="https://example.com/blog/autumn-release">Read about the autumn release</a>, with
screenshots and the full list of changes.</p>
<h2 style="font-size:20px; margin:24px 0 8px;">Your first week, step by step</h2>
<p>New to Example Widgets, or bringing a colleague along? The getting started guide
walks through the first week one day at a time: setting up a project, inviting people,
sharing a board with a client and the three shortcuts that save the most time. Each
step takes about ten minutes.</p>
<p>Open <a href="https://example.com/docs/getting-started">the getting started guide</a>
when you have a moment.</p>
<h2 style="font-size:20px; margin:24px 0 8px;">From the community</h2>
<p>Thank you to everyone who came to the meet-ups in Lisbon and Leeds. The recordings of
the talks are online, including the session on planning a product launch with a team
spread over four time zones, which was the most popular one by far.</p>
<p>Questions? <a href="https://example.com/pricing">Compare plans again</a> or
<a href="mailto:hello@example.com">write to us</a>: a person reads every message.</p>
<p>Thank you for reading{% if contact.fields.company %}, and say hello to everyone at
{{ contact.fields.company }}{% endif %}.</p>
</td></tr></table>
</td></tr></table>
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
    if (
        session.scalars(
            select(SenderIdentity).where(SenderIdentity.domain == "example.com")
        ).first()
        is None
    ):
        identities.create(
            session=session,
            domain="example.com",
            from_name="Example Widgets",
            from_address="news@example.com",
            postal_address=DEMO_POSTAL_ADDRESS,
        )
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
