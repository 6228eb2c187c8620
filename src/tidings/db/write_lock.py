"""SQLite's write lock, taken in turn instead of by whoever retries first.

Every Tidings transaction on SQLite starts with ``BEGIN IMMEDIATE``: it takes the
database's one write lock or waits for it. SQLite's own wait (the busy handler) sleeps
and retries, with sleeps growing to 100 ms, and never queues anybody: a writer that
commits and begins again at once (the tracking writer process, at hundreds of batches
a second) gets the lock back before a waiter wakes from its sleep, and a process with
several busy threads (the embedded mode's web process: the event dispatcher, the
single-message pool, request handlers) starves the tracking writer the same way. At
200 clicks a second with a click automation, clicks waited seconds for their answer
and follow-ups seconds for their send (bench/README.md).

``WriteLock`` puts an ordinary lock in front of ``BEGIN IMMEDIATE``: a thread lock
among the threads of one process (a waiter wakes the moment the holder releases),
then an exclusive ``flock`` on ``<database>-writelock`` beside the database file
among processes, polled every ``POLL_SECONDS`` (fine enough that nobody sleeps long
while the lock is free). It is released when the transaction ends (commit or
rollback). SQLite's own lock stays the rule for correctness; this only decides who
asks next. The kernel drops a dead process's ``flock``, so a killed process never
leaves it held. A thread that begins a second transaction while its first holds the
lock would wait for itself: that fails at once. Like SQLite's busy timeout, a wait
longer than ``timeout`` fails with "database is locked"; both raise SQLAlchemy's
``OperationalError``, as SQLite's own refusal would.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
import weakref
from typing import Any

from sqlalchemy.exc import OperationalError

POLL_SECONDS = 0.0005
HELD_KEY = "tidings.write_lock"


def _locked(message: str) -> OperationalError:
    return OperationalError("BEGIN IMMEDIATE", None, sqlite3.OperationalError(message))


class WriteLock:
    """The write lock of one SQLite database file, for one engine."""

    def __init__(self, database: str, *, timeout: float = 30.0) -> None:
        self.path = f"{database}-writelock"
        self.timeout = timeout
        self._thread_lock = threading.Lock()
        self._owner: int | None = None
        self._fd: int | None = None
        self._pid = 0

    def acquire(self, conn: Any) -> None:
        """Wait for the lock (called as ``conn``'s transaction begins)."""
        me = threading.get_ident()
        if self._owner == me:
            raise _locked(
                "database is locked: this thread already has a transaction open on "
                "another connection and would wait for itself"
            )
        deadline = time.monotonic() + self.timeout
        if not self._thread_lock.acquire(timeout=self.timeout):
            raise _locked("database is locked (waited for another thread)")
        try:
            fd = self._file()
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise _locked("database is locked (waited for another process)") from None
                    time.sleep(POLL_SECONDS)
        except BaseException:
            self._thread_lock.release()
            raise
        self._owner = me
        conn.info[HELD_KEY] = True

    def release(self, conn: Any) -> None:
        """Let the next one in (called as ``conn``'s transaction ends)."""
        if not conn.info.pop(HELD_KEY, False):
            return
        self._owner = None
        try:
            if self._fd is not None and self._pid == os.getpid():
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()

    def _file(self) -> int:
        """This process's descriptor of the lock file, opened on first use under the
        thread lock and closed with the engine (when this lock is collected). A forked
        child opens its own: a descriptor shared with the parent shares its lock too."""
        if self._fd is None or self._pid != os.getpid():
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._pid = os.getpid()
            weakref.finalize(self, _close, self._fd, self._pid)
        return self._fd


def _close(fd: int, pid: int) -> None:
    if os.getpid() == pid:  # a forked child's copy belongs to its parent
        os.close(fd)
