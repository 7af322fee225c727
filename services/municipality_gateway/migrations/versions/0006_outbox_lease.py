"""A lease on each submission while a delivery worker attempts it (services.kit.outbox), so that several workers
can share the database and never send the same submission at once.

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
    # Frozen: the columns as this revision adds them (a later change to services.kit.outbox is a new migration).
    op.add_column("submissions", sa.Column("lease_owner", sa.String(120), nullable=True))
    op.add_column("submissions", sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # A plain DROP COLUMN (SQLite 3.35+): a batch rebuild of the table would cascade into record_refs.
    op.drop_column("submissions", "lease_expires_at")
    op.drop_column("submissions", "lease_owner")
