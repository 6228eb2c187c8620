"""automation processes: automations, each contact's run, per-step counts

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "automations",
        sa.Column("id", BigId, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("trigger", sa.JSON(), nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("recurrence", sa.String(length=20), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automations")),
    )
    op.create_table(
        "automation_runs",
        sa.Column("id", BigId, nullable=False),
        sa.Column("automation_id", BigId, nullable=False),
        sa.Column("contact_id", BigId, nullable=False),
        sa.Column("run_number", sa.Integer(), nullable=False),
        sa.Column("step_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("waiting_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("steps_taken", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["automation_id"],
            ["automations.id"],
            name=op.f("fk_automation_runs_automation_id_automations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_automation_runs_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automation_runs")),
        sa.UniqueConstraint(
            "automation_id",
            "contact_id",
            "run_number",
            name=op.f("uq_automation_runs_automation_id_contact_id_run_number"),
        ),
    )
    with op.batch_alter_table("automation_runs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_automation_runs_place", ["automation_id", "status", "step_id"], unique=False
        )
        batch_op.create_index("ix_automation_runs_due", ["status", "waiting_until"], unique=False)
        batch_op.create_index("ix_automation_runs_contact", ["contact_id"], unique=False)
    op.create_table(
        "automation_step_counts",
        sa.Column("automation_id", BigId, nullable=False),
        sa.Column("step_id", sa.String(length=64), nullable=False),
        sa.Column("entered", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["automation_id"],
            ["automations.id"],
            name=op.f("fk_automation_step_counts_automation_id_automations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("automation_id", "step_id", name=op.f("pk_automation_step_counts")),
    )


def downgrade() -> None:
    op.drop_table("automation_step_counts")
    with op.batch_alter_table("automation_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_automation_runs_contact")
        batch_op.drop_index("ix_automation_runs_due")
        batch_op.drop_index("ix_automation_runs_place")
    op.drop_table("automation_runs")
    op.drop_table("automations")
