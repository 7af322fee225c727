"""Sealed control reports, kept: sealed and signed once, then served as stored (issue 10, point 5).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sealed_reports",
        sa.Column("message_id", sa.String(36), nullable=False),
        sa.Column("recipient_kid", sa.String(64), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("sealed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"], ["submissions.message_id"], name="fk_sealed_reports_message_id_submissions"
        ),
        sa.PrimaryKeyConstraint("message_id", name="pk_sealed_reports"),
    )


def downgrade() -> None:
    op.drop_table("sealed_reports")
