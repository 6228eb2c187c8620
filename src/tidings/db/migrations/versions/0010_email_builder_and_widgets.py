"""email builder documents and widgets

An email built from a template keeps its builder document (sections of widgets) as
JSON; every email may hold widgets (``{key: {html, variants}}``) that its HTML places
with ``{{ widget("key") }}``, and their link-marked form used when sending.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("emails") as batch:
        batch.add_column(sa.Column("builder", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("widgets", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("prepared_widgets", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("emails") as batch:
        batch.drop_column("prepared_widgets")
        batch.drop_column("widgets")
        batch.drop_column("builder")
