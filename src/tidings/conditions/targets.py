"""Reference targets: the rows a leaf can point at (emails, lists, consents...).

A leaf's ``references`` name a target and a key (``Reference("email", 12, path)``).
The target says how to find those rows: their names (to say a condition in words and
to check, when a condition is saved, that what it points at exists) and the choices a
builder select offers. A kind that points at rows of its own brings its target.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Integer, String, Text, column, select, table
from sqlalchemy.orm import Session

from tidings.consent.models import Consent
from tidings.lists.models import RecipientList

# The emails table, named rather than imported: emails use conditions (widget
# variants), so the condition language sits below the emails package.
_emails = table("emails", column("id", BigInteger), column("name", String))
_links = table(
    "links", column("email_id", BigInteger), column("position", Integer), column("url", Text)
)

# (value, label) pairs of a select.
Choices = list[tuple[str, str]]


@dataclass(frozen=True, eq=False)
class Target:
    """Rows leaves point at: ``name`` is the reference target (``"email"``), ``noun``
    what messages call one (``"recipient list"``). ``names(session, keys)`` answers the
    name of each key that exists; ``choices(session, exclude)`` lists every row for a
    select (without the key ``exclude``, e.g. the group being edited)."""

    name: str
    noun: str
    names: Callable[[Session, Collection[Any]], dict[Any, str]]
    choices: Callable[[Session, Any], Choices]

    def __repr__(self) -> str:
        return f"Target({self.name!r})"

    def missing(self, session: Session, keys: Collection[Any]) -> set[Any]:
        """The keys among ``keys`` that name no row."""
        wanted = set(keys)
        return wanted - set(self.names(session, wanted)) if wanted else set()

    def describe(self, key: Any) -> str:
        """How a message names one row: ``email 9``, ``consent 'news'``."""
        return f"{self.noun} {key!r}" if isinstance(key, str) else f"{self.noun} {key}"


def _email_names(session: Session, keys: Collection[Any]) -> dict[Any, str]:
    rows = session.execute(select(_emails.c.id, _emails.c.name).where(_emails.c.id.in_(list(keys))))
    return {key: name for key, name in rows}


def _email_choices(session: Session, exclude: Any) -> Choices:
    """Newest first; a name shared by several emails carries the email's id."""
    emails = session.execute(
        select(_emails.c.id, _emails.c.name).order_by(_emails.c.id.desc())
    ).all()
    seen = Counter(name for _, name in emails)
    return [(str(eid), name if seen[name] == 1 else f"{name} (#{eid})") for eid, name in emails]


def email_links(session: Session, email_id: int) -> Choices:
    """An email's link URLs to pick from (``clicked_email``'s link select), each once,
    labelled with its positions."""
    positions: dict[str, list[int]] = {}
    for position, url in session.execute(
        select(_links.c.position, _links.c.url)
        .where(_links.c.email_id == email_id)
        .order_by(_links.c.position)
    ):
        positions.setdefault(url, []).append(position)
    return [
        (url, f"#{', #'.join(str(p) for p in found)} · {url}") for url, found in positions.items()
    ]


def _list_names(session: Session, keys: Collection[Any]) -> dict[Any, str]:
    query = select(RecipientList.id, RecipientList.name).where(RecipientList.id.in_(list(keys)))
    return {key: name for key, name in session.execute(query)}


def _list_choices(session: Session, exclude: Any) -> Choices:
    query = select(RecipientList.id, RecipientList.name).order_by(RecipientList.name)
    return [(str(lid), name) for lid, name in session.execute(query)]


def _consent_names(session: Session, keys: Collection[Any]) -> dict[Any, str]:
    query = select(Consent.code_name, Consent.display_name)
    return dict(session.execute(query.where(Consent.code_name.in_(list(keys)))).all())


def _consent_choices(session: Session, exclude: Any) -> Choices:
    query = select(Consent.code_name, Consent.display_name).order_by(Consent.display_name)
    return [(code, f"{display} ({code})") for code, display in session.execute(query)]


EMAIL = Target("email", "email", _email_names, _email_choices)
LIST = Target("list", "recipient list", _list_names, _list_choices)
CONSENT = Target("consent", "consent", _consent_names, _consent_choices)
