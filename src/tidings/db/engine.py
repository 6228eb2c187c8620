"""Engine creation with the SQLite pragmas Tidings relies on."""

from __future__ import annotations

import logging
import sqlite3
import threading
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.pool import NullPool

log = logging.getLogger(__name__)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode survives a killed process; only power loss can drop
    # the last commits.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # Erased personal data is overwritten, not just unlinked (B10).
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def make_engine(url: str, *, pool_size: int = 10, pre_ping: bool = True, **kwargs: Any) -> Engine:
    """Create an engine for ``url`` (SQLite or PostgreSQL). ``pre_ping`` tests a
    PostgreSQL connection on each checkout (one round trip); a process that
    invalidates connections itself on disconnect errors can do without."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=pool_size,
            max_overflow=20,
            **kwargs,
        )
        if ":memory:" in url:
            raise ValueError("an in-memory SQLite database is not supported; use a file")
        event.listen(engine, "connect", _sqlite_pragmas)

        @event.listens_for(engine, "begin")
        def _begin_immediate(conn: Any) -> None:
            # Take the write lock at the start of every transaction: avoids
            # SQLITE_BUSY on lock upgrades between concurrent writers.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        @event.listens_for(engine, "connect")
        def _no_pysqlite_begin(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None

        return engine
    if kwargs.pop("null_pool", False):
        return create_engine(url, poolclass=NullPool, **kwargs)
    return create_engine(
        url, pool_size=pool_size, max_overflow=20, pool_pre_ping=pre_ping, **kwargs
    )


class BackgroundCheckpoints:
    """SQLite checkpoints taken by a thread of their own instead of by whichever
    commit happens to cross the WAL's threshold.

    The tracking writer commits hundreds of small batches a second; a checkpoint in
    its commit (copy the WAL into the database file, then fsync) held every waiting
    click for milliseconds. Here the engine's connections stop checkpointing, and a
    thread runs a passive checkpoint (it never blocks writers) every ``interval``
    seconds. Under sustained load a passive checkpoint never catches up with the
    frames written meanwhile, so the WAL would only grow: past ``restart_bytes`` of
    frames, a restarting checkpoint copies the few frames the passive one left, waiting
    for the writer of the moment, and the WAL starts again from its beginning.
    """

    def __init__(
        self, engine: Engine, *, interval: float = 0.5, restart_bytes: int = 16 * 1024 * 1024
    ) -> None:
        self.interval = interval
        self.restart_bytes = restart_bytes
        database = engine.url.database
        if engine.dialect.name != "sqlite" or not database:
            raise ValueError("background checkpoints are for SQLite databases")
        self.path = database
        self.checkpoints = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        event.listen(engine, "connect", _no_autocheckpoint)

    def start(self) -> None:
        """Start the checkpoint thread."""
        self._thread = threading.Thread(target=self._run, name="tidings-checkpoints", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread after a last checkpoint."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
            self._thread = None

    def _run(self) -> None:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        try:
            while True:
                stopping = self._stop.wait(self.interval)
                try:
                    _, logged, _ = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    if stopping or logged * page_size > self.restart_bytes:
                        # Copies what the passive one left (little), then lets the
                        # next commit start the WAL from its beginning again.
                        conn.execute("PRAGMA wal_checkpoint(RESTART)")
                    self.checkpoints += 1
                except sqlite3.Error as exc:
                    log.warning("checkpoint failed: %s", exc)
                if stopping:
                    return
        finally:
            conn.close()


def _no_autocheckpoint(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")
