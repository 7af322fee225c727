"""A lease on each queued message while a delivery worker attempts it (services.kit.outbox), so that several
workers can share the database and never deliver the same message at once. Until now ``next_attempt_at`` doubled
as the lease; a message queued under that scheme is simply due at that time (and start-up makes it due at once).

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
    # Frozen: the columns as this revision adds them (a later change to services.kit.outbox is a new migration).
    op.add_column("outbox", sa.Column("lease_owner", sa.String(120), nullable=True))
    op.add_column("outbox", sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("outbox", "lease_expires_at")
    op.drop_column("outbox", "lease_owner")
