"""Typed, bounded inputs shared by the admin pages (ids, search, form text).

Ids are ``tidings.values.Id`` in paths and queries and ``tidings.values.parse_id`` in
form fields, as everywhere else.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Form, Query, Request
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

FormItems = list[tuple[str, str]]


async def form_items(request: Request) -> FormItems:
    """Every posted text field in page order, NUL characters dropped: for forms whose
    field names are made on the page (a condition builder's rows, a list of variants)."""
    form = await request.form()
    return [(key, _no_nul(value)) for key, value in form.multi_items() if isinstance(value, str)]


FormDep = Annotated[FormItems, Depends(form_items)]

__all__ = ["Before", "FormDep", "FormItems", "Id", "LongText", "Search", "Text", "form_items"]
