"""The two back ends of the condition language, ready to use.

SQL (``matching_ids``, ``count_matching``) answers for every contact at once; Python
(``evaluate``, ``matches``) answers for one loaded contact. Both take ``now`` explicitly
so that ``within_days`` windows are deterministic.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from tidings.conditions.facts import ContactFacts, load_facts
from tidings.conditions.nodes import Node, needs
from tidings.conditions.sql import SqlContext
from tidings.contacts.models import Contact
from tidings.db.base import utcnow


def dialect_of(session: Session) -> str:
    """The database flavour a session talks to (``sqlite`` or ``postgresql``)."""
    return session.get_bind().dialect.name


def matching_ids(node: Node, *, dialect: str, now: datetime) -> Select[int]:
    """``SELECT contacts.id FROM contacts WHERE <condition>`` for ``dialect``."""
    ctx = SqlContext(dialect=dialect, now=now)
    return select(Contact.id).where(node.to_sql(ctx))


def count_matching(session: Session, node: Node, *, now: datetime | None = None) -> int:
    """How many contacts match ``node`` now (a live count while editing)."""
    ctx = SqlContext(dialect=dialect_of(session), now=now or utcnow())
    statement = select(func.count()).select_from(Contact).where(node.to_sql(ctx))
    return int(session.scalar(statement) or 0)


def evaluate(node: Node, facts: ContactFacts, now: datetime) -> bool:
    """Whether the contact described by ``facts`` matches ``node`` at ``now``."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return node.evaluate(facts, now)


def matches(session: Session, node: Node, contact_id: int, *, now: datetime | None = None) -> bool:
    """Whether one contact matches ``node`` (False for a contact that does not exist)."""
    facts = load_facts(session, [contact_id], needs=needs(node))
    found = facts.get(contact_id)
    return found is not None and evaluate(node, found, now or utcnow())
