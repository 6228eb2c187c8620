"""where an agreement was given: the page of the form

An agreement given through a form keeps the page it was given on (the hosted form's
URL, or the page of the site that posted it), so a consent record names the form and
the page as well as the source.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("consent_agreements") as batch:
        batch.add_column(sa.Column("source_url", sa.String(500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("consent_agreements") as batch:
        batch.drop_column("source_url")
