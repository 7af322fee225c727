"""Messages refused for good (spec section 9): answered again from what is kept, without new work or audit entries.

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
    _create_refusals_table()


def downgrade() -> None:
    op.drop_table("refused_messages")


def _create_refusals_table() -> None:
    # Frozen: the table as this revision created it (a later change to services.kit.refusals is a new migration).
    op.create_table(
        "refused_messages",
        sa.Column("message_id", sa.String(36), nullable=False),
        sa.Column("submission_sha256", sa.String(64), nullable=False),
        sa.Column("problem", sa.Text(), nullable=False),
        sa.Column("refused_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("message_id", name="pk_refused_messages"),
    )
