"""The runtime: settings, database, signer and shared services of one process."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from tidings.config import Settings
from tidings.db.engine import make_engine
from tidings.db.session import make_sessionmaker, session_scope

if TYPE_CHECKING:
    from tidings.jobs.queue import JobQueue
    from tidings.tracking.cache import LinkCache
    from tidings.tracking.tokens import TokenSigner


class Runtime:
    """Everything one Tidings process shares: built once at start, passed explicitly."""

    def __init__(self, settings: Settings, *, pre_ping: bool = True) -> None:
        self.settings = settings
        self.database_url = settings.resolved_database_url()
        self.engine: Engine = make_engine(self.database_url, pre_ping=pre_ping)
        self.sessions: sessionmaker[Session] = make_sessionmaker(self.engine)
        self.secret_key = settings.resolved_secret_key()
        self.base_url = settings.resolved_base_url()
        self._signer: TokenSigner | None = None
        self._links: LinkCache | None = None
        self._queue: JobQueue | None = None

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

    @property
    def signer(self) -> TokenSigner:
        """Signs and verifies tracking and unsubscribe tokens."""
        if self._signer is None:
            from tidings.tracking.tokens import TokenSigner

            self._signer = TokenSigner(self.secret_key)
        return self._signer

    @property
    def links(self) -> LinkCache:
        """Cache of link destinations in front of the database."""
        if self._links is None:
            from tidings.tracking.cache import LinkCache

            self._links = LinkCache(self.sessions)
        return self._links

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
