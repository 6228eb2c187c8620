"""Publishing: an outbox row in the caller's transaction, a wake-up after its commit.

The rows of a transaction are inserted just before it commits (``before_commit``), as
one multi-row insert. On PostgreSQL that insert first takes a transaction-level
advisory lock, held until the commit: outbox ids are then handed out in commit order,
so a dispatcher that has read event ``n`` never later finds a smaller id committing
behind it. The lock is held only from the insert to the commit, the last step of the
transaction. SQLite has one writer at a time, so its ids are in commit order anyway.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, event, text
from sqlalchemy.orm import Session, SessionTransaction

from tidings.db.base import driver_time, utcnow
from tidings.db.session import TransactionScoped, outermost
from tidings.events.listen import NOTIFY
from tidings.events.models import OutboxEvent
from tidings.events.types import EventType, JsonValue

if TYPE_CHECKING:
    from tidings.runtime import Runtime

log = logging.getLogger(__name__)

PENDING_KEY = "events.pending"
HOOKED_KEY = "events.hooked"
PUBLISHED_KEY = "events.published"
# pg_advisory_xact_lock key serializing outbox inserts with their commits ("tdgevnt").
OUTBOX_LOCK = 0x74646765766E74
LOCK_OUTBOX = "SELECT pg_advisory_xact_lock(" + str(OUTBOX_LOCK) + ")"

_Row = tuple[EventType, datetime, dict[str, JsonValue]]


def publish(session: Session, type: EventType, data: Mapping[str, JsonValue]) -> None:
    """Adds one outbox row in the caller's transaction. Nothing is delivered before
    commit; a rollback drops it."""
    publish_many(session, [(type, data)])


def publish_many(
    session: Session, events: Iterable[tuple[EventType, Mapping[str, JsonValue]]]
) -> None:
    """Add several outbox rows in the caller's transaction (one multi-row insert)."""
    now = utcnow()
    rows: list[_Row] = [(EventType(kind), now, json_safe(data)) for kind, data in events]
    if not rows:
        return
    _hook(session)
    pending = TransactionScoped(session, PENDING_KEY)
    for row in rows:
        pending.add(row)


def json_safe(data: Mapping[str, JsonValue]) -> dict[str, JsonValue]:
    """A plain copy of ``data``; a value JSON cannot carry as it is fails at once."""
    if all(type(k) is str and (type(v) in _PLAIN or _ints(v)) for k, v in data.items()):
        return dict(data)  # the usual case (ids and names), without the walk below
    copied = _copy(dict(data), "data")
    assert isinstance(copied, dict)
    return copied


_PLAIN = frozenset({int, str, bool, float, type(None)})


def _ints(value: object) -> bool:
    """A list of plain ints (a rebuild's contact ids): JSON-safe as it is."""
    return type(value) is list and all(type(item) is int for item in value)


def _copy(value: Any, path: str) -> JsonValue:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Mapping):
        out: dict[str, JsonValue] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{path}: keys must be strings, not {key!r}")
            out[key] = _copy(item, f"{path}.{key}")
        return out
    if isinstance(value, list | tuple):
        return [_copy(item, f"{path}[{n}]") for n, item in enumerate(value)]
    raise TypeError(f"{path}: {type(value).__name__} is not JSON-safe")


# The outbox insert in the driver's own terms: a rebuild's moves are handed out a few
# thousand events per transaction, and SQLAlchemy's per-row type processing made that
# cost seconds. SQLite: one executemany of prepared JSON and times. PostgreSQL: one
# statement whatever the number of rows, the rows as one JSON document (one call of
# the C encoder here, one parse there).
_TABLE = OutboxEvent.__tablename__
_INSERT_SQLITE = f"INSERT INTO {_TABLE} (type, occurred_at, data) VALUES (?, ?, ?)"  # noqa: S608
_INSERT_PG = (
    f"INSERT INTO {_TABLE} (type, occurred_at, data) "  # noqa: S608
    "SELECT e->>0, CAST(e->>1 AS TIMESTAMPTZ), e->2 "
    "FROM json_array_elements(CAST(%s AS JSON)) WITH ORDINALITY AS r (e, n) ORDER BY n"
)
_dumps = json.JSONEncoder().encode  # what json.dumps does with its defaults


def insert_now(session: Session, rows: list[_Row]) -> None:
    """Insert ``rows`` into the outbox in ``session``'s transaction, taking the
    outbox lock on PostgreSQL (held until the transaction ends)."""
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        document = _dumps([[str(kind), at.isoformat(), data] for kind, at, data in rows])
        session.execute(text(LOCK_OUTBOX))
        connection.exec_driver_sql(_INSERT_PG, (document,))
        # Delivered at the commit, to every process's listener (events.listen).
        session.execute(text(NOTIFY))
    else:
        known: dict[datetime, datetime | str] = {}  # a transaction's rows share a few times
        params = [
            (
                str(kind),
                known.get(at) or known.setdefault(at, driver_time("sqlite", at)),
                _dumps(data),
            )
            for kind, at, data in rows
        ]
        connection.exec_driver_sql(_INSERT_SQLITE, params)
    session.info[PUBLISHED_KEY] = True


def _hook(session: Session) -> None:
    if session.info.get(HOOKED_KEY):
        return
    session.info[HOOKED_KEY] = True

    # A savepoint's release fires before_commit and after_commit too: the rows are
    # written, and the dispatcher woken, only by the outermost commit.
    @event.listens_for(session, "before_commit")
    def _write(sess: Session) -> None:
        if not outermost(sess):
            return
        rows: list[_Row] = TransactionScoped(sess, PENDING_KEY).take()
        if rows:
            # The caller's own writes first: nothing may wait for a row lock while
            # the outbox lock is held.
            sess.flush()
            insert_now(sess, rows)

    @event.listens_for(session, "after_commit")
    def _wake(sess: Session) -> None:
        if not outermost(sess):
            TransactionScoped(sess, PENDING_KEY).released()
            return
        if sess.info.pop(PUBLISHED_KEY, False):
            runtime: Runtime | None = sess.info.get("runtime")
            if runtime is not None:
                from tidings.events.dispatch import wake

                wake(runtime)

    @event.listens_for(session, "after_rollback")
    def _drop(sess: Session) -> None:
        TransactionScoped(sess, PENDING_KEY).rolled_back()
        if outermost(sess):
            sess.info.pop(PUBLISHED_KEY, None)

    @event.listens_for(session, "after_transaction_end")
    def _end(sess: Session, transaction: SessionTransaction) -> None:
        if transaction.parent is None:  # the outermost: nothing outlives it
            sess.info.pop(PENDING_KEY, None)
            sess.info.pop(PUBLISHED_KEY, None)


def forget_contact(session: Session, contact_id: int) -> None:
    """Delete the outbox's events about an erased contact (B10): their data may hold
    what the person did (a URL with their address in it). Subscribers learn of the
    erasure from ``contact.erased``, published after this."""
    session.execute(
        delete(OutboxEvent).where(OutboxEvent.data["contact_id"].as_integer() == contact_id)
    )


def lock_outbox(session: Session) -> None:
    """Take the outbox lock now (PostgreSQL; nothing on SQLite).

    For a transaction about to delete a contact: the tracking writer inserts a batch's
    activities (a key-share lock on each contact) while it holds the outbox lock, so a
    deleter must hold the outbox lock before its delete, never wait for it after.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(LOCK_OUTBOX))


def mark_published(session: Session) -> None:
    """Wake the dispatcher after this session commits: for writers that insert outbox
    rows with statements of their own (the tracking writer)."""
    _hook(session)
    session.info[PUBLISHED_KEY] = True
