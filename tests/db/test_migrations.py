"""Migrations run forwards and backwards on SQLite and PostgreSQL and match the models."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, create_engine, inspect, text

from tidings.assembly.schema import metadata
from tidings.db.migrate import downgrade, upgrade


def test_schema_matches_models_and_downgrades(database_url: str) -> None:
    engine = create_engine(database_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        differences = compare_metadata(context, metadata)
    assert differences == [], differences
    downgrade(database_url, "base")
    with engine.connect() as conn:
        assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
    upgrade(database_url)
    with engine.connect() as conn:
        assert set(metadata.tables) <= set(inspect(conn).get_table_names())
    engine.dispose()


def _an_email(conn: Connection) -> int:
    """Insert an email row as the schema of the moment allows; its id."""
    conn.execute(
        text(
            "INSERT INTO emails (name, subject, html, prepared_html, sender_name, "
            "sender_address, purpose, created_at, updated_at) VALUES ('e', 's', 'h', 'h', "
            "'n', 'a@example.com', 'regular', :at, :at)"
        ),
        {"at": datetime.now(UTC)},
    )
    email_id: int = conn.execute(text("SELECT max(id) FROM emails")).scalar_one()
    return email_id


def test_markers_keep_their_rows_across_the_sqlite_table_rebuild(database_url: str) -> None:
    engine = create_engine(database_url)
    downgrade(database_url, "0003")
    with engine.begin() as conn:
        email_id = _an_email(conn)
        conn.execute(
            text("INSERT INTO unique_markers VALUES (:e, 'o', 0, :k), (:e, 'l', 7, :k)"),
            {"e": email_id, "k": b"k" * 16},
        )
    upgrade(database_url, "0004")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT kind, link_id FROM unique_markers ORDER BY kind")).all()
        assert [tuple(r) for r in rows] == [("l", 7), ("o", 0)]
        if engine.dialect.name == "sqlite":
            sql = conn.execute(
                text("SELECT sql FROM sqlite_master WHERE name = 'unique_markers'")
            ).scalar_one()
            assert "WITHOUT ROWID" in sql
        key = inspect(conn).get_pk_constraint("unique_markers")["constrained_columns"]
        assert key == ["email_id", "recipient_key", "kind", "link_id"]
        indexes = {ix["name"] for ix in inspect(conn).get_indexes("activities")}
        assert "ix_activities_type_time" not in indexes
        assert "ix_activities_type_time_contact" in indexes
    upgrade(database_url)
    engine.dispose()


def test_tracking_rows_keep_only_the_contact_foreign_key(database_url: str) -> None:
    engine = create_engine(database_url)
    downgrade(database_url, "0004")
    with engine.connect() as conn:
        assert inspect(conn).get_foreign_keys("unique_markers")
        assert len(inspect(conn).get_foreign_keys("tracking_events")) == 2
        assert len(inspect(conn).get_foreign_keys("activities")) == 4
    with engine.begin() as conn:
        email_id = _an_email(conn)
        conn.execute(
            text("INSERT INTO unique_markers VALUES (:e, 'o', 0, :k)"),
            {"e": email_id, "k": b"k" * 16},
        )
        conn.execute(
            text(
                "INSERT INTO tracking_events (email_id, type, occurred_at, automated, "
                "identified) VALUES (:e, 'open', :at, false, false)"
            ),
            {"e": email_id, "at": datetime.now(UTC)},
        )
    upgrade(database_url, "0005")
    with engine.connect() as conn:
        assert inspect(conn).get_foreign_keys("unique_markers") == []
        assert inspect(conn).get_foreign_keys("tracking_events") == []
        kept = inspect(conn).get_foreign_keys("activities")
        assert [(fk["constrained_columns"], fk["referred_table"]) for fk in kept] == [
            (["contact_id"], "contacts")
        ]
        activity_indexes = {ix["name"] for ix in inspect(conn).get_indexes("activities")}
        assert {"ix_activities_contact_time", "ix_activities_type_time_contact"} <= (
            activity_indexes
        )
        assert conn.execute(text("SELECT count(*) FROM unique_markers")).scalar_one() == 1
        assert conn.execute(text("SELECT count(*) FROM tracking_events")).scalar_one() == 1
        indexes = {ix["name"] for ix in inspect(conn).get_indexes("tracking_events")}
        assert "ix_tracking_events_email_time" in indexes
        if engine.dialect.name == "sqlite":
            sql = conn.execute(
                text("SELECT sql FROM sqlite_master WHERE name = 'unique_markers'")
            ).scalar_one()
            assert "WITHOUT ROWID" in sql
    upgrade(database_url)
    engine.dispose()


def test_markers_keyed_with_the_secret_are_gone_and_their_windows_closed(
    database_url: str,
) -> None:
    engine = create_engine(database_url)
    downgrade(database_url, "0005")
    with engine.begin() as conn:
        marked, unmarked = _an_email(conn), _an_email(conn)
        conn.execute(
            text("INSERT INTO unique_markers VALUES (:e, 'o', 0, :k), (:e, 'c', 0, :k)"),
            {"e": marked, "k": b"k" * 16},
        )
    before = datetime.now(UTC)
    upgrade(database_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM unique_markers")).scalar_one() == 0
        rows = conn.execute(
            text("SELECT email_id, marker_key, closes_at FROM counting_windows")
        ).all()
    # The email whose markers could be linked back with the secret has a window that
    # closed at the upgrade, without key; the other will get one when it is sent.
    assert [(r[0], r[1]) for r in rows] == [(marked, None)]
    assert unmarked != marked
    closes_at = rows[0][2]
    if isinstance(closes_at, str):
        closes_at = datetime.fromisoformat(closes_at)
    if closes_at.tzinfo is None:
        closes_at = closes_at.replace(tzinfo=UTC)
    assert abs((closes_at - before).total_seconds()) < 120
    engine.dispose()
