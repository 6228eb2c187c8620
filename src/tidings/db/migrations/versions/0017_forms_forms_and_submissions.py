"""forms, their consents and submissions, and the public post limit

Hosted subscription forms (one per recipient list and purpose), the consents each
offers, each submission with the consent text versions it showed, and a per-client
counter of form posts.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "forms",
        sa.Column("id", BigId, nullable=False),
        sa.Column("public_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column(
            "recipient_list_id",
            BigId,
            sa.ForeignKey(
                "recipient_lists.id",
                name="fk_forms_recipient_list_id_recipient_lists",
                ondelete="CASCADE",
            ),
            nullable=False,
        ),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("double_opt_in", sa.Boolean(), nullable=False),
        sa.Column(
            "confirmation_email_id",
            BigId,
            sa.ForeignKey(
                "emails.id", name="fk_forms_confirmation_email_id_emails", ondelete="SET NULL"
            ),
            nullable=True,
        ),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("intro", sa.Text(), nullable=False),
        sa.Column("button_label", sa.String(100), nullable=False),
        sa.Column("thank_you_text", sa.Text(), nullable=False),
        sa.Column("confirmed_text", sa.Text(), nullable=False),
        sa.Column("accent_color", sa.String(7), nullable=False),
        sa.Column("font", sa.String(20), nullable=False),
        sa.Column("radius", sa.Integer(), nullable=False),
        sa.Column("css_class", sa.String(100), nullable=False),
        sa.Column("allowed_origins", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("public_id", name=op.f("uq_forms_public_id")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forms")),
    )
    op.create_table(
        "form_consents",
        sa.Column(
            "form_id",
            BigId,
            sa.ForeignKey("forms.id", name="fk_form_consents_form_id_forms", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "consent_id",
            BigId,
            sa.ForeignKey(
                "consents.id", name="fk_form_consents_consent_id_consents", ondelete="CASCADE"
            ),
            nullable=False,
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("form_id", "consent_id", name=op.f("pk_form_consents")),
    )
    op.create_table(
        "form_submissions",
        sa.Column("id", BigId, nullable=False),
        sa.Column(
            "form_id",
            BigId,
            sa.ForeignKey("forms.id", name="fk_form_submissions_form_id_forms", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "contact_id",
            BigId,
            sa.ForeignKey(
                "contacts.id", name="fk_form_submissions_contact_id_contacts", ondelete="CASCADE"
            ),
            nullable=False,
        ),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("values", sa.JSON(), nullable=True),
        sa.Column("page_url", sa.String(500), nullable=True),
        sa.Column("created_contact", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form_submissions")),
    )
    op.create_index("ix_form_submissions_form_status", "form_submissions", ["form_id", "status"])
    op.create_index("ix_form_submissions_contact", "form_submissions", ["contact_id"])
    op.create_table(
        "form_submission_consents",
        sa.Column(
            "submission_id",
            BigId,
            sa.ForeignKey(
                "form_submissions.id",
                name="fk_form_submission_consents_submission_id_form_submissions",
                ondelete="CASCADE",
            ),
            nullable=False,
        ),
        sa.Column(
            "consent_text_id",
            BigId,
            sa.ForeignKey(
                "consent_texts.id",
                name="fk_form_submission_consents_consent_text_id_consent_texts",
                ondelete="CASCADE",
            ),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint(
            "submission_id", "consent_text_id", name=op.f("pk_form_submission_consents")
        ),
    )
    op.create_table(
        "form_rate_limits",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_form_rate_limits")),
    )


def downgrade() -> None:
    op.drop_table("form_rate_limits")
    op.drop_table("form_submission_consents")
    op.drop_index("ix_form_submissions_contact", table_name="form_submissions")
    op.drop_index("ix_form_submissions_form_status", table_name="form_submissions")
    op.drop_table("form_submissions")
    op.drop_table("form_consents")
    op.drop_table("forms")
