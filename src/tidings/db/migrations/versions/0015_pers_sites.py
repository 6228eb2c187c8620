"""websites, their widgets and visitor keys

Sites (origin and public key) that load the snippet, their widgets with variants, and
the random visitor key per contact that visitor tokens carry.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "sites",
        sa.Column("id", BIG, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("origin", sa.String(length=300), nullable=False),
        sa.Column("site_key", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sites")),
        sa.UniqueConstraint("origin", name=op.f("uq_sites_origin")),
        sa.UniqueConstraint("site_key", name=op.f("uq_sites_site_key")),
    )
    op.create_table(
        "site_widgets",
        sa.Column("id", BIG, nullable=False),
        sa.Column("site_id", BIG, nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("variants", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.id"],
            name=op.f("fk_site_widgets_site_id_sites"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site_widgets")),
        sa.UniqueConstraint("site_id", "key", name=op.f("uq_site_widgets_site_id_key")),
    )
    op.create_table(
        "site_visitors",
        sa.Column("contact_id", BIG, nullable=False),
        sa.Column("visitor_key", sa.LargeBinary(length=16), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_site_visitors_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("contact_id", name=op.f("pk_site_visitors")),
        sa.UniqueConstraint("visitor_key", name=op.f("uq_site_visitors_visitor_key")),
    )


def downgrade() -> None:
    op.drop_table("site_visitors")
    op.drop_table("site_widgets")
    op.drop_table("sites")
