"""the widget variant each delivery shows

One row per delivery and widget with variants: the variant chosen for that recipient
(NULL: the default), so statistics per variant are exact.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "delivery_variants",
        sa.Column("delivery_id", BIG, nullable=False),
        sa.Column("widget", sa.String(length=64), nullable=False),
        sa.Column("email_id", BIG, nullable=False),
        sa.Column("variant", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["deliveries.id"],
            name=op.f("fk_delivery_variants_delivery_id_deliveries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("delivery_id", "widget", name=op.f("pk_delivery_variants")),
    )
    op.create_index(
        "ix_delivery_variants_email", "delivery_variants", ["email_id", "widget", "variant"]
    )


def downgrade() -> None:
    op.drop_index("ix_delivery_variants_email", table_name="delivery_variants")
    op.drop_table("delivery_variants")
