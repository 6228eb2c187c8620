"""Bulk-insert the rows a benchmark needs: contacts, subscriptions, consent agreements.

Thousands of rows through the services would take minutes; plain multi-row INSERTs
take a second. The email itself still goes through ``emails.service.create`` so its
link positions and statistics rows are exactly what the product makes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from tidings.consent.models import TRACKING_CONSENT, Consent, ConsentAgreement, ConsentText
from tidings.contacts.models import Contact
from tidings.db.base import utcnow
from tidings.lists.models import RecipientList, Subscription

CHUNK = 5000
COMPANIES = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Tyrell"]


def chunks(rows: Sequence[dict[str, Any]]) -> Iterator[Sequence[dict[str, Any]]]:
    """``rows`` in slices of ``CHUNK``."""
    for start in range(0, len(rows), CHUNK):
        yield rows[start : start + CHUNK]


def insert_rows(session: Session, model: Any, rows: Sequence[dict[str, Any]]) -> None:
    """One multi-row INSERT per chunk."""
    for part in chunks(rows):
        session.execute(insert(model), list(part))


def add_contacts(
    session: Session, count: int, *, prefix: str, consenting_every: int = 2
) -> tuple[int, list[int]]:
    """Create a recipient list of ``count`` subscribed contacts; every
    ``consenting_every``-th agrees to the tracking consent. Returns (list id, ids)."""
    now = utcnow()
    recipient_list = RecipientList(name=f"Benchmark {prefix}")
    session.add(recipient_list)
    session.flush()
    insert_rows(
        session,
        Contact,
        [
            {
                "email": f"{prefix}{i}@bench.example.com",
                "first_name": f"First{i}",
                "last_name": f"Last{i}",
                "fields": {
                    "company": COMPANIES[i % len(COMPANIES)],
                    "plan": "pro" if i % 3 else "free",
                },
                "created_at": now,
                "updated_at": now,
            }
            for i in range(count)
        ],
    )
    ids = list(
        session.scalars(
            select(Contact.id)
            .where(Contact.email.like(f"{prefix}%@bench.example.com"))
            .order_by(Contact.id)
        )
    )
    assert len(ids) == count
    insert_rows(
        session,
        Subscription,
        [
            {
                "list_id": recipient_list.id,
                "contact_id": cid,
                "status": "subscribed",
                "source": "bench",
                "created_at": now,
                "updated_at": now,
            }
            for cid in ids
        ],
    )
    consent_id = session.scalar(select(Consent.id).where(Consent.code_name == TRACKING_CONSENT))
    text_id = session.scalar(
        select(ConsentText.id)
        .where(ConsentText.consent_id == consent_id)
        .order_by(ConsentText.version.desc())
        .limit(1)
    )
    insert_rows(
        session,
        ConsentAgreement,
        [
            {
                "contact_id": cid,
                "consent_id": consent_id,
                "consent_text_id": text_id,
                "given_at": now - timedelta(days=1),
                "source": "bench",
            }
            for index, cid in enumerate(ids)
            if index % consenting_every == 0
        ],
    )
    return recipient_list.id, ids


def newsletter_html(links: int, *, personalized: int = 0, paragraphs: int = 20) -> str:
    """A newsletter-sized body: merge fields, ``links`` tracked links (the first
    ``personalized`` of them with merge fields in the URL), some text."""
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>News</title>",
        "<style>body{font-family:sans-serif}.btn{color:#fff;background:#06c}</style>",
        "</head><body>",
        '<h1>Hello {{ contact.first_name or "there" }}!</h1>',
        "<p>News for everyone at {{ contact.fields.company or 'your company' }}.</p>",
    ]
    for index in range(links):
        if index < personalized:
            url = f"https://example.com/account/{{{{ contact.id }}}}?section={index}"
        else:
            url = f"https://example.com/articles/{index}?utm_source=news&amp;utm_medium=email"
        parts.append(
            f"<p>Story {index}: Lorem ipsum dolor sit amet, consectetur adipiscing elit, "
            f"sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. "
            f'<a class="btn" href="{url}">Read story {index}</a></p>'
        )
    for index in range(max(0, paragraphs - links)):
        parts.append(f"<p>Paragraph {index}: Ut enim ad minim veniam, quis nostrud.</p>")
    parts.append(
        "{% if contact.fields.plan == 'pro' %}<p>Thanks for being a Pro.</p>"
        "{% else %}<p>Try Pro.</p>{% endif %}</body></html>"
    )
    return "\n".join(parts)
