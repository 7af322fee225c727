"""Function scores one row per assessment day, a column per variable, instead of one row per score (ADR 0015).

``function_scores`` held about sixteen rows per person (four in five of all the rows a national year writes),
each with its own surrogate key and an index entry of (submission_id, ref). ``function_assessments`` holds one
row per person and assessment day: the seventeen variables of the export schema are columns, and a variable
scored again on the same day (bad data, which the controls report) opens a further row of that day (``ordinal``
1, 2, ...), so no score is lost. On SQLite the table is WITHOUT ROWID: its primary key is the table. A variable
without a column (the payload format admits any name of up to 64 characters, so that a minor export version may
add one) is kept a row per score in ``other_function_scores``, the old table's shape, until a migration gives it
a column.

The upgrade moves every stored score; the downgrade moves them back, one row each (their order within a person
is not kept: only their day and variable are).

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

# The seventeen variables as this revision knows them (XML name -> column), written out: a migration must not
# change when the model's constants do.
_COLUMNS = {
    "sosialDeltakelse": "sosial_deltakelse",
    "beslutningerDagligliv": "beslutninger_dagligliv",
    "ivaretaEgenHelse": "ivareta_egen_helse",
    "alminneligHusarbeid": "alminnelig_husarbeid",
    "skaffeVarerOgTjenester": "skaffe_varer_og_tjenester",
    "personligHygiene": "personlig_hygiene",
    "avOgPakledning": "av_og_pakledning",
    "spise": "spise",
    "lageMat": "lage_mat",
    "bevegeSegInnendors": "bevege_seg_innendors",
    "bevegeSegUtendors": "bevege_seg_utendors",
    "toalett": "toalett",
    "styreAtferd": "styre_atferd",
    "hukommelse": "hukommelse",
    "kommunikasjon": "kommunikasjon",
    "syn": "syn",
    "horsel": "horsel",
}
_KNOWN = ", ".join(f"'{variable}'" for variable in _COLUMNS)


def _scores_table(name: str) -> None:
    """A table of one row per score: ``function_scores`` as revision 0001 made it, or its successor for the
    variables without a column."""
    op.create_table(
        name,
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("submission_id", sa.String(36), nullable=False),
        sa.Column("ref", sa.String(64), nullable=False),
        sa.Column("variable", sa.String(64), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("assessed_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=f"pk_{name}"),
        sa.ForeignKeyConstraint(
            ["submission_id", "ref"],
            ["persons.submission_id", "persons.ref"],
            name=f"fk_{name}_submission_id_ref_persons",
            ondelete="CASCADE",
        ),
    )
    op.create_index(f"ix_{name}_submission_id_ref", name, ["submission_id", "ref"])


def upgrade() -> None:
    op.create_table(
        "function_assessments",
        sa.Column("submission_id", sa.String(36), nullable=False),
        sa.Column("ref", sa.String(64), nullable=False),
        sa.Column("assessed_on", sa.Date(), nullable=False),
        sa.Column("ordinal", sa.SmallInteger(), nullable=False),
        *(sa.Column(column, sa.SmallInteger(), nullable=True) for column in _COLUMNS.values()),
        sa.PrimaryKeyConstraint("submission_id", "ref", "assessed_on", "ordinal", name="pk_function_assessments"),
        sa.ForeignKeyConstraint(
            ["submission_id", "ref"],
            ["persons.submission_id", "persons.ref"],
            name="fk_function_assessments_submission_id_ref_persons",
            ondelete="CASCADE",
        ),
        sqlite_with_rowid=False,
    )
    _scores_table("other_function_scores")
    # A day's n-th score of a variable goes into the day's row n (ROW_NUMBER in the order the scores were stored).
    pivot = ", ".join(f"MAX(CASE WHEN variable = '{v}' THEN score END)" for v in _COLUMNS)
    op.execute(
        f"INSERT INTO function_assessments (submission_id, ref, assessed_on, ordinal, {', '.join(_COLUMNS.values())})"  # noqa: S608
        f" SELECT submission_id, ref, assessed_on, ordinal, {pivot} FROM ("
        " SELECT submission_id, ref, assessed_on, variable, score, ROW_NUMBER() OVER"
        " (PARTITION BY submission_id, ref, assessed_on, variable ORDER BY id) - 1 AS ordinal FROM function_scores"
        f" WHERE variable IN ({_KNOWN})) AS numbered GROUP BY submission_id, ref, assessed_on, ordinal"
    )
    op.execute(
        "INSERT INTO other_function_scores (submission_id, ref, variable, score, assessed_on)"  # noqa: S608
        " SELECT submission_id, ref, variable, score, assessed_on FROM function_scores"
        f" WHERE variable NOT IN ({_KNOWN}) ORDER BY id"
    )
    op.drop_index("ix_function_scores_submission_id_ref", table_name="function_scores")
    op.drop_table("function_scores")


def downgrade() -> None:
    _scores_table("function_scores")
    unpivot = " UNION ALL ".join(
        f"SELECT submission_id, ref, '{variable}' AS variable, {column} AS score, assessed_on, ordinal, 0 AS id"  # noqa: S608
        f" FROM function_assessments WHERE {column} IS NOT NULL"
        for variable, column in _COLUMNS.items()
    )
    op.execute(
        "INSERT INTO function_scores (submission_id, ref, variable, score, assessed_on)"  # noqa: S608 - constants
        f" SELECT submission_id, ref, variable, score, assessed_on FROM ({unpivot} UNION ALL"
        " SELECT submission_id, ref, variable, score, assessed_on, 0 AS ordinal, id FROM other_function_scores"
        ") AS scores ORDER BY submission_id, ref, assessed_on, ordinal, id"
    )
    op.drop_index("ix_other_function_scores_submission_id_ref", table_name="other_function_scores")
    op.drop_table("other_function_scores")
    op.drop_table("function_assessments")
