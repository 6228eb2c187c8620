"""Custom fields of a contact: the names and values Tidings accepts.

One definition for every way in (API, admin form, CSV import) and for the condition
language, which compares fields by these names (``conditions/kinds/field.py``):

- a name is 1 to 100 letters, digits, ``_`` or ``-`` (``FIELD_NAME``), and not one of
  the contact's columns (``email``, ``first_name``, ``last_name``: a condition on
  those names reads the column);
- a value is a string of at most ``MAX_VALUE_LENGTH`` characters (no NUL, valid
  Unicode), a number (an integer within 64 bits, or a finite decimal), ``true`` /
  ``false``, or ``null``; lists and objects are refused;
- a contact has at most ``MAX_FIELDS`` fields.

``null`` means "no value": it removes the field when changing a contact and is not
stored when creating one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from tidings.errors import Invalid
from tidings.values import MAX_ID, MIN_INT, text_problem

FIELD_NAME = re.compile(r"[A-Za-z0-9_-]{1,100}")
MAX_NAME_LENGTH = 100
MAX_FIELDS = 100
MAX_VALUE_LENGTH = 2000
COLUMN_NAMES = frozenset({"email", "first_name", "last_name"})

FieldValue = str | int | float | bool | None


def name_problem(name: object) -> str | None:
    """Why ``name`` cannot name a custom field, or ``None``."""
    if not isinstance(name, str) or not FIELD_NAME.fullmatch(name):
        return f"a field name is 1 to {MAX_NAME_LENGTH} letters, digits, '_' or '-' (no spaces)"
    if name in COLUMN_NAMES:
        return f"{name} is a column of the contact, not a custom field"
    return None


def value_problem(value: object) -> str | None:
    """Why ``value`` cannot be a custom field's value, or ``None``."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        if len(value) > MAX_VALUE_LENGTH:
            return f"at most {MAX_VALUE_LENGTH} characters"
        return text_problem(value)
    if isinstance(value, int):
        return None if MIN_INT <= value <= MAX_ID else "integers must fit in 64 bits"
    if isinstance(value, float):
        return None if math.isfinite(value) else "numbers must be finite"
    return "must be a string, a number, true, false or null (not a list or an object)"


def check(fields: Mapping[str, object], *, what: str = "fields") -> dict[str, FieldValue]:
    """The fields, checked: ``Invalid`` names the first bad one (``fields.name: why``)."""
    checked: dict[str, FieldValue] = {}
    for name, value in fields.items():
        problem = name_problem(name)
        if problem:
            shown = name if isinstance(name, str) else repr(name)
            raise Invalid(f"{what}: {shown[:120]!r}: {problem}")
        problem = value_problem(value)
        if problem:
            raise Invalid(f"{what}.{name}: {problem}")
        checked[name] = value  # type: ignore[assignment]  # value_problem checked it
    return checked


def check_count(fields: Mapping[str, object], *, what: str = "fields") -> None:
    """``Invalid`` when a contact would have more than ``MAX_FIELDS`` fields."""
    if len(fields) > MAX_FIELDS:
        raise Invalid(f"{what}: at most {MAX_FIELDS} custom fields per contact")


def merge(current: Mapping[str, object], changes: Mapping[str, object]) -> dict[str, object]:
    """``current`` with ``changes`` applied (checked); a ``None`` value removes a field."""
    merged = dict(current)
    for name, value in check(changes).items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    check_count(merged)
    return merged
