"""The SHA-256 of each export as received, so that the same file sent again is recognised, not sent again.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("submissions", sa.Column("export_sha256", sa.String(64), nullable=True))


def downgrade() -> None:
    # A plain DROP COLUMN (SQLite 3.35+): a batch rebuild of the table would cascade into record_refs.
    op.drop_column("submissions", "export_sha256")
