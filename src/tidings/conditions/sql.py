"""The SQL back end's context and the few expressions that differ between databases.

Every leaf compiles to a two-valued boolean expression about ``contacts.id`` (never
NULL, so ``not`` is a plain complement). Rows of other tables are tested with
``contact_in``: ``contacts.id IN (SELECT contact_id ...)`` on SQLite, which builds the
set once, and ``EXISTS`` on PostgreSQL, which its planner turns into semi- and
anti-joins (``NOT IN`` over a big set falls back to a per-row scan there).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    Float,
    String,
    and_,
    case,
    cast,
    collate,
    exists,
    func,
    literal,
    null,
    select,
)
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.elements import ColumnElement

from tidings.contacts.models import Contact

SUPPORTED_DIALECTS = ("sqlite", "postgresql")

# A column, or an ORM attribute standing for one.
Expr = ColumnElement[Any] | QueryableAttribute[Any]


@dataclass(frozen=True)
class Guarded:
    """A value that means something only where ``guard`` holds; ``guard`` is never NULL
    and ``value`` is not NULL where it holds, so ``test`` stays two-valued."""

    guard: ColumnElement[bool]
    value: ColumnElement[Any]

    def test(self, predicate: ColumnElement[bool]) -> ColumnElement[bool]:
        """``predicate AND guard``: false (not NULL) wherever the guard fails.

        The predicate goes first: it fails for most rows, and SQLite then skips the
        guard (another parse of the JSON document).
        """
        return and_(predicate, self.guard)


@dataclass(frozen=True)
class SqlContext:
    """What a leaf needs to compile: the database flavour and the reference time."""

    dialect: str
    now: datetime
    contact_id: ColumnElement[int] = field(default_factory=lambda: Contact.id.expression)

    def __post_init__(self) -> None:
        if self.dialect not in SUPPORTED_DIALECTS:
            raise ValueError(f"conditions do not compile for {self.dialect!r}")
        if self.now.tzinfo is None:
            raise ValueError("now must be timezone-aware")

    @property
    def is_sqlite(self) -> bool:
        """True when compiling for SQLite."""
        return self.dialect == "sqlite"

    def since(self, within_days: int) -> datetime:
        """The earliest time a ``within_days`` window includes."""
        return self.now - timedelta(days=within_days)

    def contact_in(
        self,
        contact_col: Expr,
        *criteria: ColumnElement[bool],
        min_count: int = 1,
    ) -> ColumnElement[bool]:
        """True when at least ``min_count`` rows whose ``contact_col`` is this contact
        match ``criteria``."""
        if self.is_sqlite:
            if min_count == 1:
                ids = select(contact_col).where(contact_col.is_not(None), *criteria)
                return self.contact_id.in_(ids)
            # "+ 0" stops SQLite from walking a contact_id index in full to skip the
            # sort: a range of the criteria plus a temporary B-tree is far cheaper.
            grouped = contact_col + 0
            frequent = (
                select(grouped)
                .where(contact_col.is_not(None), *criteria)
                .group_by(grouped)
                .having(func.count() >= min_count)
            )
            return self.contact_id.in_(frequent)
        if min_count == 1:
            return exists().where(contact_col == self.contact_id, *criteria)
        counted = (
            select(contact_col.label("contact_id"))
            .where(*criteria)
            .group_by(contact_col)
            .having(func.count() >= min_count)
            .subquery()
        )
        return exists().where(counted.c.contact_id == self.contact_id)

    # Custom fields live in the JSON column ``contacts.fields``.

    def _json_kind(self, key: str) -> ColumnElement[str]:
        """The JSON type name of the field, '' when it is absent (never NULL)."""
        if self.is_sqlite:
            kind = func.json_type(Contact.fields, _sqlite_path(key))
        else:
            kind = func.json_typeof(Contact.fields.op("->", return_type=JSON)(_key(key)))
        return func.coalesce(kind, "")

    def _json_scalar_text(self, key: str) -> ColumnElement[str]:
        if self.is_sqlite:
            return func.json_extract(Contact.fields, _sqlite_path(key), type_=String)
        return Contact.fields.op("->>", return_type=String)(_key(key))

    def json_text(self, key: str) -> Guarded:
        """The custom field as text, guarded by "it is a JSON string"."""
        kind = "text" if self.is_sqlite else "string"
        return Guarded(self._json_kind(key) == kind, self._json_scalar_text(key))

    def json_number(self, key: str) -> Guarded:
        """The custom field as a double, guarded by "it is a JSON number"."""
        as_float = cast(self._json_scalar_text(key), Float)
        if self.is_sqlite:
            return Guarded(self._json_kind(key).in_(("integer", "real")), as_float)
        is_number = self._json_kind(key) == "number"
        # PostgreSQL may evaluate both sides of AND, and the cast raises on non-numbers:
        # CASE guarantees it only runs on numbers.
        return Guarded(is_number, case((is_number, as_float), else_=null()))

    def json_boolean_is(self, key: str, value: bool) -> ColumnElement[bool]:
        """True when the custom field is the JSON boolean ``value``."""
        name = "true" if value else "false"
        if self.is_sqlite:
            return self._json_kind(key) == name
        return and_(self._json_kind(key) == "boolean", self._json_scalar_text(key) == name)

    def json_is_null(self, key: str) -> ColumnElement[bool]:
        """True when the custom field is missing or JSON null."""
        return self._json_kind(key).in_(("", "null"))

    # Text tests: case-sensitive, by code point, identical on both databases.

    def text_contains(self, text: Expr, needle: str) -> ColumnElement[bool]:
        """``needle`` occurs in ``text`` (NULL when ``text`` is NULL)."""
        position = func.instr if self.is_sqlite else func.strpos
        return position(text, needle) > 0

    def text_starts_with(self, text: Expr, prefix: str) -> ColumnElement[bool]:
        """``text`` begins with ``prefix`` (NULL when ``text`` is NULL)."""
        return func.substr(text, 1, len(prefix)) == prefix

    def text_ordered(self, text: Expr) -> Expr:
        """``text`` compared by code point (SQLite's BINARY, PostgreSQL's "C")."""
        return text if self.is_sqlite else collate(text, "C")


def _key(key: str) -> ColumnElement[str]:
    return cast(literal(key), String)


def _sqlite_path(key: str) -> ColumnElement[str]:
    # Field names are restricted to [A-Za-z0-9_-], so quoting them is enough.
    return literal(f'$."{key}"', String)
