"""The ``tidings`` command line, run as a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, text

from tidings.config import Settings


def _tidings(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "TIDINGS_DATA_DIR": str(settings.data_dir),
        "TIDINGS_DATABASE_URL": settings.resolved_database_url(),
        "TIDINGS_SECRET_KEY": settings.secret_key,
    }
    return subprocess.run(
        [sys.executable, "-c", "from tidings.cli import main; main()", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_migrate_api_key_and_user(settings: Settings) -> None:
    migrated = _tidings(settings, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    created = _tidings(settings, "api-key", "create", "--name", "integration")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("tdg_") and len(key) > 30
    engine = create_engine(settings.resolved_database_url())
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT key_hash FROM api_keys")).scalars().all()
        consent = conn.execute(text("SELECT code_name FROM consents")).scalars().all()
    engine.dispose()
    assert key not in stored and len(stored) == 1
    assert "tracking" in consent
    user = _tidings(
        settings, "user", "create", "--email", "ops@example.com", "--password", "long enough secret"
    )
    assert user.returncode == 0, user.stderr
    weak = _tidings(settings, "user", "create", "--email", "x@example.com", "--password", "short")
    assert weak.returncode == 2 and "at least 8 characters" in weak.stderr
    assert "Traceback" not in weak.stderr


def test_bad_database_url_is_a_clear_error(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, database_url="postgresql://nobody@127.0.0.1:1/x", secret_key="k"
    )
    result = _tidings(settings, "migrate")
    assert result.returncode == 2
    assert "migration failed" in result.stderr and "Traceback" not in result.stderr


def test_contacts_import_and_export(settings: Settings, tmp_path: Path) -> None:
    assert _tidings(settings, "migrate").returncode == 0
    source = tmp_path / "people.csv"
    source.write_text(
        "email,first_name,company\n"
        "ann@example.com,Ann,ACME\n"
        "not-an-address,Bob,\n"
        "=cmd@example.com,Eve,=HYPERLINK()\n"
    )
    imported = _tidings(settings, "contacts", "import", str(source))
    assert imported.returncode == 0, imported.stderr
    assert "row 3" in imported.stderr and "2 imported, 1 skipped" in imported.stderr
    exported = _tidings(settings, "contacts", "export")
    assert exported.returncode == 0, exported.stderr
    lines = exported.stdout.strip().splitlines()
    assert lines[0] == "email,first_name,last_name,company,opted_out"
    assert "ann@example.com,Ann,,ACME," in lines
    assert any(line.startswith("'=cmd@example.com") and "'=HYPERLINK()" in line for line in lines)
    missing = _tidings(settings, "contacts", "import", str(tmp_path / "nope.csv"))
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
