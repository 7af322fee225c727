"""Messages refused for good (spec section 9): answered again from what is kept, without new work or audit entries.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

from services.kit.refusals import create_refusals_table_migration, drop_refusals_table_migration

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_refusals_table_migration(op)


def downgrade() -> None:
    drop_refusals_table_migration(op)
