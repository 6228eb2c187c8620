"""The ``tidings`` command line, run as a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text

from tidings.config import Settings


def _tidings(
    settings: Settings, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
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
        input=stdin,
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


def test_user_list_password_and_remove(settings: Settings) -> None:
    assert _tidings(settings, "migrate").returncode == 0
    for email in ("ops@example.com", "dev@example.com"):
        made = _tidings(settings, "user", "create", "--email", email, "--password", "first secret")
        assert made.returncode == 0, made.stderr
    listed = _tidings(settings, "user", "list")
    assert listed.returncode == 0, listed.stderr
    assert "ops@example.com" in listed.stdout and "dev@example.com" in listed.stdout
    assert "2 users." in listed.stderr
    engine = create_engine(settings.resolved_database_url())
    with engine.begin() as conn:
        before = conn.execute(
            text("SELECT password_hash FROM users WHERE email = 'ops@example.com'")
        ).scalar_one()
        user_id = conn.execute(
            text("SELECT id FROM users WHERE email = 'ops@example.com'")
        ).scalar_one()
        conn.execute(
            text(
                "INSERT INTO user_sessions (token_hash, user_id, created_at, last_seen_at, "
                "expires_at) VALUES ('h', :u, :t, :t, :t)"
            ),
            {"u": user_id, "t": datetime.now(UTC)},
        )
    short = _tidings(settings, "user", "password", "--email", "ops@example.com", stdin="short\n")
    assert short.returncode == 2 and "at least 8 characters" in short.stderr
    changed = _tidings(
        settings, "user", "password", "--email", "OPS@example.com", stdin="second secret\n"
    )
    assert changed.returncode == 0, changed.stderr
    assert "1 session(s) ended" in changed.stderr
    with engine.connect() as conn:
        after = conn.execute(
            text("SELECT password_hash FROM users WHERE email = 'ops@example.com'")
        ).scalar_one()
        assert conn.execute(text("SELECT count(*) FROM user_sessions")).scalar_one() == 0
    assert after != before and "second secret" not in after
    unknown = _tidings(settings, "user", "remove", "--email", "nobody@example.com")
    assert unknown.returncode == 2 and "no user with email nobody@example.com" in unknown.stderr
    removed = _tidings(settings, "user", "remove", "--email", "dev@example.com")
    assert removed.returncode == 0, removed.stderr
    last = _tidings(settings, "user", "remove", "--email", "ops@example.com")
    assert last.returncode == 2 and "last user cannot be removed" in last.stderr
    assert "Traceback" not in last.stderr + unknown.stderr + short.stderr
    with engine.connect() as conn:
        emails = conn.execute(text("SELECT email FROM users")).scalars().all()
    engine.dispose()
    assert emails == ["ops@example.com"]


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
