"""Control reports from the registry, opened and mapped back to brukerNr, kept locally; 64-bit sequences.

Sequences are acceptance times in milliseconds (see outbox.accept), which need 64 bits.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # SQLite's INTEGER is already 64-bit (and rebuilding the table there would cascade into record_refs).
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("submissions", "sequence", type_=sa.BigInteger(), existing_type=sa.Integer())
    op.create_table(
        "reports",
        sa.Column(
            "message_id",
            sa.String(36),
            sa.ForeignKey("submissions.message_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("report", sa.Text(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("reports")
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("submissions", "sequence", type_=sa.Integer(), existing_type=sa.BigInteger())
