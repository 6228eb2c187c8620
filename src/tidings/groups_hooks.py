"""Tell contact groups that contacts changed, when the groups package is present."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session


def notify_contacts_changed(session: Session, contact_ids: Iterable[int]) -> None:
    """Queue an incremental group update for ``contact_ids`` after the commit."""
    try:
        from tidings.groups.hooks import contacts_changed
    except ModuleNotFoundError:
        return
    contacts_changed(session, list(contact_ids))
