"""The registry's copy of Enhetsregisteret (issue 15, docs/business-register.md).

Two new tables, nothing changed in the old ones: ``business_register_loads`` (a row per bulk file loaded) and
``business_units`` (every unit ever loaded, by organisation number).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_MESSAGE_ID = sa.String(36)
_UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "business_register_loads",
        sa.Column("load_id", _MESSAGE_ID, primary_key=True),
        sa.Column("serial", sa.Integer(), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("loaded_at", _UTC, nullable=False),
        sa.Column("loaded_by", sa.String(128), nullable=False),
        sa.Column("file_sha256", sa.String(64), nullable=False),
        sa.Column("unit_count", sa.Integer(), nullable=False),
        sa.Column("gone_count", sa.Integer(), nullable=False),
        sa.CheckConstraint("kind IN ('enhet', 'underenhet')", name="kind"),
    )
    op.create_index(None, "business_register_loads", ["kind", "as_of"])
    op.create_table(
        "business_units",
        sa.Column("org_nr", sa.String(9), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("org_form", sa.String(8), nullable=True),
        sa.Column("industry", sa.String(8), nullable=True),
        sa.Column("municipality", sa.String(4), nullable=True),
        sa.Column("registered_on", sa.Date(), nullable=True),
        sa.Column("deleted_on", sa.Date(), nullable=True),
        sa.Column("deletion", sa.String(8), nullable=True),
        sa.Column("parent", sa.String(9), nullable=True),
        sa.Column("load_id", _MESSAGE_ID, sa.ForeignKey("business_register_loads.load_id"), nullable=False),
        sa.CheckConstraint("kind IN ('enhet', 'underenhet')", name="kind"),
        sa.CheckConstraint("(deleted_on IS NULL) = (deletion IS NULL)", name="deletion"),
        sa.CheckConstraint("deletion IN ('file', 'absent')", name="deletion_source"),
    )
    op.create_index(None, "business_units", ["kind", "load_id"])


def downgrade() -> None:
    op.drop_table("business_units")
    op.drop_table("business_register_loads")
