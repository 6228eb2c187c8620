"""Export every contact as CSV: the columns the importer (`lists.importer`) reads back."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any, TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from tidings.contacts.models import Contact

BASE_COLUMNS = ["email", "first_name", "last_name"]
PAGE = 1000


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    # A cell starting with a formula character would run as a formula in a spreadsheet.
    return "'" + text if text[:1] in {"=", "+", "-", "@", "\t", "\r"} else text


def _contacts(session: Session) -> Iterator[Contact]:
    last = 0
    while True:
        page = session.scalars(
            select(Contact).where(Contact.id > last).order_by(Contact.id).limit(PAGE)
        ).all()
        if not page:
            return
        yield from page
        last = page[-1].id


def field_names(session: Session) -> list[str]:
    """Every custom field name in use, sorted."""
    names: set[str] = set()
    for fields in session.scalars(select(Contact.fields)):
        names.update((fields or {}).keys())
    return sorted(names - set(BASE_COLUMNS))


def write_csv(*, session: Session, out: TextIO) -> int:
    """Write all contacts to ``out``; returns how many."""
    extra = field_names(session)
    writer = csv.writer(out)
    writer.writerow([*BASE_COLUMNS, *extra, "opted_out"])
    count = 0
    for contact in _contacts(session):
        fields = contact.fields or {}
        writer.writerow(
            [
                _cell(contact.email),
                _cell(contact.first_name),
                _cell(contact.last_name),
                *(_cell(fields.get(name)) for name in extra),
                "yes" if contact.opted_out_at else "",
            ]
        )
        count += 1
    return count
