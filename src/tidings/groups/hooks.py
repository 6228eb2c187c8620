"""Called by other packages when something a condition looks at changed for contacts.

The activity writer and the contact, consent and subscription services call
``contacts_changed(session, ids)`` inside their transaction; one job per transaction
re-evaluates the groups of all contacts touched, after the commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from sqlalchemy import event
from sqlalchemy.orm import Session

from tidings.db.session import after_commit
from tidings.groups.models import ContactGroup

if TYPE_CHECKING:
    from tidings.runtime import Runtime

PENDING_KEY = "groups.changed_contacts"
# More contacts than this in one transaction (an import) rebuild all groups instead.
BULK_THRESHOLD = 20_000


def contacts_changed(
    session: Session, contact_ids: Iterable[int], *, groups_exist: bool | None = None
) -> None:
    """Schedule a membership update of these contacts once ``session`` commits.

    Does nothing without contact groups, or for a session that has no runtime
    (``session.info["runtime"]``, set by ``Runtime.session()``). A caller that has
    already asked in this transaction whether any group exists passes the answer as
    ``groups_exist``; then this touches no database.
    """
    runtime: Runtime | None = session.info.get("runtime")
    ids = {int(cid) for cid in contact_ids}
    if runtime is None or not ids:
        return
    pending: set[int] | None = session.info.get(PENDING_KEY)
    if pending is None:
        # A driver statement: the tracking writer asks this for every batch it writes.
        if groups_exist is None:
            table = ContactGroup.__tablename__
            found = session.connection().exec_driver_sql(f"SELECT 1 FROM {table} LIMIT 1")  # noqa: S608
            groups_exist = found.first() is not None
        if not groups_exist:
            return
        pending = set()
        session.info[PENDING_KEY] = pending
        _forget_at_end(session)
        after_commit(session, lambda: _enqueue(runtime, sorted(pending)))
    pending.update(ids)


def _enqueue(runtime: Runtime, contact_ids: list[int]) -> None:
    if len(contact_ids) > BULK_THRESHOLD:
        runtime.queue.enqueue("groups.rebuild_all")
    else:
        runtime.queue.enqueue("groups.update_contacts", contact_ids=contact_ids)


def _forget_at_end(session: Session) -> None:
    if session.info.get("groups.rollback_hooked"):
        return
    session.info["groups.rollback_hooked"] = True

    @event.listens_for(session, "after_commit")
    @event.listens_for(session, "after_rollback")
    def _forget(sess: Session) -> None:
        sess.info.pop(PENDING_KEY, None)
