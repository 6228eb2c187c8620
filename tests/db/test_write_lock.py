"""SQLite writers take turns through ``db.write_lock``: every transaction holds the
lock file from its BEGIN to its end, a thread never waits for itself, and a wait past
the timeout fails like SQLite's own "database is locked"."""

from __future__ import annotations

import fcntl
import gc
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from tidings.db.engine import make_engine
from tidings.db.write_lock import WriteLock


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'lock.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
    yield engine
    engine.dispose()


def _locked_elsewhere(path: str) -> bool:
    """Whether another open file description can take the lock file now."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops a lock taken above
    return False


def test_a_transaction_holds_the_lock_from_begin_to_commit_or_rollback(
    engine: Engine, tmp_path: Path
) -> None:
    path = str(tmp_path / "lock.db-writelock")
    assert not _locked_elsewhere(path)
    with engine.connect() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
        assert _locked_elsewhere(path)
        conn.commit()
        assert not _locked_elsewhere(path)
        conn.execute(text("INSERT INTO t VALUES (2)"))
        assert _locked_elsewhere(path)
        conn.rollback()
        assert not _locked_elsewhere(path)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT n FROM t")).scalars().all() == [1]


def test_a_second_transaction_in_the_same_thread_fails_at_once(engine: Engine) -> None:
    with engine.connect() as first, engine.connect() as second:
        first.execute(text("INSERT INTO t VALUES (1)"))
        with pytest.raises(OperationalError, match="would wait for itself"):
            second.execute(text("SELECT 1"))
        first.commit()
        # Once the first has ended, the same thread begins again as usual.
        second.execute(text("INSERT INTO t VALUES (2)"))
        second.commit()


def test_a_wait_past_the_timeout_fails_as_locked_and_leaves_the_lock_usable(
    tmp_path: Path,
) -> None:
    lock = WriteLock(str(tmp_path / "x.db"), timeout=0.05)
    holder = os.open(lock.path, os.O_RDWR | os.O_CREAT)
    fcntl.flock(holder, fcntl.LOCK_EX)  # another process, as far as the lock can tell
    conn: Any = type("Conn", (), {"info": {}})()
    with pytest.raises(OperationalError, match="database is locked"):
        lock.acquire(conn)
    assert conn.info == {}
    os.close(holder)
    lock.acquire(conn)  # the thread lock was given back after the failed wait
    assert _locked_elsewhere(lock.path)
    lock.release(conn)
    assert not _locked_elsewhere(lock.path)
    lock.release(conn)  # a second release of the same transaction does nothing


def test_the_lock_file_is_closed_with_its_engine(tmp_path: Path) -> None:
    def open_locks() -> int:
        return sum(
            1
            for fd in os.listdir("/proc/self/fd")
            if os.path.realpath(f"/proc/self/fd/{fd}").endswith("gone.db-writelock")
        )

    engine = make_engine(f"sqlite:///{tmp_path / 'gone.db'}")
    with engine.begin() as conn:
        conn.execute(text("SELECT 1"))
    assert open_locks() == 1
    engine.dispose()
    del engine, conn
    gc.collect()
    assert open_locks() == 0
