"""The TPF's audit log and receipts.

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
        "audit_entries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("message_id", sa.String(36), nullable=False),
        sa.Column("event", sa.String(20), nullable=False),
        sa.Column("municipality", sa.String(4), nullable=True),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("sequence", sa.Integer(), nullable=True),
        sa.Column("records", sa.Integer(), nullable=True),
        sa.Column("pseudonymised", sa.Integer(), nullable=True),
        sa.Column("refused", sa.Integer(), nullable=True),
        sa.Column("identity_sha256", sa.String(64), nullable=True),
        sa.Column("payload_sha256", sa.String(64), nullable=True),
        sa.Column("pseudonyms_sha256", sa.String(64), nullable=True),
        sa.Column("key_version", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(60), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_audit_entries_message_id", "audit_entries", ["message_id"])
    op.create_table(
        "receipts",
        sa.Column("message_id", sa.String(36), primary_key=True),
        sa.Column("receipt", sa.Text(), nullable=False),
        sa.Column("signature", sa.String(88), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("receipts")
    op.drop_index("ix_audit_entries_message_id", table_name="audit_entries")
    op.drop_table("audit_entries")
