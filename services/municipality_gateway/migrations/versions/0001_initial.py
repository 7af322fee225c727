"""The gateway's outbox and reference mapping.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "submissions",
        sa.Column("message_id", sa.String(36), primary_key=True),
        sa.Column("municipality", sa.String(4), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("record_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(200), nullable=True),
        sa.Column("receipt", sa.Text(), nullable=True),
        sa.Column("receipt_signature", sa.String(88), nullable=True),
        sa.UniqueConstraint("municipality", "year", "sequence", name="uq_submissions_municipality_year_sequence"),
    )
    op.create_table(
        "record_refs",
        sa.Column(
            "message_id",
            sa.String(36),
            sa.ForeignKey("submissions.message_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("ref", sa.String(32), primary_key=True),
        sa.Column("bruker_nr", sa.String(40), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("record_refs")
    op.drop_table("submissions")
