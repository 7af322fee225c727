"""Initial schema: submissions, municipality-year locks, persons and their services, scores and diagnoses.

Revision ID: 0001
Revises:
Create Date: 2025-01-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ACTIVE = sa.text("status = 'active'")


def _surrogate_key() -> sa.Column[int]:
    return sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    )


def _person_key(table: str) -> list[sa.Column[str] | sa.Constraint]:
    return [
        sa.Column("submission_id", sa.String(36), nullable=False),
        sa.Column("ref", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=f"pk_{table}"),
        sa.ForeignKeyConstraint(
            ["submission_id", "ref"],
            ["persons.submission_id", "persons.ref"],
            name=f"fk_{table}_submission_id_ref_persons",
            ondelete="CASCADE",
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "submissions",
        sa.Column("message_id", sa.String(36), nullable=False),
        sa.Column("municipality", sa.String(4), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("refusal_reason", sa.String(64), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("record_count", sa.Integer(), nullable=False),
        sa.Column("pseudonymised_count", sa.Integer(), nullable=False),
        sa.Column("identity_refused_count", sa.Integer(), nullable=False),
        sa.Column("supersedes", sa.String(36), nullable=True),
        sa.Column("superseded_by", sa.String(36), nullable=True),
        sa.Column("header_sha256", sa.String(64), nullable=False),
        sa.Column("payload_sha256", sa.String(64), nullable=False),
        sa.Column("sender", sa.String(128), nullable=False),
        sa.Column("pseudonym_key_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("message_id", name="pk_submissions"),
        sa.CheckConstraint("status IN ('active', 'superseded', 'refused')", name="ck_submissions_status"),
        sa.CheckConstraint("(status = 'refused') = (refusal_reason IS NOT NULL)", name="ck_submissions_refusal_reason"),
        sa.ForeignKeyConstraint(
            ["supersedes"], ["submissions.message_id"], name="fk_submissions_supersedes_submissions"
        ),
        sa.ForeignKeyConstraint(
            ["superseded_by"], ["submissions.message_id"], name="fk_submissions_superseded_by_submissions"
        ),
    )
    op.create_index("ix_submissions_municipality_year_status", "submissions", ["municipality", "year", "status"])
    op.create_index(
        "uq_submissions_one_active",
        "submissions",
        ["municipality", "year"],
        unique=True,
        sqlite_where=_ACTIVE,
        postgresql_where=_ACTIVE,
    )

    op.create_table(
        "municipality_years",
        sa.Column("municipality", sa.String(4), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("active_message_id", sa.String(36), nullable=True),
        sa.Column("active_sequence", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("municipality", "year", name="pk_municipality_years"),
        sa.ForeignKeyConstraint(
            ["active_message_id"],
            ["submissions.message_id"],
            name="fk_municipality_years_active_message_id_submissions",
        ),
    )

    op.create_table(
        "persons",
        sa.Column("submission_id", sa.String(36), nullable=False),
        sa.Column("ref", sa.String(64), nullable=False),
        sa.Column("pseudonym", sa.LargeBinary(32), nullable=True),
        sa.Column("pseudonym_key_version", sa.Integer(), nullable=True),
        sa.Column("identity_status", sa.String(32), nullable=False),
        sa.Column("birth_year", sa.Integer(), nullable=True),
        sa.Column("sex", sa.String(1), nullable=True),
        sa.Column("fid_type", sa.String(8), nullable=False),
        sa.PrimaryKeyConstraint("submission_id", "ref", name="pk_persons"),
        sa.CheckConstraint("sex IN ('M', 'K')", name="ck_persons_sex"),
        sa.CheckConstraint(
            "(pseudonym IS NOT NULL AND pseudonym_key_version IS NOT NULL AND identity_status = 'ok')"
            " OR (pseudonym IS NULL AND pseudonym_key_version IS NULL AND identity_status <> 'ok')",
            name="ck_persons_pseudonym_or_refusal",
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"], ["submissions.message_id"], name="fk_persons_submission_id_submissions"
        ),
    )
    op.create_index("ix_persons_pseudonym", "persons", ["pseudonym"])

    op.create_table(
        "services",
        _surrogate_key(),
        *_person_key("services"),
        sa.Column("tjeneste_id", sa.String(64), nullable=False),
        sa.Column("tjeneste_type", sa.Integer(), nullable=False),
        sa.Column("decision_date", sa.Date(), nullable=True),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("hours_per_week", sa.Float(), nullable=True),
        sa.Column("org_nr", sa.String(32), nullable=True),
    )
    op.create_index("ix_services_submission_id_ref", "services", ["submission_id", "ref"])
    op.create_index("ix_services_submission_id_tjeneste_type", "services", ["submission_id", "tjeneste_type"])

    op.create_table(
        "function_scores",
        _surrogate_key(),
        *_person_key("function_scores"),
        sa.Column("variable", sa.String(64), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("assessed_on", sa.Date(), nullable=False),
    )
    op.create_index("ix_function_scores_submission_id_ref", "function_scores", ["submission_id", "ref"])

    op.create_table(
        "diagnoses",
        _surrogate_key(),
        *_person_key("diagnoses"),
        sa.Column("system", sa.String(16), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
    )
    op.create_index("ix_diagnoses_submission_id_ref", "diagnoses", ["submission_id", "ref"])


def downgrade() -> None:
    for table in ("diagnoses", "function_scores", "services", "persons", "municipality_years", "submissions"):
        op.drop_table(table)
