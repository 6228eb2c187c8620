"""Contact facts: the snapshot of one contact the Python back end evaluates against.

Besides the contact row (email, names, custom fields), a fact is one *source* of rows
about contacts: consents agreed, lists subscribed, activities... Each condition kind
declares the sources its leaves read (``Leaf.needs``), and ``load_facts`` reads the
contact row and exactly those sources, in one ``UNION ALL`` query per 500 contacts.
A kind that brings a new source (``FactSource``) writes its part of that query and
folds its rows into the value its leaves read with ``ContactFacts.get``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    CompoundSelect,
    Select,
    String,
    Text,
    bindparam,
    literal,
    null,
    select,
    union_all,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import QueryableAttribute, Session

from tidings.contacts.models import Contact
from tidings.db.base import BigId, UTCDateTime

# Rows per IN (...) list: well under SQLite's bound-parameter limit.
CHUNK = 500

T = TypeVar("T")

# One row of a source, as its fold sees it: (number, label, value, moment).
FactRow = tuple[Any, Any, Any, Any]


@dataclass(frozen=True)
class FactQuery:
    """What a source's part of the facts query is built from: ``ids`` (the contacts,
    an expanding parameter), ``keys`` (the keys asked for, or None for every row) and
    ``columns``, which pads a row to the query's shape under the source's tag."""

    tag: str
    ids: BindParameter[list[int]]
    keys: BindParameter[list[str]] | None

    def columns(
        self,
        contact_id: ColumnElement[Any] | QueryableAttribute[Any],
        *,
        number: ColumnElement[Any] | QueryableAttribute[Any] | None = None,
        label: ColumnElement[Any] | QueryableAttribute[Any] | None = None,
        value: ColumnElement[Any] | QueryableAttribute[Any] | None = None,
        moment: ColumnElement[Any] | QueryableAttribute[Any] | None = None,
    ) -> list[Any]:
        """The eight columns of a facts row: tag, contact id, number (an id), label and
        value (text), moment (a UTC time), and two columns only the contact row uses."""
        no_text = sql_cast(null(), String)
        return [
            literal(self.tag),
            contact_id,
            sql_cast(null(), BigId) if number is None else number,
            no_text if label is None else label,
            no_text if value is None else value,
            sql_cast(null(), UTCDateTime) if moment is None else moment,
            no_text,
            no_text,
        ]


@dataclass(frozen=True, eq=False)
class FactSource(Generic[T]):
    """One kind of row about contacts that leaves read, e.g. the consents agreed.

    ``query`` builds the source's part of the facts query (``FactQuery.columns`` pads
    it); ``fold`` turns one contact's rows (an empty list when it has none) into the
    value ``ContactFacts.get`` answers. A ``keyed`` source can load only the rows whose
    key a tree asks for (activities by type): its query filters on ``FactQuery.keys``.
    """

    name: str
    query: Callable[[FactQuery], Select[Any]]
    fold: Callable[[list[FactRow]], T]
    keyed: bool = False

    def __repr__(self) -> str:
        return f"FactSource({self.name!r})"


# What a tree needs loaded: each source with the keys asked for (None: every row).
Needs = Mapping[FactSource[Any], frozenset[str] | None]


def merge_needs(*needs: Needs) -> dict[FactSource[Any], frozenset[str] | None]:
    """Several needs as one: every source any of them asks for, with all their keys."""
    merged: dict[FactSource[Any], frozenset[str] | None] = {}
    for need in needs:
        for source, keys in need.items():
            if source not in merged:
                merged[source] = keys
            else:
                known = merged[source]
                merged[source] = None if known is None or keys is None else known | keys
    return merged


def numbers(rows: list[FactRow]) -> frozenset[int]:
    """A fold: the rows' numbers (ids) as a set."""
    return frozenset(row[0] for row in rows)


def labels(rows: list[FactRow]) -> frozenset[str]:
    """A fold: the rows' labels as a set."""
    return frozenset(row[1] for row in rows)


@dataclass
class ContactFacts:
    """Everything conditions can ask about one contact: the contact row, and the value
    of each source loaded (``get``). A value may be mutable on purpose: an incremental
    group update adds and removes group ids as it goes, so dependent groups see them."""

    contact_id: int
    email: str
    first_name: str | None
    last_name: str | None
    fields: dict[str, Any]
    loaded: dict[FactSource[Any], Any] = field(default_factory=dict)

    def get(self, source: FactSource[T]) -> T:
        """The value of ``source`` for this contact; ``LookupError`` when it was not
        loaded (a leaf reading a source its ``needs`` does not name)."""
        try:
            return cast(T, self.loaded[source])
        except KeyError:
            raise LookupError(f"the facts {source.name!r} were not loaded") from None


def chunked(ids: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """``ids`` in slices of at most ``size``."""
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def load_facts(
    session: Session, contact_ids: Iterable[int], *, needs: Needs
) -> dict[int, ContactFacts]:
    """Load the facts ``needs`` names for many contacts: one query per 500 contacts.

    Contacts that do not exist are left out.
    """
    ids = sorted(set(contact_ids))
    facts: dict[int, ContactFacts] = {}
    parts = tuple(sorted(needs.items(), key=lambda item: item[0].name))
    for chunk in chunked(ids):
        facts.update(_load_chunk(session, chunk, parts))
    return facts


CONTACT_TAG = "contact"
_ids: BindParameter[list[int]] = bindparam("ids", expanding=True)
_contacts = Contact.__table__.c

# Built statements by the sources they read (and whether each is filtered by keys):
# incremental updates load facts per activity, where building a statement would cost
# more than running it.
_statements: dict[tuple[tuple[FactSource[Any], bool], ...], CompoundSelect[Any]] = {}
_STATEMENTS_MAX = 256


def _statement(shape: tuple[tuple[FactSource[Any], bool], ...]) -> CompoundSelect[Any]:
    found = _statements.get(shape)
    if found is not None:
        return found
    if len({source.name for source, _ in shape} | {CONTACT_TAG}) != len(shape) + 1:
        raise ValueError(f"fact sources with the same name: {[s.name for s, _ in shape]}")
    parts: list[Select[Any]] = [
        # First, so the result columns take its types (the moment is a UTC datetime).
        select(literal(CONTACT_TAG), _contacts.id, sql_cast(null(), BigId), _contacts.email)
        .add_columns(sql_cast(_contacts.fields, Text), sql_cast(null(), UTCDateTime))
        .add_columns(_contacts.first_name, _contacts.last_name)
        .where(_contacts.id.in_(_ids))
    ]
    for source, filtered in shape:
        keys: BindParameter[list[str]] | None = None
        if filtered:
            keys = bindparam(f"keys_{source.name}", expanding=True)
        parts.append(source.query(FactQuery(tag=source.name, ids=_ids, keys=keys)))
    statement = union_all(*parts)
    if len(_statements) >= _STATEMENTS_MAX:
        _statements.clear()
    _statements[shape] = statement
    return statement


def _load_chunk(
    session: Session,
    ids: Sequence[int],
    parts: tuple[tuple[FactSource[Any], frozenset[str] | None], ...],
) -> dict[int, ContactFacts]:
    params: dict[str, Any] = {"ids": list(ids)}
    shape: list[tuple[FactSource[Any], bool]] = []
    for source, keys in parts:
        if keys is not None and source.keyed:
            if not keys:
                continue  # nothing of it is asked for: every contact folds no rows
            params[f"keys_{source.name}"] = sorted(keys)
        shape.append((source, keys is not None and source.keyed))

    found: dict[int, ContactFacts] = {}
    rows_of: dict[str, dict[int, list[FactRow]]] = {source.name: {} for source, _ in parts}
    result = session.connection().execute(_statement(tuple(shape)), params)
    for tag, contact_id, number, label, value, moment, first, last in result:
        if tag == CONTACT_TAG:
            fields = json.loads(value) if value is not None else None
            found[contact_id] = ContactFacts(
                contact_id=contact_id,
                email=label,
                first_name=first,
                last_name=last,
                fields=dict(fields or {}),
            )
        else:
            rows_of[tag].setdefault(contact_id, []).append((number, label, value, moment))

    for contact_id, item in found.items():
        for source, _ in parts:
            item.loaded[source] = source.fold(rows_of[source.name].get(contact_id, []))
    return found
