"""Session scope: one transaction per request or job, and one session per request."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker


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


def after_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run ``callback`` once the session's transaction has committed.

    Jobs are enqueued this way so a worker never sees a row that was rolled back.
    """
    pending: list[Callable[[], None]] = session.info.setdefault("after_commit", [])
    pending.append(callback)
    if not session.info.get("after_commit_hooked"):
        session.info["after_commit_hooked"] = True

        @event.listens_for(session, "after_commit")
        def _run(sess: Session) -> None:
            callbacks: list[Callable[[], None]] = sess.info.pop("after_commit", [])
            for cb in callbacks:
                cb()

        @event.listens_for(session, "after_rollback")
        def _drop(sess: Session) -> None:
            sess.info.pop("after_commit", None)
