"""Bounded values every entry point accepts: ids, text and JSON.

Ids are PostgreSQL ``BIGINT``: ``1 .. 2**63 - 1``. A larger number would overflow the
SQLite driver or fail in PostgreSQL, so every id read from a path, a query, a form or
a JSON body goes through ``Id`` (typed parameters and schemas) or ``parse_id`` (text
fields) and is refused before it reaches the database. Text is refused when it holds
a NUL character (PostgreSQL cannot store one) or a lone surrogate (not Unicode: it
cannot be written as UTF-8). JSON given as a tree (a group condition) is held to the
same rules, with integers within 64 bits and finite numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    Field,
    GetJsonSchemaHandler,
    PlainSerializer,
    WithJsonSchema,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from tidings.errors import Invalid

MAX_ID = 2**63 - 1
MIN_INT = -(2**63)
MAX_JSON_DEPTH = 32

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
"""An id in a path, a query or a body: ``1 .. 2**63 - 1``, else 422."""


def parse_id(text: str | None, what: str | None = None) -> int | None:
    """The id in a form or query field, ``None`` when it is empty. Anything else that is
    not an id raises ``Invalid`` naming ``what``, or gives ``None`` when no ``what`` is
    given (for fields where a stray value just means "none chosen")."""
    value = (text or "").strip()
    if value.isascii() and value.isdigit() and 1 <= int(value) <= MAX_ID:
        return int(value)
    if value and what is not None:
        raise Invalid(f"{what}: not a valid choice")
    return None


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as text, or ``None`` when it can."""
    if "\x00" in value:
        return "must not contain NUL characters"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode (it holds a lone surrogate)"
    return None


def _check_text(value: str) -> str:
    problem = text_problem(value)
    if problem is not None:
        raise PydanticCustomError("invalid_text", problem)
    return value


class _NoNulSchema:
    """Documents the NUL rule in the JSON schema (a lone surrogate cannot be sent as
    JSON text at all, so it needs no words there)."""

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        out = handler(schema)
        out.setdefault("pattern", "^[^\\u0000]*$")
        return out


Text = Annotated[str, AfterValidator(_check_text), _NoNulSchema()]
"""A string of any length (bound it with ``Field(max_length=...)``) that can be stored."""


def json_problem(value: object, path: str = "", depth: int = 0) -> str | None:
    """Why the JSON tree ``value`` cannot be accepted (``path: reason``), or ``None``."""
    where = path or "value"
    if depth > MAX_JSON_DEPTH:
        return f"{where}: nested more than {MAX_JSON_DEPTH} levels deep"
    if isinstance(value, str):
        problem = text_problem(value)
        return f"{where}: {problem}" if problem else None
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return None if MIN_INT <= value <= MAX_ID else f"{where}: integers must fit in 64 bits"
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{where}: numbers must be finite"
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str) or text_problem(key):
                return f"{where}: a key is not valid text"
            problem = json_problem(item, f"{path}.{key}" if path else key, depth + 1)
            if problem:
                return problem
        return None
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            problem = json_problem(item, f"{path}[{index}]", depth + 1)
            if problem:
                return problem
        return None
    return f"{where}: not a JSON value"


def _check_json(value: Any) -> Any:
    problem = json_problem(value)
    if problem is not None:
        raise PydanticCustomError("invalid_json", problem)
    return value


JsonTree = Annotated[Any, AfterValidator(_check_json)]
"""Any JSON value whose strings are ``Text``, integers 64-bit and numbers finite."""


def _iso(value: datetime) -> str:
    return value.isoformat()


Timestamp = Annotated[
    datetime,
    PlainSerializer(_iso, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}, mode="serialization"),
]
"""A timezone-aware time, answered as ISO 8601 (``2025-11-03T14:05:00+00:00``)."""
