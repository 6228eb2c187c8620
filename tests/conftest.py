"""Shared fixtures: every database test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from tests.support.live import LiveServer
from tests.support.smtp import SmtpServer, SmtpSink
from tidings.assembly.bootstrap import ensure_defaults, migrate_and_bootstrap
from tidings.assembly.schema import metadata
from tidings.config import Settings
from tidings.runtime import Runtime

PG_ADMIN_URL = os.environ.get(
    "TIDINGS_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
# One database per test process, so concurrent runs never share (or drop) each other's.
PG_TEST_DB = os.environ.get("TIDINGS_TEST_PG_DB", f"tidings_test_{os.getpid()}")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _pg_url() -> str:
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{PG_TEST_DB}"


def unavailable(what: str, reason: str) -> None:
    """Skip with a visible reason, or fail under CI where every server must be up."""
    message = f"{what} is not reachable: {reason}"
    if IN_CI:
        pytest.fail(message + " (CI=true requires it)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database file that tests copy."""
    path = tmp_path_factory.mktemp("template") / "tidings.db"
    migrate_and_bootstrap(f"sqlite:///{path}")
    return path


def _drop_stale_databases(conn: Any) -> None:
    """Drop test databases left by test processes that no longer run."""
    names = conn.execute(
        text("SELECT datname FROM pg_database WHERE datname LIKE 'tidings\\_test\\_%'")
    ).scalars()
    for name in names:
        pid = name.rsplit("_", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not Path(f"/proc/{pid}").exists():
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A freshly created and migrated PostgreSQL database for this test session."""
    try:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            _drop_stale_databases(conn)
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :db AND pid <> pg_backend_pid()"
                ),
                {"db": PG_TEST_DB},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_TEST_DB}"'))
            conn.execute(text(f'CREATE DATABASE "{PG_TEST_DB}"'))
    except Exception as exc:  # noqa: BLE001 - any failure to connect means unreachable
        unavailable("PostgreSQL", str(exc).splitlines()[0])
    url = _pg_url()
    migrate_and_bootstrap(url)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_TEST_DB}" WITH (FORCE)'))
    admin.dispose()


def _truncate_pg(url: str) -> None:
    engine = create_engine(url)
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """A clean, migrated database: SQLite file or PostgreSQL, in turn."""
    if request.param == "sqlite":
        target = tmp_path / "data" / "tidings.db"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(sqlite_template, target)
        return f"sqlite:///{target}"
    url: str = request.getfixturevalue("pg_database")
    _truncate_pg(url)
    return url


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """Settings for a test process: data dir in tmp, the parametrized database."""
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        base_url="http://testserver",
        secret_key="test-secret-key-0123456789",
    )


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    """A runtime on the test database, with default rows present."""
    rt = Runtime(settings)
    with rt.session() as session:
        ensure_defaults(session)
    yield rt
    rt.close()


@pytest.fixture
def session(runtime: Runtime) -> Iterator[Session]:
    """A session committed at the end of the test (rolled back on error)."""
    with runtime.session() as sess:
        yield sess


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    """A real SMTP server (aiosmtpd) on loopback that records every message."""
    sink = SmtpSink()
    with SmtpServer(sink) as server:
        sink.url = server.url  # type: ignore[attr-defined]
        yield sink


@pytest.fixture
def api_key(runtime: Runtime) -> str:
    """A fresh API key."""
    from tidings.auth.service import create_api_key

    with runtime.session() as sess:
        _, key = create_api_key(session=sess, name="tests")
    return key


@pytest.fixture
def tracking_writer() -> str:
    """The tracking writer ``live`` runs when a test does not choose one: the process
    `tidings serve` starts. The admin UI's tests take the thread (tests/web/conftest.py):
    what they show does not depend on it, and it starts in no time."""
    return "process"


@pytest.fixture
def live(
    request: pytest.FixtureRequest,
    settings: Settings,
    smtp_sink: SmtpSink,
    tracking_writer: str,
) -> Iterator[tuple[Runtime, LiveServer]]:
    """The whole app over real HTTP with in-process workers, sending to ``smtp_sink``;
    tracking events go through ``tracking_writer`` unless the test asks (indirect
    parameter) for ``"process"`` or ``"thread"``."""
    from tidings.assembly.app import create_app
    from tidings.mailcatcher.server import free_port

    port = free_port()
    live_settings = settings.model_copy(
        update={
            "smtp_url": smtp_sink.url,  # type: ignore[attr-defined]
            "base_url": f"http://127.0.0.1:{port}",
            "mailout_recovery_interval": 0.2,
            "smtp_connections": 2,
            "tracking_writer": getattr(request, "param", tracking_writer),
        }
    )
    rt = Runtime(live_settings)
    with rt.session() as sess:
        ensure_defaults(sess)
    app = create_app(rt, workers=True)
    with LiveServer(app, port=port) as server:
        yield rt, server
    rt.close()


REDIS_URL = os.environ.get("TIDINGS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def redis_url() -> str:
    """A reachable Redis database for queue tests, flushed first."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.flushdb()
    except redis.exceptions.RedisError as exc:
        unavailable("Redis", str(exc))
    finally:
        client.close()
    return REDIS_URL
