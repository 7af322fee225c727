"""The population register's extracts, stored by pseudonym (issue 14, docs/population-register.md).

Five new tables, nothing changed in the old ones: ``register_extracts`` (a row per extract decided),
``register_years`` (the lock and active pointer per municipality and year), ``register_persons``,
``register_numbers`` (each identity number as its pseudonym, indexed by pseudonym) and ``register_residences``.
The three per-person tables are keyed by the extract first and are WITHOUT ROWID on SQLite.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_MESSAGE_ID = sa.String(36)
_SEQUENCE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# The registry's UTC datetime as revision 0001 declares it (services.registry_intake.models.UTCDateTime stores a
# timezone-aware column; the type decorator only converts values).
_UTC = sa.DateTime(timezone=True)
_PSEUDONYM_OR_REFUSAL = (
    "(pseudonym IS NOT NULL AND pseudonym_key_version IS NOT NULL AND identity_status = 'ok')"
    " OR (pseudonym IS NULL AND pseudonym_key_version IS NULL AND identity_status <> 'ok')"
)


def upgrade() -> None:
    op.create_table(
        "register_extracts",
        sa.Column("message_id", _MESSAGE_ID, primary_key=True),
        sa.Column("municipality", sa.String(4), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("sequence", _SEQUENCE, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("refusal_reason", sa.String(64), nullable=True),
        sa.Column("received_at", _UTC, nullable=False),
        sa.Column("person_count", sa.Integer(), nullable=False),
        sa.Column("number_count", sa.Integer(), nullable=False),
        sa.Column("pseudonymised_count", sa.Integer(), nullable=False),
        sa.Column("identity_refused_count", sa.Integer(), nullable=False),
        sa.Column("supersedes", _MESSAGE_ID, sa.ForeignKey("register_extracts.message_id"), nullable=True),
        sa.Column("superseded_by", _MESSAGE_ID, sa.ForeignKey("register_extracts.message_id"), nullable=True),
        sa.Column("sender", sa.String(128), nullable=False),
        sa.Column("pseudonym_key_version", sa.Integer(), nullable=False),
        sa.Column("header_sha256", sa.String(64), nullable=False),
        sa.Column("payload_sha256", sa.String(64), nullable=False),
        sa.Column("pseudonyms_sha256", sa.String(64), nullable=False),
        sa.Column("delivery_sha256", sa.String(64), nullable=False),
        sa.CheckConstraint("status IN ('active', 'superseded', 'refused')", name="status"),
        sa.CheckConstraint("(status = 'refused') = (refusal_reason IS NOT NULL)", name="refusal_reason"),
    )
    op.create_index(None, "register_extracts", ["municipality", "year", "status"])
    op.create_index(
        "uq_register_extracts_one_active",
        "register_extracts",
        ["municipality", "year"],
        unique=True,
        sqlite_where=sa.text("status = 'active'"),
        postgresql_where=sa.text("status = 'active'"),
    )
    op.create_table(
        "register_years",
        sa.Column("municipality", sa.String(4), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("active_message_id", _MESSAGE_ID, sa.ForeignKey("register_extracts.message_id"), nullable=True),
        sa.Column("active_sequence", _SEQUENCE, nullable=True),
        sa.PrimaryKeyConstraint("municipality", "year"),
    )
    op.create_table(
        "register_persons",
        sa.Column("extract_id", _MESSAGE_ID, sa.ForeignKey("register_extracts.message_id"), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("sex", sa.String(1), nullable=True),
        sa.Column("birth_year", sa.Integer(), nullable=True),
        sa.Column("death_date", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("extract_id", "n"),
        sa.CheckConstraint("sex IN ('M', 'K')", name="sex"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "register_numbers",
        sa.Column("extract_id", _MESSAGE_ID, nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("ordinal", sa.SmallInteger(), nullable=False),
        sa.Column("pseudonym", sa.LargeBinary(32), nullable=True),
        sa.Column("pseudonym_key_version", sa.Integer(), nullable=True),
        sa.Column("identity_status", sa.String(32), nullable=False),
        sa.Column("number_type", sa.String(3), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("extract_id", "n", "ordinal"),
        sa.ForeignKeyConstraint(
            ["extract_id", "n"], ["register_persons.extract_id", "register_persons.n"], ondelete="CASCADE"
        ),
        sa.CheckConstraint("number_type IN ('FNR', 'DNR')", name="number_type"),
        sa.CheckConstraint(_PSEUDONYM_OR_REFUSAL, name="pseudonym_or_refusal"),
        sqlite_with_rowid=False,
    )
    op.create_index(None, "register_numbers", ["pseudonym"])
    op.create_table(
        "register_residences",
        sa.Column("extract_id", _MESSAGE_ID, nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("ordinal", sa.SmallInteger(), nullable=False),
        sa.Column("municipality", sa.String(4), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("extract_id", "n", "ordinal"),
        sa.ForeignKeyConstraint(
            ["extract_id", "n"], ["register_persons.extract_id", "register_persons.n"], ondelete="CASCADE"
        ),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    for table in ("register_residences", "register_numbers", "register_persons", "register_years"):
        op.drop_table(table)
    op.drop_table("register_extracts")
