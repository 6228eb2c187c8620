"""Typed, bounded inputs shared by the admin pages (ids, search, form text).

Ids are ``tidings.values.Id`` in paths and queries and ``tidings.values.parse_id`` in
form fields, as everywhere else.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Query
from pydantic import AfterValidator

from tidings.values import Id

Before = Annotated[Id | None, Query()]


def _no_nul(value: str) -> str:
    """PostgreSQL refuses NUL characters in text; they never mean anything in a form."""
    return value.replace("\x00", "")


# Form fields: bounded, NUL characters dropped.
Text = Annotated[str, Form(max_length=1000), AfterValidator(_no_nul)]
LongText = Annotated[str, Form(max_length=100_000), AfterValidator(_no_nul)]
Search = Annotated[str, Query(max_length=200), AfterValidator(_no_nul)]

__all__ = ["Before", "Id", "LongText", "Search", "Text"]
