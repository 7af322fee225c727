"""When the TPF took a submission into its own outbox (state ``forwarded``): polls back off from then.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("submissions", sa.Column("forwarded_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # A plain DROP COLUMN (SQLite 3.35+): a batch rebuild of the table would cascade into record_refs.
    op.drop_column("submissions", "forwarded_at")
