"""Consent records an auditor can read: every agreement to a consent as CSV."""

from __future__ import annotations

import csv
from typing import TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from tidings.consent.models import ConsentAgreement, ConsentText
from tidings.contacts.models import Contact

COLUMNS = [
    "contact_id",
    "email",
    "version",
    "text",
    "given_at",
    "source",
    "source_url",
    "revoked_at",
    "revoke_source",
]


def _cell(value: str) -> str:
    # A spreadsheet would run a cell starting with these as a formula.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def write_agreements_csv(*, session: Session, consent_id: int, out: TextIO) -> int:
    """Every agreement to the consent (revoked ones too), oldest first; how many."""
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    rows = session.execute(
        select(ConsentAgreement, Contact.email, ConsentText.version, ConsentText.text)
        .join(Contact, Contact.id == ConsentAgreement.contact_id)
        .join(ConsentText, ConsentText.id == ConsentAgreement.consent_text_id)
        .where(ConsentAgreement.consent_id == consent_id)
        .order_by(ConsentAgreement.given_at, ConsentAgreement.id)
    ).all()
    for agreement, email, version, text in rows:
        writer.writerow(
            [
                agreement.contact_id,
                _cell(email),
                version,
                _cell(text),
                agreement.given_at.isoformat(),
                _cell(agreement.source),
                _cell(agreement.source_url or ""),
                agreement.revoked_at.isoformat() if agreement.revoked_at else "",
                _cell(agreement.revoke_source or ""),
            ]
        )
    return len(rows)
