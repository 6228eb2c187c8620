"""SQLite checkpoints taken in the background instead of in a writer's commit."""

from __future__ import annotations

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
