"""The tamper-evident Merkle audit log: entries and signed checkpoints.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

from services.kit.audit_log import create_audit_tables_migration, drop_audit_tables_migration

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_audit_tables_migration(op)


def downgrade() -> None:
    drop_audit_tables_migration(op)
