"""automated interactions counted by reason

``automated_reason_counts`` holds each email's automated opens and clicks per reason
(``head``, ``user_agent``, ``ip_range``, ``honeypot``, ``burst``, ``prefetch``).
The reasons recorded before are renamed to these (``head_request`` -> ``head``,
``scanner_user_agent`` and ``no_user_agent`` -> ``user_agent``) and counted.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

RENAMED = {
    "head_request": "head",
    "scanner_user_agent": "user_agent",
    "no_user_agent": "user_agent",
}


def upgrade() -> None:
    op.create_table(
        "automated_reason_counts",
        sa.Column("email_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["email_id"],
            ["emails.id"],
            name=op.f("fk_automated_reason_counts_email_id_emails"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "email_id", "kind", "reason", name=op.f("pk_automated_reason_counts")
        ),
    )
    events = sa.table(
        "tracking_events", sa.column("automated_reason", sa.String()), sa.column("automated")
    )
    for old, new in RENAMED.items():
        op.execute(
            events.update().where(events.c.automated_reason == old).values(automated_reason=new)
        )
    op.execute(
        "INSERT INTO automated_reason_counts (email_id, kind, reason, count) "
        "SELECT email_id, type, COALESCE(automated_reason, ''), COUNT(*) FROM tracking_events "
        "WHERE automated GROUP BY email_id, type, COALESCE(automated_reason, '')"
    )


def downgrade() -> None:
    op.drop_table("automated_reason_counts")
