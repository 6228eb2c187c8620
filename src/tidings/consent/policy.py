"""The tracking policy: may this interaction become a contact activity? (B1)

One pluggable decision. The default asks "does the contact, at the moment of the
interaction, hold an active agreement to the consent that governs this email?"
An integrator replaces it by passing another ``TrackingPolicy`` to the runtime.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tidings.consent.models import TRACKING_CONSENT, Consent, ConsentAgreement
from tidings.emails.models import Email

Subject = tuple[int, int]  # (contact_id, email_id)


class TrackingPolicy(Protocol):
    """Decides, per interaction, whether it is logged against the contact."""

    def allowed(
        self, session: Session, subjects: Iterable[Subject], at: datetime
    ) -> dict[Subject, int | None]:
        """For each allowed (contact, email): the consent id it is tracked under.

        Subjects missing from the answer are counted anonymously only.
        """
        ...


def governing_consents(session: Session, email_ids: Iterable[int]) -> dict[int, int | None]:
    """The consent that governs tracking of each email (its own, else ``tracking``)."""
    ids = sorted(set(email_ids))
    if not ids:
        return {}
    default_id = select(Consent.id).where(Consent.code_name == TRACKING_CONSENT).scalar_subquery()
    rows = session.connection().execute(
        select(Email.id, func.coalesce(Email.tracking_consent_id, default_id)).where(
            Email.id.in_(ids)
        )
    )
    return {email_id: consent_id for email_id, consent_id in rows}


class ConsentAgreementPolicy:
    """Default policy: an active agreement to the governing consent, given before ``at``."""

    def allowed(
        self, session: Session, subjects: Iterable[Subject], at: datetime
    ) -> dict[Subject, int | None]:
        """Consent id per allowed subject; locks the agreements read (FOR SHARE on
        PostgreSQL) so a concurrent revocation waits and then deletes what we add."""
        wanted = set(subjects)
        if not wanted:
            return {}
        consents = governing_consents(session, (email_id for _, email_id in wanted))
        consent_ids = {c for c in consents.values() if c is not None}
        if not consent_ids:
            return {}
        contact_ids = sorted({contact_id for contact_id, _ in wanted})
        rows = session.connection().execute(
            select(ConsentAgreement.contact_id, ConsentAgreement.consent_id)
            .where(
                ConsentAgreement.contact_id.in_(contact_ids),
                ConsentAgreement.consent_id.in_(sorted(consent_ids)),
                ConsentAgreement.revoked_at.is_(None),
                ConsentAgreement.given_at <= at,
            )
            .with_for_update(read=True)
        )
        agreed = {(contact_id, consent_id) for contact_id, consent_id in rows}
        result: dict[Subject, int | None] = {}
        for contact_id, email_id in wanted:
            consent_id = consents.get(email_id)
            if consent_id is not None and (contact_id, consent_id) in agreed:
                result[(contact_id, email_id)] = consent_id
        return result
