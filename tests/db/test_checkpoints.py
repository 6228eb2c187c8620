"""SQLite checkpoints taken in the background instead of in a writer's commit."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from tidings.db.engine import BackgroundCheckpoints, make_engine


def test_commits_stop_checkpointing_and_the_thread_catches_up(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'c.db'}")
    checkpoints = BackgroundCheckpoints(engine, interval=0.05)
    checkpoints.start()
    try:
        with engine.begin() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
            conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
        for _ in range(20):
            with engine.begin() as conn:
                conn.execute(text("INSERT INTO t (body) VALUES (:b)"), [{"b": "x" * 3000}] * 50)
        # 3 MB went to the WAL; the database file holds it once a checkpoint ran,
        # and no commit checkpoints any more: only the thread can have copied it.
        database = tmp_path / "c.db"
        deadline = time.monotonic() + 10
        while database.stat().st_size < 20 * 50 * 3000:
            assert time.monotonic() < deadline, "the WAL was not checkpointed"
            time.sleep(0.05)
    finally:
        checkpoints.stop()
        engine.dispose()
    assert checkpoints.checkpoints >= 2


def test_only_for_sqlite() -> None:
    engine = make_engine("postgresql+psycopg://postgres@127.0.0.1:5432/test", null_pool=True)
    with pytest.raises(ValueError, match="SQLite"):
        BackgroundCheckpoints(engine)
    engine.dispose()


def test_the_wal_starts_over_under_a_writer_that_never_pauses(tmp_path: Path) -> None:
    """A writer committing back to back, as the tracking writer does under load: passive
    checkpoints alone would never catch up, and the WAL would only grow. The last pass,
    between two of the writer's transactions, lets it start from the beginning again."""
    engine = make_engine(f"sqlite:///{tmp_path / 'c.db'}")
    checkpoints = BackgroundCheckpoints(engine, interval=0.02, restart_bytes=256 * 1024)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
    stop = threading.Event()
    written = 0

    def write() -> None:
        nonlocal written
        while not stop.is_set():
            with engine.begin() as conn:
                conn.execute(text("INSERT INTO t (body) VALUES (:b)"), [{"b": "x" * 2000}] * 20)
            written += 20 * 2000
            checkpoints.between_transactions()

    wal = tmp_path / "c.db-wal"

    def wal_size() -> int:
        return wal.stat().st_size if wal.exists() else 0

    checkpoints.start()
    writer = threading.Thread(target=write)
    writer.start()
    try:
        # Without the last passes the WAL would hold every page written (a little
        # more than the rows' size); with them it starts over and stays bounded. Its
        # file keeps the largest size it ever reached, which a loaded machine (a
        # checkpoint thread starved of time, slow fsyncs) can push up for a while:
        # so the writer goes on until what went through the WAL is four times what
        # it holds, however long that takes. A WAL that never started over cannot
        # get there.
        deadline = time.monotonic() + 120
        while checkpoints.restarts < 3 or written < max(40 * 1024 * 1024, 4 * wal_size()):
            assert time.monotonic() < deadline, (
                f"{checkpoints.restarts} restarts, WAL of {wal_size()} bytes "
                f"after {written} bytes of rows"
            )
            time.sleep(0.05)
    finally:
        stop.set()
        writer.join()
        checkpoints.stop()
    assert checkpoints.restarts >= 3
    assert wal_size() <= written / 4
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == written // 2000
    engine.dispose()
