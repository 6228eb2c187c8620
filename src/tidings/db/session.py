"""Session scope: one transaction per request or job, and one session per request."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

log = logging.getLogger(__name__)


class SecondSessionError(RuntimeError):
    """A request opened a database session while its own was still open.

    On SQLite the second one would wait for the first one's write lock until the busy
    timeout: the request would hang, then fail. A handler takes the request's session
    (``web.deps.SessionDep``) and nothing else.
    """


class _RequestSessions:
    """What one request has open (shared by the threads its handlers run in)."""

    __slots__ = ("open",)

    def __init__(self) -> None:
        self.open = False


_request: ContextVar[_RequestSessions | None] = ContextVar("tidings_request", default=None)


@contextmanager
def request_scope() -> Iterator[None]:
    """Mark the code inside as one request: it may hold one session at a time."""
    token = _request.set(_RequestSessions())
    try:
        yield
    finally:
        _request.reset(token)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """A session factory bound to ``engine``; objects stay readable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Open a session, commit on success, roll back on error, always close.

    Inside a request (``request_scope``) a second session while one is open fails at
    once with ``SecondSessionError`` instead of waiting for the first one's lock.
    """
    request = _request.get()
    if request is not None:
        if request.open:
            raise SecondSessionError(
                "this request already has its database session open; use it "
                "(web.deps.SessionDep) instead of opening another"
            )
        request.open = True
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
        if request is not None:
            request.open = False


def outermost(session: Session) -> bool:
    """Whether the transaction now ending (inside a transaction event) is the
    session's outermost one, not a savepoint's."""
    return session.get_nested_transaction() is None


class TransactionScoped:
    """Things a transaction collects for its outermost commit (callbacks, rows).

    Each item belongs to the savepoint it was added in: a savepoint that is released
    hands its items to the enclosing transaction, one rolled back drops only its own,
    and a rollback of the outermost transaction drops them all. ``take`` gives what
    is left for the outermost commit. SQLAlchemy fires ``before_commit`` and
    ``after_commit`` for a savepoint's release too, and ``after_rollback`` for its
    rollback; users of this class check ``outermost`` in those events.
    """

    def __init__(self, session: Session, key: str) -> None:
        self.session = session
        self.key = key

    def _items(self) -> list[list[Any]]:
        items: list[list[Any]] = self.session.info.setdefault(self.key, [])
        return items

    def add(self, item: Any) -> None:
        """Collect ``item`` in the current savepoint (or the outermost transaction)."""
        self._items().append([self.session.get_nested_transaction(), item])

    def has_items(self) -> bool:
        """Whether anything is collected."""
        return bool(self.session.info.get(self.key))

    def released(self) -> None:
        """The current savepoint was released: its items go to the enclosing one."""
        ending = self.session.get_nested_transaction()
        if ending is None:
            return
        parent = ending.parent
        owner = parent if parent is not None and parent.nested else None
        for entry in self.session.info.get(self.key, []):
            if entry[0] is ending:
                entry[0] = owner

    def rolled_back(self) -> None:
        """The current savepoint (or the whole transaction) was rolled back."""
        ending = self.session.get_nested_transaction()
        if ending is None:
            self.session.info.pop(self.key, None)
            return
        kept = [e for e in self.session.info.get(self.key, []) if e[0] is not ending]
        self.session.info[self.key] = kept

    def take(self) -> list[Any]:
        """Everything collected, emptied (for the outermost commit)."""
        return [entry[1] for entry in self.session.info.pop(self.key, [])]

    def hook(self) -> None:
        """Follow the session's savepoints and transactions for this key (once per
        session): what is not taken by the outermost commit is dropped when the
        outermost transaction ends."""
        hooked = self.session.info.setdefault("scoped_hooked", set())
        if self.key in hooked:
            return
        hooked.add(self.key)
        key = self.key

        @event.listens_for(self.session, "after_commit")
        def _released(sess: Session) -> None:
            if not outermost(sess):
                TransactionScoped(sess, key).released()

        @event.listens_for(self.session, "after_rollback")
        def _dropped(sess: Session) -> None:
            TransactionScoped(sess, key).rolled_back()

        @event.listens_for(self.session, "after_transaction_end")
        def _ended(sess: Session, transaction: SessionTransaction) -> None:
            if transaction.parent is None:
                sess.info.pop(key, None)


AFTER_COMMIT_KEY = "after_commit"


def after_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run ``callback`` once the session's outermost transaction has committed.

    Jobs are enqueued this way so a worker never sees a row that was rolled back. A
    savepoint's release runs nothing; a savepoint's rollback drops only the callbacks
    added inside it. A callback that raises is logged and the others still run.
    """
    pending = TransactionScoped(session, AFTER_COMMIT_KEY)
    pending.add(callback)
    if session.info.get("after_commit_hooked"):
        return
    session.info["after_commit_hooked"] = True

    @event.listens_for(session, "after_commit")
    def _run(sess: Session) -> None:
        scoped = TransactionScoped(sess, AFTER_COMMIT_KEY)
        if not outermost(sess):
            scoped.released()
            return
        for cb in scoped.take():
            try:
                cb()
            except Exception:
                log.exception("an after-commit callback failed")

    @event.listens_for(session, "after_rollback")
    def _drop(sess: Session) -> None:
        TransactionScoped(sess, AFTER_COMMIT_KEY).rolled_back()

    @event.listens_for(session, "after_transaction_end")
    def _end(sess: Session, transaction: SessionTransaction) -> None:
        if transaction.parent is None:  # the outermost: nothing outlives it
            sess.info.pop(AFTER_COMMIT_KEY, None)
