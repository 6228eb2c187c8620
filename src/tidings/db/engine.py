"""Engine creation with the SQLite pragmas Tidings relies on."""

from __future__ import annotations

import logging
import sqlite3
import threading
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.pool import NullPool

from tidings.db.write_lock import WriteLock
from tidings.jobs.loop import BackgroundLoop

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
        database = engine.url.database
        if not database or ":memory:" in url:
            raise ValueError("an in-memory SQLite database is not supported; use a file")
        event.listen(engine, "connect", _sqlite_pragmas)

        # Writers take turns (``write_lock``) rather than race in SQLite's busy handler.
        write_lock = WriteLock(database)

        @event.listens_for(engine, "begin")
        def _begin_immediate(conn: Any) -> None:
            # Take the write lock at the start of every transaction: avoids
            # SQLITE_BUSY on lock upgrades between concurrent writers.
            write_lock.acquire(conn)
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            except BaseException:
                write_lock.release(conn)
                raise

        event.listen(engine, "commit", write_lock.release)
        event.listen(engine, "rollback", write_lock.release)

        @event.listens_for(engine, "connect")
        def _no_pysqlite_begin(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None

        return engine
    if kwargs.pop("null_pool", False):
        return create_engine(url, poolclass=NullPool, **kwargs)
    return create_engine(
        url, pool_size=pool_size, max_overflow=20, pool_pre_ping=pre_ping, **kwargs
    )


class BackgroundCheckpoints(BackgroundLoop):
    """SQLite checkpoints taken by a thread of their own instead of by whichever
    commit happens to cross the WAL's threshold.

    The tracking writer commits hundreds of small batches a second; a checkpoint in
    its commit (copy the WAL into the database file, then fsync) held every waiting
    click for milliseconds. Here the engine's connections stop checkpointing, and a
    thread runs a passive checkpoint every ``interval`` seconds. A passive checkpoint
    never blocks writers, and so under sustained load it never quite catches up with
    the frames written meanwhile: the WAL would only grow. Past ``restart_bytes`` of
    frames the thread passes again over the few frames written during its last pass,
    then asks the writer for one last short pass between two of its transactions
    (``between_transactions``), which leaves nothing behind: the writer's next
    transaction starts the WAL from its beginning. An idle writer does not answer;
    then the thread makes that pass itself.

    The writer spends only that last pass (a few frames and two small fsyncs). A
    RESTART checkpoint would instead hold SQLite's write lock while it runs, and the
    writer, refused, would sleep in SQLite's busy handler for tens of milliseconds.
    """

    CATCH_UP_PASSES = 4
    FEW_FRAMES = 64
    WRITER_WAIT = 0.5  # seconds the thread waits for the writer to make the last pass

    def __init__(
        self, engine: Engine, *, interval: float = 0.5, restart_bytes: int = 64 * 1024 * 1024
    ) -> None:
        super().__init__("tidings-checkpoints", interval, delay_first=True)
        self.restart_bytes = restart_bytes
        database = engine.url.database
        if engine.dialect.name != "sqlite" or not database:
            raise ValueError("background checkpoints are for SQLite databases")
        self.path = database
        self.checkpoints = 0
        self.restarts = 0  # last passes that left the whole WAL copied
        self._conn: sqlite3.Connection | None = None
        self._conn_lock = threading.Lock()
        self._page_size = 4096
        self._due = False
        self._passed = threading.Event()
        event.listen(engine, "connect", _no_autocheckpoint)

    def start(self) -> None:
        """Open the thread's connection and start the thread."""
        if self.running():
            return
        self._conn = sqlite3.connect(
            self.path, timeout=30, isolation_level=None, check_same_thread=False
        )
        self._page_size = self._conn.execute("PRAGMA page_size").fetchone()[0]
        super().start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the thread after a last checkpoint (``finish``)."""
        super().stop(timeout)
        if self._conn is not None and not self.running():
            self._conn.close()
            self._conn = None

    def between_transactions(self) -> None:
        """The writer calls this between two of its transactions: when a last pass is
        due, it runs here, while the writer writes nothing."""
        if self._due:
            with self._conn_lock:
                if self._due:
                    self._last_pass()

    def tick(self) -> None:
        """A passive checkpoint; past ``restart_bytes`` of WAL, the catching up."""
        logged, _ = self._passive()
        if logged * self._page_size > self.restart_bytes:
            self._catch_up(logged)
        self.checkpoints += 1

    def finish(self) -> None:
        """The last checkpoint, on the way out: copies everything and resets the WAL."""
        assert self._conn is not None
        with self._conn_lock:
            self._conn.execute("PRAGMA wal_checkpoint(RESTART)")
        self.checkpoints += 1

    def _passive(self) -> tuple[int, int]:
        """One passive checkpoint: (frames in the WAL, frames copied to the database)."""
        assert self._conn is not None
        with self._conn_lock:
            _, logged, copied = self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return int(logged), int(copied)

    def _catch_up(self, logged: int) -> None:
        # Each pass copies what was written during the one before: fewer each time.
        for _ in range(self.CATCH_UP_PASSES):
            now, _ = self._passive()
            grown, logged = now - logged, now
            if grown <= self.FEW_FRAMES:
                break
        self._passed.clear()
        self._due = True
        if not self._passed.wait(self.WRITER_WAIT):
            with self._conn_lock:
                if self._due:
                    self._last_pass()

    def _last_pass(self) -> None:
        """The pass that lets the WAL start over; ``_conn_lock`` is held."""
        assert self._conn is not None
        self._due = False
        try:
            _, logged, copied = self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            if logged == copied:
                self.restarts += 1
        except sqlite3.Error as exc:
            log.warning("checkpoint failed: %s", exc)
        finally:
            self._passed.set()


def _no_autocheckpoint(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")
