"""The remaining IPLOS variables and the logical controls' findings.

* ``submissions``: ``bydel_nr`` (city district) and the findings summary ``finding_count``, ``error_count``,
  ``warning_count`` (NULL for the submissions stored before this revision: they were never controlled).
* ``persons``: the background (housing, household, unpaid help, assisted communication, death date, assessed by
  doctor and by dentist, individual plan), all nullable.
* ``services``: ``application_date`` and ``event_type`` (NOT NULL, default ``'N'``: the service lines stored
  before this revision were original reports).
* New child tables of ``persons``: ``refusals``, ``complaints``, ``coercion_decisions``; and ``findings``.
* The services index ``(submission_id, tjeneste_type)`` becomes ``(submission_id, tjeneste_type, ref)``: it
  answers "persons and services per service type" from the index alone.

Only ``ADD COLUMN``, ``CREATE`` and ``DROP`` statements: no table is rebuilt, so this is safe on SQLite with
foreign keys enforced (rebuilding ``persons`` there would cascade-delete its children) and cheap on PostgreSQL
(adding a column with a constant default rewrites nothing).

Revision ID: 0002
Revises: 0001
Create Date: 2025-03-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PERSON_CHILDREN = ("refusals", "complaints", "coercion_decisions")


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


def _sequences(type_: sa.types.TypeEngine[int], existing: sa.types.TypeEngine[int]) -> None:
    """Sequences are the gateway's acceptance times in milliseconds: 64 bits. SQLite's INTEGER already is
    (and rebuilding these tables there would cascade into their children), so only PostgreSQL changes."""
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("submissions", "sequence", type_=type_, existing_type=existing, existing_nullable=False)
        op.alter_column("municipality_years", "active_sequence", type_=type_, existing_type=existing)


def upgrade() -> None:
    _sequences(sa.BigInteger(), sa.Integer())
    op.add_column("submissions", sa.Column("bydel_nr", sa.String(6), nullable=True))
    for name in ("finding_count", "error_count", "warning_count"):
        op.add_column("submissions", sa.Column(name, sa.Integer(), nullable=True))

    op.add_column("persons", sa.Column("housing", sa.Integer(), nullable=True))
    op.add_column("persons", sa.Column("household", sa.Integer(), nullable=True))
    op.add_column("persons", sa.Column("unpaid_help", sa.Boolean(), nullable=True))
    op.add_column("persons", sa.Column("assisted_communication", sa.Boolean(), nullable=True))
    op.add_column("persons", sa.Column("death_date", sa.Date(), nullable=True))
    op.add_column("persons", sa.Column("assessed_by_doctor", sa.Date(), nullable=True))
    op.add_column("persons", sa.Column("assessed_by_dentist", sa.Date(), nullable=True))
    op.add_column("persons", sa.Column("individual_plan", sa.Boolean(), nullable=True))

    op.add_column("services", sa.Column("application_date", sa.Date(), nullable=True))
    op.add_column("services", sa.Column("event_type", sa.String(8), nullable=False, server_default=sa.text("'N'")))
    op.drop_index("ix_services_submission_id_tjeneste_type", table_name="services")
    op.create_index(
        "ix_services_submission_id_tjeneste_type_ref", "services", ["submission_id", "tjeneste_type", "ref"]
    )

    op.create_table(
        "refusals",
        _surrogate_key(),
        *_person_key("refusals"),
        sa.Column("tjeneste_type", sa.Integer(), nullable=False),
        sa.Column("application_date", sa.Date(), nullable=True),
        sa.Column("decision_date", sa.Date(), nullable=False),
    )
    op.create_table(
        "complaints",
        _surrogate_key(),
        *_person_key("complaints"),
        sa.Column("tjeneste_type", sa.Integer(), nullable=False),
        sa.Column("complaint_date", sa.Date(), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=True),
    )
    op.create_table(
        "coercion_decisions",
        _surrogate_key(),
        *_person_key("coercion_decisions"),
        sa.Column("vedtak_id", sa.String(64), nullable=False),
        sa.Column("legal_basis", sa.String(16), nullable=False),
        sa.Column("decision_date", sa.Date(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
    )
    for table in _PERSON_CHILDREN:
        op.create_index(f"ix_{table}_submission_id_ref", table, ["submission_id", "ref"])

    op.create_table(
        "findings",
        _surrogate_key(),
        sa.Column("submission_id", sa.String(36), nullable=False),
        sa.Column("ref", sa.String(64), nullable=True),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("field", sa.Text(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_findings"),
        sa.CheckConstraint("severity IN ('error', 'warning')", name="ck_findings_severity"),
        sa.ForeignKeyConstraint(
            ["submission_id"], ["submissions.message_id"], name="fk_findings_submission_id_submissions"
        ),
        sa.ForeignKeyConstraint(
            ["submission_id", "ref"],
            ["persons.submission_id", "persons.ref"],
            name="fk_findings_submission_id_ref_persons",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_findings_submission_id_ref", "findings", ["submission_id", "ref"])
    op.create_index("ix_findings_submission_id_code", "findings", ["submission_id", "code"])
    op.create_index("ix_findings_code", "findings", ["code"])


def downgrade() -> None:
    _sequences(sa.Integer(), sa.BigInteger())
    # Plain DROP COLUMN (SQLite 3.35+): none of these columns is indexed or constrained.
    op.drop_table("findings")
    for table in reversed(_PERSON_CHILDREN):
        op.drop_table(table)
    op.drop_index("ix_services_submission_id_tjeneste_type_ref", table_name="services")
    op.create_index("ix_services_submission_id_tjeneste_type", "services", ["submission_id", "tjeneste_type"])
    for name in ("event_type", "application_date"):
        op.drop_column("services", name)
    for name in (
        "individual_plan",
        "assessed_by_dentist",
        "assessed_by_doctor",
        "death_date",
        "assisted_communication",
        "unpaid_help",
        "household",
        "housing",
    ):
        op.drop_column("persons", name)
    for name in ("warning_count", "error_count", "finding_count", "bydel_nr"):
        op.drop_column("submissions", name)
