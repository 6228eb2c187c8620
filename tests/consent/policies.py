"""A consent policy an integrator might write, for the tests of the policy setting."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tidings.consent.policy import Subject
from tidings.contacts.models import Contact


class OnlyWithField:
    """Track a contact only when their ``tracked`` field says ``yes``, whatever they
    agreed to (not under any consent)."""

    def allowed(
        self, session: Session, subjects: Iterable[Subject], at: datetime
    ) -> dict[Subject, int | None]:
        wanted = set(subjects)
        ids = sorted({contact_id for contact_id, _ in wanted})
        if not ids:
            return {}
        rows = session.execute(select(Contact.id, Contact.fields).where(Contact.id.in_(ids)))
        yes = {cid for cid, fields in rows if (fields or {}).get("tracked") == "yes"}
        return {subject: None for subject in wanted if subject[0] in yes}


def make() -> OnlyWithField:
    """A factory, the other way to name a policy."""
    return OnlyWithField()


INSTANCE = OnlyWithField()
NOT_A_POLICY = 42


def broken() -> OnlyWithField:
    """A factory that fails."""
    raise RuntimeError("no database for policies today")
