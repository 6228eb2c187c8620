"""Builders of rows conditions look at, and a check that both back ends agree."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tidings.activities.models import Activity
from tidings.conditions import (
    dialect_of,
    evaluate,
    load_facts,
    matching_ids,
    needs,
    parse,
)
from tidings.consent.models import Consent, ConsentAgreement, ConsentText
from tidings.consent.service import create_consent
from tidings.contacts.models import Contact
from tidings.emails.models import Email
from tidings.groups.models import ContactGroup, GroupMember
from tidings.lists.models import RecipientList, Subscription
from tidings.sending.models import Delivery

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
_serial = count(1)


class World:
    """Creates rows directly with the ORM models (no services in between)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def contact(
        self,
        email: str | None = None,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        fields: dict[str, Any] | None = None,
    ) -> int:
        row = Contact(
            email=email or f"c{next(_serial)}@example.test",
            first_name=first_name,
            last_name=last_name,
            fields=dict(fields or {}),
        )
        self.session.add(row)
        self.session.flush()
        return row.id

    def email(self, name: str = "Newsletter") -> int:
        row = Email(
            name=name,
            subject=name,
            html="<p>hi</p>",
            sender_name="Tidings",
            sender_address="news@example.test",
        )
        self.session.add(row)
        self.session.flush()
        return row.id

    def recipient_list(self, name: str = "List") -> int:
        row = RecipientList(name=name)
        self.session.add(row)
        self.session.flush()
        return row.id

    def consent(self, code_name: str) -> int:
        existing = self.session.scalar(select(Consent.id).where(Consent.code_name == code_name))
        if existing is not None:
            return existing
        consent, _ = create_consent(
            session=self.session, code_name=code_name, display_name=code_name, text="text"
        )
        return consent.id

    def agree(self, contact_id: int, code_name: str, *, revoked: bool = False) -> None:
        consent_id = self.consent(code_name)
        text_id = self.session.scalar(
            select(ConsentText.id).where(ConsentText.consent_id == consent_id)
        )
        assert text_id is not None
        self.session.add(
            ConsentAgreement(
                contact_id=contact_id,
                consent_id=consent_id,
                consent_text_id=text_id,
                given_at=NOW - timedelta(days=40),
                revoked_at=NOW - timedelta(days=1) if revoked else None,
            )
        )
        self.session.flush()

    def subscribe(self, list_id: int, contact_id: int, status: str = "subscribed") -> None:
        self.session.add(Subscription(list_id=list_id, contact_id=contact_id, status=status))
        self.session.flush()

    def activity(
        self,
        contact_id: int,
        type: str,
        *,
        email_id: int | None = None,
        value: str | None = None,
        ago: timedelta = timedelta(0),
    ) -> None:
        self.session.add(
            Activity(
                contact_id=contact_id,
                type=type,
                email_id=email_id,
                value=value,
                occurred_at=NOW - ago,
            )
        )
        self.session.flush()

    def delivery(self, contact_id: int | None, email_id: int, status: str = "sent") -> None:
        self.session.add(Delivery(email_id=email_id, contact_id=contact_id, status=status))
        self.session.flush()

    def group(self, name: str, condition: dict[str, Any] | None = None) -> int:
        row = ContactGroup(name=name, condition=condition or {"all": []})
        self.session.add(row)
        self.session.flush()
        return row.id

    def member(self, group_id: int, contact_id: int) -> None:
        self.session.add(GroupMember(group_id=group_id, contact_id=contact_id))
        self.session.flush()

    def clear_contacts(self) -> None:
        """Delete every contact and the rows hanging off contacts."""
        for model in (Activity, Delivery, ConsentAgreement, Subscription, GroupMember, Contact):
            self.session.execute(delete(model))
        self.session.flush()


def sql_ids(session: Session, condition: Any, now: datetime = NOW) -> set[int]:
    """Contact ids the SQL back end selects."""
    node = parse(condition)
    return set(session.scalars(matching_ids(node, dialect=dialect_of(session), now=now)))


def python_ids(session: Session, condition: Any, now: datetime = NOW) -> set[int]:
    """Contact ids the Python back end accepts, over freshly loaded facts."""
    node = parse(condition)
    ids = session.scalars(select(Contact.id)).all()
    facts = load_facts(session, ids, needs=needs(node))
    return {cid for cid, item in facts.items() if evaluate(node, item, now)}


def both(session: Session, condition: Any, now: datetime = NOW) -> set[int]:
    """The matching contact ids, after checking SQL and Python agree on them."""
    from_sql = sql_ids(session, condition, now)
    from_python = python_ids(session, condition, now)
    assert from_sql == from_python, f"SQL {sorted(from_sql)} != Python {sorted(from_python)}"
    return from_sql
