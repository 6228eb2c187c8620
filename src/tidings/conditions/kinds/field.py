"""The ``field`` leaf: comparisons on a contact's columns and custom fields.

``{"type": "field", "field": F, "op": OP, "value": V}``

Fields: ``email``, ``first_name`` and ``last_name`` are the contact's columns; any other
name (``contacts.fields.FIELD_NAME``: ``[A-Za-z0-9_-]``, up to 100 characters) is a key
of the custom ``fields`` JSON.

A field's value is one of: *missing* (absent key, JSON null or a NULL column), *text*,
*number*, *boolean*, or a list/object. Comparisons are typed and never convert between
kinds, so SQLite's ``json_extract`` and PostgreSQL's ``->>`` give the same answer:

- ``eq`` V — a string V matches text equal to V (exact, case-sensitive); a number V
  matches a number equal to V; a boolean V matches that boolean. ``"42"`` (text) does
  not equal ``42`` (number): store numbers as JSON numbers.
- ``ne`` V — exactly ``not eq``: missing fields and fields of another kind match.
- ``contains`` S / ``starts_with`` S — text containing / beginning with S
  (case-sensitive, by character).
- ``gt`` / ``lt`` V — a number V compares numbers as 64-bit floats; a string V compares
  text by Unicode code point (not by locale: ``"B" < "a"``). A missing field or one of
  another kind satisfies neither ``gt`` nor ``lt``.
- ``empty`` (no value) — missing, JSON null or the empty string ``""``. Lists and
  objects, even empty ones, are not empty.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self

from sqlalchemy import false, not_, or_
from sqlalchemy.sql.elements import ColumnElement

from tidings.conditions import validate
from tidings.conditions.builder import Builder, Input, Option
from tidings.conditions.facts import ContactFacts
from tidings.conditions.kind import Kind
from tidings.conditions.nodes import Leaf
from tidings.conditions.sql import Guarded, SqlContext
from tidings.conditions.words import Names, Part, quote, text
from tidings.contacts.fields import FIELD_NAME
from tidings.contacts.models import Contact
from tidings.errors import Invalid

COLUMNS = {
    "email": Contact.email,
    "first_name": Contact.first_name,
    "last_name": Contact.last_name,
}
# Each comparison: (op, in the builder, in words, in words under "not").
COMPARISONS = (
    ("eq", "is", "is", "is not"),
    ("ne", "is not", "is not", "is"),
    ("contains", "contains", "contains", "does not contain"),
    ("starts_with", "starts with", "starts with", "does not start with"),
    ("gt", "is more than", "is more than", "is not more than"),
    ("lt", "is less than", "is less than", "is not less than"),
    ("empty", "is empty", "is empty", "is not empty"),
)
OPS = tuple(op for op, *_ in COMPARISONS)
WORDS = {op: (said, denied) for op, _, said, denied in COMPARISONS}
COLUMN_WORDS = {"email": "email address", "first_name": "first name", "last_name": "last name"}

Scalar = str | int | float | bool


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return float(value)
    except OverflowError:
        return None


@dataclass(frozen=True)
class FieldCondition(Leaf):
    """Compare one field with a value."""

    kind = "field"
    field: str
    op: str
    value: Scalar | None
    path: str = "condition"

    @classmethod
    def parse(cls, data: Mapping[str, object], path: str) -> Self:
        op = data.get("op")
        if op not in OPS:
            raise Invalid(f"{path}.op: must be one of {', '.join(OPS)}")
        if op == "empty":
            validate.check_keys(data, path, required=("field", "op"), optional=("value",))
            if data.get("value") is not None:
                raise Invalid(f"{path}.value: op 'empty' takes no value")
        else:
            validate.check_keys(data, path, required=("field", "op", "value"))
        name = data.get("field")
        if not isinstance(name, str) or not FIELD_NAME.fullmatch(name):
            raise Invalid(
                f"{path}.field: must be email, first_name, last_name or a custom field name "
                "of letters, digits, '_' and '-'"
            )
        value: Scalar | None = None
        if op in ("contains", "starts_with"):
            value = validate.required_text(data, "value", path)
        elif op in ("gt", "lt"):
            value = validate.scalar(data, "value", path)
            if isinstance(value, bool):
                raise Invalid(f"{path}.value: op {op!r} needs a number or a string")
        elif op in ("eq", "ne"):
            value = validate.scalar(data, "value", path)
        return cls(field=name, op=str(op), value=value, path=path)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.kind, "field": self.field, "op": self.op}
        if self.op != "empty":
            out["value"] = self.value
        return out

    # SQL back end

    def to_sql(self, ctx: SqlContext) -> ColumnElement[bool]:
        column = COLUMNS.get(self.field)
        if column is None:
            text, number = ctx.json_text(self.field), ctx.json_number(self.field)
            missing = ctx.json_is_null(self.field)
        else:
            text, number = Guarded(column.is_not(None), column.expression), None
            missing = column.is_(None)
        if self.op in ("eq", "ne"):
            equal = self._sql_eq(ctx, text, number)
            return equal if self.op == "eq" else not_(equal)
        if self.op == "empty":
            return or_(missing, text.test(text.value == ""))
        value = self.value
        if self.op == "contains":
            return text.test(ctx.text_contains(text.value, str(value)))
        if self.op == "starts_with":
            return text.test(ctx.text_starts_with(text.value, str(value)))
        if isinstance(value, str):
            ordered = ctx.text_ordered(text.value)
            return text.test(ordered > value if self.op == "gt" else ordered < value)
        bound = _number(value)
        if bound is None or number is None:
            return false()
        return number.test(number.value > bound if self.op == "gt" else number.value < bound)

    def _sql_eq(
        self, ctx: SqlContext, text: Guarded, number: Guarded | None
    ) -> ColumnElement[bool]:
        value = self.value
        if isinstance(value, bool):
            return false() if number is None else ctx.json_boolean_is(self.field, value)
        if isinstance(value, str):
            return text.test(text.value == value)
        bound = _number(value)
        if bound is None or number is None:
            return false()
        return number.test(number.value == bound)

    # Python back end

    def evaluate(self, facts: ContactFacts, now: datetime) -> bool:
        if self.field in COLUMNS:
            current: object = getattr(facts, self.field)
        else:
            current = facts.fields.get(self.field)
        if self.op == "eq":
            return self._py_eq(current)
        if self.op == "ne":
            return not self._py_eq(current)
        if self.op == "empty":
            return current is None or current == ""
        value = self.value
        if self.op == "contains":
            return isinstance(current, str) and isinstance(value, str) and value in current
        if self.op == "starts_with":
            return isinstance(current, str) and isinstance(value, str) and current.startswith(value)
        if isinstance(value, str):
            if not isinstance(current, str):
                return False
            return current > value if self.op == "gt" else current < value
        left, right = _number(current), _number(value)
        if left is None or right is None:
            return False
        return left > right if self.op == "gt" else left < right

    def _py_eq(self, current: object) -> bool:
        value = self.value
        if isinstance(value, bool):
            return isinstance(current, bool) and current is value
        if isinstance(value, str):
            return isinstance(current, str) and current == value
        left, right = _number(current), _number(value)
        return left is not None and right is not None and left == right

    # Words

    def words(self, names: Names, negate: bool) -> list[Part]:
        if self.field in COLUMN_WORDS:
            parts = [text(COLUMN_WORDS[self.field])]
        else:
            parts = [text("the field "), quote(self.field)]
        parts.append(text(f" {WORDS[self.op][1 if negate else 0]}"))
        value = self.value
        if self.op == "empty":
            return parts
        if isinstance(value, bool):
            return [*parts, text(" "), Part("value", "true" if value else "false")]
        if isinstance(value, str):
            return [*parts, text(" "), quote(value)]
        return [*parts, text(" "), Part("value", json.dumps(value))]


KIND = Kind(
    FieldCondition,
    Builder(
        "Contact field",
        (
            Input(
                "field",
                "text",
                "Field",
                placeholder="field, e.g. first_name",
                required=True,
                max_length=100,
                width="field",
                suggestions=tuple(COLUMNS),
                part="comparison",
            ),
            Input(
                "op",
                "select",
                "Comparison",
                options=tuple(Option(op, label) for op, label, *_ in COMPARISONS),
                required=True,
                role="op",
                part="comparison",
            ),
            Input(
                "value",
                "typed",
                "Value",
                placeholder="value",
                width="value",
                role="value",
                hidden_when=("op", "empty"),
                part="comparison",
            ),
        ),
        order=10,
    ),
)
