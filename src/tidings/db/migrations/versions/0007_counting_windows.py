"""counting windows: unique markers keyed per email, with a key that is destroyed

Unique markers were a hash of the delivery keyed with the instance secret: with the
database and the secret anyone could tell which delivery (and so which contact, until
erasure) each anonymous marker stood for. From here on each email has a random marker
key in ``counting_windows``, destroyed with the email's markers when its counting
window closes (SPEC B1).

Markers written before this revision were keyed the old way and cannot be re-keyed
(the hash is one-way). Emails that have any are given a window that is already
closed, and their markers are deleted: their unique counts are final from the upgrade
on (later interactions still count in the totals), and nothing linkable is left.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create the table, close the windows of emails with old markers, drop those."""
    op.create_table(
        "counting_windows",
        sa.Column("email_id", BigId, autoincrement=False, nullable=False),
        sa.Column("marker_key", sa.LargeBinary(length=32), nullable=True),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("email_id", name=op.f("pk_counting_windows")),
    )
    op.execute(
        "INSERT INTO counting_windows (email_id, closes_at) "
        "SELECT DISTINCT email_id, CURRENT_TIMESTAMP FROM unique_markers"
    )
    op.execute("DELETE FROM unique_markers")


def downgrade() -> None:
    """Drop the windows; markers written under them go too (their keys go with it)."""
    op.execute("DELETE FROM unique_markers")
    op.drop_table("counting_windows")
