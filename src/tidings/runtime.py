"""The runtime: settings, database, job queue and the shared services of one process."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from tidings.config import Settings
from tidings.db.engine import make_engine
from tidings.db.session import make_sessionmaker, session_scope

if TYPE_CHECKING:
    from tidings.jobs.queue import JobQueue

T = TypeVar("T")


class Runtime:
    """Everything one Tidings process shares: built once at start, passed explicitly.

    Domains keep what they share per process (tracking its token signer and link
    cache, consent its policy) through ``shared``, so the runtime knows none of them.
    """

    def __init__(self, settings: Settings, *, pre_ping: bool = True) -> None:
        self.settings = settings
        self.database_url = settings.resolved_database_url()
        self.engine: Engine = make_engine(self.database_url, pre_ping=pre_ping)
        self.sessions: sessionmaker[Session] = make_sessionmaker(self.engine)
        self.secret_key = settings.resolved_secret_key()
        self.base_url = settings.resolved_base_url()
        self._queue: JobQueue | None = None
        self._shared: dict[Callable[[Runtime], Any], Any] = {}
        self._shared_lock = threading.Lock()

    @property
    def is_sqlite(self) -> bool:
        """True on the embedded SQLite database."""
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: commit on success, roll back on error."""
        with session_scope(self.sessions) as session:
            session.info["runtime"] = self
            yield session

    def shared(self, factory: Callable[[Runtime], T]) -> T:
        """The one object ``factory`` makes for this runtime, made on first use.

        ``factory`` is also the key: pass a module-level class or function, never a
        fresh lambda. Thread-safe; after the first call a dictionary look-up.
        """
        try:
            item: T = self._shared[factory]
            return item
        except KeyError:
            with self._shared_lock:
                if factory not in self._shared:
                    self._shared[factory] = factory(self)
                made: T = self._shared[factory]
                return made

    @property
    def queue(self) -> JobQueue:
        """The job queue (embedded SQLite or Redis)."""
        if self._queue is None:
            from tidings.jobs.queue import JobQueue

            self._queue = JobQueue(self)
        return self._queue

    def catcher_url(self) -> str:
        """SMTP URL of the embedded mail catcher (written by the process running it)."""
        path = self.settings.resolved_data_dir() / "mailcatcher.url"
        if path.exists():
            return path.read_text().strip()
        return f"smtp://127.0.0.1:{self.settings.mailcatcher_port}"

    def close(self) -> None:
        """Release connections."""
        self.engine.dispose()
