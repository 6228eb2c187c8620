"""Helpers shared by the benchmarks: databases, machine facts, results, processes."""

from __future__ import annotations

import json
import os
import platform
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
OUT = BENCH / "out"  # git-ignored: URL lists, results, logs
DATA = BENCH / "data"  # git-ignored: benchmark databases
SECRET_KEY = "bench-secret-key-not-for-production-0123456789"  # noqa: S105 - a benchmark
BROWSER_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/150.0 Safari/537.36"
)
PG_ADMIN_URL = os.environ.get(
    "TIDINGS_BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def log(message: str) -> None:
    """Progress on stderr, so stdout stays for results."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    """A loopback TCP port free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    """True if nothing listens on ``port`` of loopback."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass(frozen=True)
class Database:
    """A benchmark database, created fresh and migrated."""

    kind: str  # "sqlite" or "postgresql"
    url: str
    data_dir: Path


def postgres_available() -> str | None:
    """None if PostgreSQL answers, else why not."""
    try:
        engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure means "not available"
        return str(exc).splitlines()[0]
    return None


def fresh_database(kind: str, name: str) -> Database:
    """Drop and recreate the benchmark database ``name``, migrated, defaults in place."""
    from tidings.assembly.bootstrap import migrate_and_bootstrap

    data_dir = DATA / f"{name}-{kind}"
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    if kind == "sqlite":
        url = f"sqlite:///{data_dir / 'tidings.db'}"
    else:
        db_name = f"tidings_bench_{name}"
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :db AND pid <> pg_backend_pid()"
                ),
                {"db": db_name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{db_name}"'))
            conn.execute(text(f'CREATE DATABASE "{db_name}"'))
        admin.dispose()
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{db_name}"
    migrate_and_bootstrap(url)
    return Database(kind=kind, url=url, data_dir=data_dir)


def tidings_env(db: Database, **extra: str) -> dict[str, str]:
    """Environment for a Tidings process on ``db``."""
    env = dict(os.environ)
    for key in [k for k in env if k.startswith("TIDINGS_")]:
        del env[key]
    env.update(
        {
            "TIDINGS_DATABASE_URL": db.url,
            "TIDINGS_DATA_DIR": str(db.data_dir),
            "TIDINGS_SECRET_KEY": SECRET_KEY,
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def machine() -> dict[str, Any]:
    """The facts a result table needs about this machine."""
    mem_kib = 0
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    pg_version = None
    if postgres_available() is None:
        engine = create_engine(PG_ADMIN_URL)
        with engine.connect() as conn:
            pg_version = str(conn.execute(text("SHOW server_version")).scalar())
        engine.dispose()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "cpus": os.cpu_count(),
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": pg_version,
        "load_average_at_start": os.getloadavg(),
    }


def write_result(name: str, result: dict[str, Any]) -> Path:
    """Save ``result`` as ``bench/out/<name>.json``."""
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{name}.json"
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    return path


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """Wait until something accepts connections on ``port``; fail if ``process`` died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout}s")


def stop(process: subprocess.Popen[Any], timeout: float = 10) -> None:
    """Terminate a child we started, killing it if it does not stop."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)
