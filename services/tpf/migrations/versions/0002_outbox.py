"""The TPF's durable outbox, and the tamper-evident Merkle audit log in place of the plain audit table.

The plain ``audit_entries`` table goes: its rows were never part of a signed tree, so they cannot be carried
over as evidence, and the chain had no production deployment that kept them.

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
    op.create_table(
        "outbox",
        sa.Column("message_id", sa.String(36), primary_key=True),
        sa.Column("submission_sha256", sa.String(64), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_outbox_state", "outbox", ["state"])
    _create_audit_tables()
    op.drop_index("ix_audit_entries_message_id", table_name="audit_entries")
    op.drop_table("audit_entries")


def downgrade() -> None:
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
    _drop_audit_tables()
    op.drop_index("ix_outbox_state", table_name="outbox")
    op.drop_table("outbox")


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
