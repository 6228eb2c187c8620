"""tracking rows without foreign keys to emails, links and consents

Each recorded click writes one tracking event, up to three unique markers and, for a
consenting contact, an activity. Their foreign keys made PostgreSQL check (and lock)
the referenced email, link and consent once per row: for a batch of 32 clicks about
220 checks, a sixth of the database's work for the batch. Those keys never act: an
email is never deleted, an email's links are replaced only while it has no mailout
(before any token to them exists), and a consent definition is never deleted.
Whatever deletes one of them one day deletes or clears the rows that name it itself,
as contact erasure does for group members (``emails.service`` says so where links
are replaced).

Activities keep their key to the contact: erasing a contact deletes its activities
through it, and an activity written while its contact is being erased waits for, or
fails on, that key.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

FK_EVENT_EMAIL = "fk_tracking_events_email_id_emails"
FK_EVENT_LINK = "fk_tracking_events_link_id_links"
FK_MARKER_EMAIL = "fk_unique_markers_email_id_emails"
FK_ACTIVITY = {
    "email_id": ("fk_activities_email_id_emails", "emails"),
    "link_id": ("fk_activities_link_id_links", "links"),
    "consent_id": ("fk_activities_consent_id_consents", "consents"),
}

MARKERS_TABLE = """
CREATE TABLE unique_markers_new (
    email_id INTEGER NOT NULL,
    kind VARCHAR(1) NOT NULL,
    link_id INTEGER NOT NULL,
    recipient_key BLOB NOT NULL,
    CONSTRAINT pk_unique_markers PRIMARY KEY (email_id, recipient_key, kind, link_id){fk}
) WITHOUT ROWID
"""
MARKERS_FK = """,
    CONSTRAINT fk_unique_markers_email_id_emails FOREIGN KEY(email_id)
        REFERENCES emails (id) ON DELETE CASCADE"""


def _rebuild_markers(*, foreign_key: bool) -> None:
    """SQLite drops or adds a constraint by copying the table; batch mode would lose
    WITHOUT ROWID."""
    op.execute(MARKERS_TABLE.format(fk=MARKERS_FK if foreign_key else ""))
    op.execute(
        "INSERT INTO unique_markers_new (email_id, kind, link_id, recipient_key) "
        "SELECT email_id, kind, link_id, recipient_key FROM unique_markers"
    )
    op.execute("DROP TABLE unique_markers")
    op.execute("ALTER TABLE unique_markers_new RENAME TO unique_markers")


def upgrade() -> None:
    with op.batch_alter_table("tracking_events", schema=None) as batch_op:
        batch_op.drop_constraint(FK_EVENT_EMAIL, type_="foreignkey")
        batch_op.drop_constraint(FK_EVENT_LINK, type_="foreignkey")
    with op.batch_alter_table("activities", schema=None) as batch_op:
        for name, _ in FK_ACTIVITY.values():
            batch_op.drop_constraint(name, type_="foreignkey")
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_markers(foreign_key=False)
    else:
        op.drop_constraint(FK_MARKER_EMAIL, "unique_markers", type_="foreignkey")


def downgrade() -> None:
    # Rows of an email or link that no longer exists would fail the constraints.
    op.execute(
        sa.text(
            "DELETE FROM tracking_events WHERE email_id NOT IN (SELECT id FROM emails) "
            "OR link_id NOT IN (SELECT id FROM links)"
        )
    )
    op.execute(sa.text("DELETE FROM unique_markers WHERE email_id NOT IN (SELECT id FROM emails)"))
    for column, (_, table) in FK_ACTIVITY.items():
        op.execute(
            sa.text(
                f"UPDATE activities SET {column} = NULL "  # noqa: S608
                f"WHERE {column} NOT IN (SELECT id FROM {table})"
            )
        )
    with op.batch_alter_table("activities", schema=None) as batch_op:
        for column, (name, table) in FK_ACTIVITY.items():
            batch_op.create_foreign_key(name, table, [column], ["id"], ondelete="SET NULL")
    with op.batch_alter_table("tracking_events", schema=None) as batch_op:
        batch_op.create_foreign_key(
            FK_EVENT_EMAIL, "emails", ["email_id"], ["id"], ondelete="CASCADE"
        )
        batch_op.create_foreign_key(FK_EVENT_LINK, "links", ["link_id"], ["id"], ondelete="CASCADE")
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_markers(foreign_key=True)
    else:
        op.create_foreign_key(
            FK_MARKER_EMAIL, "unique_markers", "emails", ["email_id"], ["id"], ondelete="CASCADE"
        )
