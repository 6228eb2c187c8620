"""deliverability: scheduled and paused mailouts, retries, single and test sends, senders

* ``mailouts.send_at``: a scheduled mailout waits for it (status ``scheduled``).
* ``deliveries.next_attempt_at``: a delivery refused for now is not tried again
  before it (backoff); ``deliveries.idempotency_key``: a single message (a delivery
  without a mailout) asked for twice with the same key is sent once.
* ``test_sends``: test messages, kept apart from deliveries so nothing counts them.
* ``sender_identities``: the domains Tidings sends from, with From and postal address.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "sender_identities",
        sa.Column("id", ID, nullable=False),
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("from_name", sa.String(length=200), nullable=False),
        sa.Column("from_address", sa.String(length=320), nullable=False),
        sa.Column("postal_address", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sender_identities")),
        sa.UniqueConstraint("domain", name=op.f("uq_sender_identities_domain")),
    )
    op.create_table(
        "test_sends",
        sa.Column("id", ID, nullable=False),
        sa.Column("email_id", ID, nullable=False),
        sa.Column("contact_id", ID, nullable=True),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_test_sends_contact_id_contacts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["email_id"],
            ["emails.id"],
            name=op.f("fk_test_sends_email_id_emails"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_test_sends")),
    )
    op.create_index("ix_test_sends_status", "test_sends", ["status"], unique=False)
    # Added columns only (no table copy on SQLite).
    op.add_column(
        "deliveries", sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("deliveries", sa.Column("idempotency_key", sa.String(length=200), nullable=True))
    op.create_index("uq_deliveries_idempotency_key", "deliveries", ["idempotency_key"], unique=True)
    op.add_column("mailouts", sa.Column("send_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mailouts", schema=None) as batch_op:
        batch_op.drop_column("send_at")
    op.drop_index("uq_deliveries_idempotency_key", table_name="deliveries")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("idempotency_key")
        batch_op.drop_column("next_attempt_at")
    op.drop_index("ix_test_sends_status", table_name="test_sends")
    op.drop_table("test_sends")
    op.drop_table("sender_identities")
