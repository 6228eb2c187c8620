"""Readers of definition keys (trigger and steps) that name the bad path, and checks
that referenced rows exist."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy.orm import Session

from tidings.conditions import validate
from tidings.emails.models import Email, EmailPurpose, Link
from tidings.errors import Invalid
from tidings.lists.models import RecipientList

CUSTOM_NAME = re.compile(r"[A-Za-z0-9_-]{1,100}")

check_keys = validate.check_keys
optional_id = validate.positive_int
required_id = validate.required_int
optional_text = validate.text
required_text = validate.required_text


def keys(
    data: Mapping[str, object],
    path: str,
    *,
    required: Collection[str] = (),
    optional: Collection[str] = (),
) -> None:
    """Refuse unknown and missing keys; ``id``, ``type`` and ``next`` are a step's own."""
    check_keys(data, path, required=required, optional=(*optional, "id", "next"))


def email(session: Session, email_id: int | None, path: str, *, purpose: str | None) -> None:
    """Refuse an email that does not exist or is not of ``purpose``."""
    if email_id is None:
        return
    found = session.get(Email, email_id)
    if found is None:
        raise Invalid(f"{path}: email {email_id} not found")
    if purpose is not None and found.purpose != purpose:
        raise Invalid(
            f"{path}: email {email_id} is a {found.purpose} email; it must be an email "
            f"of purpose {purpose}"
        )


def link(session: Session, link_id: int | None, email_id: int | None, path: str) -> None:
    """Refuse a link that does not exist (or is not in ``email_id``)."""
    if link_id is None:
        return
    found = session.get(Link, link_id)
    if found is None or (email_id is not None and found.email_id != email_id):
        where = f" in email {email_id}" if email_id is not None else ""
        raise Invalid(f"{path}: link {link_id} not found{where}")


def recipient_list(session: Session, list_id: int, path: str) -> None:
    """Refuse a recipient list that does not exist."""
    if session.get(RecipientList, list_id) is None:
        raise Invalid(f"{path}: recipient list {list_id} not found")


AUTOMATION = EmailPurpose.AUTOMATION.value


def normalized(data: Mapping[str, Any], keep: Collection[str]) -> dict[str, Any]:
    """``data`` with only ``keep`` keys whose value is not null."""
    return {key: data[key] for key in keep if data.get(key) is not None}
