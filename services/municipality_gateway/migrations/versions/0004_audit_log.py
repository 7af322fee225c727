"""The tamper-evident Merkle audit log: entries and signed checkpoints.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    _create_audit_tables()


def downgrade() -> None:
    _drop_audit_tables()


def _create_audit_tables() -> None:
    # Frozen: the audit tables as this revision created them (a later change to services.kit.audit_log is a new
    # migration, never an edit here).
    index = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "audit_log",
        sa.Column("idx", index, nullable=False, autoincrement=False),
        sa.Column("message_id", sa.String(36), nullable=False),
        sa.Column("event", sa.String(40), nullable=False),
        sa.Column("entry", sa.Text(), nullable=False),
        sa.Column("leaf_hash", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("idx", name="pk_audit_log"),
        sa.CheckConstraint("idx >= 0", name="ck_audit_log_idx"),
    )
    op.create_index("ix_audit_log_message_id", "audit_log", ["message_id"])
    op.create_table(
        "audit_checkpoints",
        sa.Column("tree_size", index, nullable=False, autoincrement=False),
        sa.Column("root_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("signature", sa.String(88), nullable=False),
        sa.PrimaryKeyConstraint("tree_size", name="pk_audit_checkpoints"),
        sa.CheckConstraint("tree_size >= 0", name="ck_audit_checkpoints_tree_size"),
    )


def _drop_audit_tables() -> None:
    op.drop_table("audit_checkpoints")
    op.drop_index("ix_audit_log_message_id", table_name="audit_log")
    op.drop_table("audit_log")
