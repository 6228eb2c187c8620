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

    checkpoints.start()
    writer = threading.Thread(target=write)
    writer.start()
    try:
        deadline = time.monotonic() + 20
        while checkpoints.restarts < 3 or written < 40 * 1024 * 1024:
            assert time.monotonic() < deadline, f"{checkpoints.restarts} restarts"
            time.sleep(0.05)
    finally:
        stop.set()
        writer.join()
        checkpoints.stop()
    # 40 MB of rows (80 MB of pages) went through a WAL that started over on the way:
    # without the last passes it would hold every one of those pages.
    wal = tmp_path / "c.db-wal"
    assert wal.stat().st_size < 20 * 1024 * 1024
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == written // 2000
    engine.dispose()
