"""The registry's entity tag of each kept control report, so that the gateway revalidates a kept report (the
registry's findings change when the population register's extract of the year arrives) without fetching it whole.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL for a report kept before: revalidated by fetching it again.
    op.add_column("reports", sa.Column("etag", sa.String(80), nullable=True))


def downgrade() -> None:
    op.drop_column("reports", "etag")
