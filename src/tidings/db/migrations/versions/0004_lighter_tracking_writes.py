"""lighter tracking writes

Every recorded click inserts up to three unique markers with random keys and, for a
consenting contact, an activity. Two changes make those writes cheaper:

* ``ix_activities_type_time`` is dropped: ``ix_activities_type_time_contact`` (type,
  occurred_at, contact_id) serves every query it served.
* ``unique_markers`` is keyed by recipient before kind and link, so the up to three
  markers of one click share a B-tree leaf instead of touching three random ones; on
  SQLite it becomes a WITHOUT ROWID table: its primary key is the table, one B-tree
  per marker instead of a rowid table plus a key index.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

MARKERS_TABLE = """
CREATE TABLE {name} (
    email_id INTEGER NOT NULL,
    kind VARCHAR(1) NOT NULL,
    link_id INTEGER NOT NULL,
    recipient_key BLOB NOT NULL,
    CONSTRAINT pk_unique_markers PRIMARY KEY ({key}),
    CONSTRAINT fk_unique_markers_email_id_emails FOREIGN KEY(email_id)
        REFERENCES emails (id) ON DELETE CASCADE
){suffix}
"""


NEW_KEY = "email_id, recipient_key, kind, link_id"
OLD_KEY = "email_id, kind, link_id, recipient_key"


def _rebuild_markers(*, key: str, rowid: bool) -> None:
    """Copy ``unique_markers`` into a table with primary key ``key`` (SQLite only)."""
    suffix = "" if rowid else " WITHOUT ROWID"
    op.execute(MARKERS_TABLE.format(name="unique_markers_new", key=key, suffix=suffix))
    op.execute(
        "INSERT INTO unique_markers_new (email_id, kind, link_id, recipient_key) "
        "SELECT email_id, kind, link_id, recipient_key FROM unique_markers"
    )
    op.execute("DROP TABLE unique_markers")
    op.execute("ALTER TABLE unique_markers_new RENAME TO unique_markers")


def _rekey_markers(key: str) -> None:
    """Give ``unique_markers`` the primary key ``key`` (PostgreSQL)."""
    op.execute("ALTER TABLE unique_markers DROP CONSTRAINT pk_unique_markers")
    op.execute(f"ALTER TABLE unique_markers ADD CONSTRAINT pk_unique_markers PRIMARY KEY ({key})")


def upgrade() -> None:
    op.drop_index("ix_activities_type_time", table_name="activities")
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_markers(key=NEW_KEY, rowid=False)
    else:
        _rekey_markers(NEW_KEY)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_markers(key=OLD_KEY, rowid=True)
    else:
        _rekey_markers(OLD_KEY)
    op.create_index("ix_activities_type_time", "activities", ["type", "occurred_at"], unique=False)
