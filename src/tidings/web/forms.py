"""Typed, bounded inputs shared by the admin pages (ids, search, form text)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Path, Query
from pydantic import AfterValidator

# Ids above this are refused with 422 before reaching the database (BIGINT range).
MAX_ID = 2**62
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
Before = Annotated[int | None, Query(ge=1, le=MAX_ID)]


def _no_nul(value: str) -> str:
    """PostgreSQL refuses NUL characters in text; they never mean anything in a form."""
    return value.replace("\x00", "")


# Form fields: bounded, NUL characters dropped.
Text = Annotated[str, Form(max_length=1000), AfterValidator(_no_nul)]
LongText = Annotated[str, Form(max_length=100_000), AfterValidator(_no_nul)]
Search = Annotated[str, Query(max_length=200), AfterValidator(_no_nul)]


def parse_id(text: str) -> int | None:
    """A form field holding an id, or None when it is not one."""
    text = text.strip()
    return int(text) if text.isdigit() and 1 <= int(text) <= MAX_ID else None
