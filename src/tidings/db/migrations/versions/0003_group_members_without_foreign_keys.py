"""group members without foreign keys

Membership rows are derived data written in bulk by full rebuilds. Their foreign keys
made PostgreSQL check (and lock) the referenced contact and group once per inserted
row, which cost more than computing the group. Contact erasure and group deletion
delete membership rows explicitly instead (``groups.membership``).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

FK_GROUP = "fk_group_members_group_id_contact_groups"
FK_CONTACT = "fk_group_members_contact_id_contacts"


def upgrade() -> None:
    with op.batch_alter_table("group_members", schema=None) as batch_op:
        batch_op.drop_constraint(FK_GROUP, type_="foreignkey")
        batch_op.drop_constraint(FK_CONTACT, type_="foreignkey")


def downgrade() -> None:
    # Rows left by a contact or group that no longer exists would fail the constraints.
    op.execute(
        sa.text(
            "DELETE FROM group_members WHERE group_id NOT IN (SELECT id FROM contact_groups) "
            "OR contact_id NOT IN (SELECT id FROM contacts)"
        )
    )
    with op.batch_alter_table("group_members", schema=None) as batch_op:
        batch_op.create_foreign_key(
            FK_GROUP, "contact_groups", ["group_id"], ["id"], ondelete="CASCADE"
        )
        batch_op.create_foreign_key(
            FK_CONTACT, "contacts", ["contact_id"], ["id"], ondelete="CASCADE"
        )
