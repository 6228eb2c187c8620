"""The tracking policy: may this interaction become a contact activity? (B1)

One pluggable decision. The default asks "does the contact, at the moment of the
interaction, hold an active agreement to the consent that governs this email?"
An integrator replaces it by passing another ``TrackingPolicy`` to the runtime.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tidings.consent.models import TRACKING_CONSENT, Consent, ConsentAgreement
from tidings.db import pg_arrays
from tidings.db.base import driver_time
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
    """Default policy: an active agreement to the governing consent, given before ``at``.

    One driver statement per batch: the tracking writer asks for every batch it
    writes, and SQLAlchemy's statement building cost more than the query.
    """

    def allowed(
        self, session: Session, subjects: Iterable[Subject], at: datetime
    ) -> dict[Subject, int | None]:
        """Consent id per allowed subject; locks the agreements read (FOR SHARE on
        PostgreSQL) so a concurrent revocation waits and then deletes what we add."""
        wanted = set(subjects)
        if not wanted:
            return {}
        conn = session.connection()
        dialect = conn.dialect.name
        m = "?" if dialect == "sqlite" else "%s"
        email_ids = sorted({email_id for _, email_id in wanted})
        contact_ids = sorted({contact_id for contact_id, _ in wanted})
        if dialect == "sqlite":
            emails_in = "IN (" + ", ".join([m] * len(email_ids)) + ")"
            contacts_in = "IN (" + ", ".join([m] * len(contact_ids)) + ")"
            lock = ""
            params: tuple[Any, ...] = (TRACKING_CONSENT, *email_ids, *contact_ids)
        else:
            # Array parameters: one statement text, planned once per connection; each
            # array one text literal, which psycopg passes on faster than a list.
            emails_in = contacts_in = "= ANY(%s::bigint[])"
            lock = " FOR SHARE OF a"
            params = (TRACKING_CONSENT, pg_arrays.ints(email_ids), pg_arrays.ints(contact_ids))
        # Only placeholders and our own table names are formatted in; values are
        # parameters.
        statement = (
            f"SELECT a.contact_id, e.id, a.consent_id FROM {Email.__tablename__} e "  # noqa: S608
            f"JOIN {ConsentAgreement.__tablename__} a ON a.consent_id = COALESCE("
            f"e.tracking_consent_id, (SELECT c.id FROM {Consent.__tablename__} c "
            f"WHERE c.code_name = {m})) "
            f"WHERE e.id {emails_in} AND a.contact_id {contacts_in} "
            f"AND a.revoked_at IS NULL AND a.given_at <= {m}{lock}"
        )
        params += (driver_time(dialect, at),)
        # On the driver's own cursor: SQLAlchemy's execution context and result
        # object cost the tracking writer more than the query did.
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(statement, params)
            rows = cursor.fetchall()
        finally:
            cursor.close()
        result: dict[Subject, int | None] = {}
        for contact_id, email_id, consent_id in rows:
            if (contact_id, email_id) in wanted:
                result[(contact_id, email_id)] = consent_id
        return result
