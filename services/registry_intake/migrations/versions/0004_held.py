"""Held submissions: a sharp drop in persons waits for the municipality's confirmation.

* ``submissions.status`` may be ``'held'``: the records are stored under the submission, but it is not the
  active one until the municipality confirms the replacement (``SubmissionRepository.confirm``).
* ``submissions.pseudonyms_sha256`` and ``delivery_sha256``: the digests of the TPF's part and signed header, so
  that a confirmation can write the same ``stored`` audit facts the delivery would have (NULL before 0004).

PostgreSQL replaces the CHECK constraint in place; SQLite edits it in the stored schema (see ``_set_status_check``).

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

# Children before persons (the foreign keys), as the repository deletes a superseded submission's records.
_RECORD_TABLES = (
    "findings",
    "services",
    "function_scores",
    "diagnoses",
    "refusals",
    "complaints",
    "coercion_decisions",
    "persons",
)
_PG_CHECK = "ck_submissions_ck_submissions_status"
_WITH_HELD = "status IN ('active', 'superseded', 'refused', 'held')"
_WITHOUT_HELD = "status IN ('active', 'superseded', 'refused')"


def _set_status_check(old: str, new: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        # The name 0001 gave it, passed once more through the naming convention.
        op.execute(f"ALTER TABLE submissions DROP CONSTRAINT {_PG_CHECK}")
        op.execute(f"ALTER TABLE submissions ADD CONSTRAINT {_PG_CHECK} CHECK ({new})")
        return
    # SQLite cannot alter a constraint, and rebuilding the table in batch mode would drop it, which SQLite
    # refuses inside a transaction while persons, findings and municipality_years refer to it. Its documented
    # procedure for changing a CHECK constraint without a rebuild (https://sqlite.org/lang_altertable.html,
    # "Making Other Kinds Of Table Schema Changes") edits the stored CREATE TABLE text and bumps the schema
    # version, inside the migration's transaction. Widening the allowed set leaves every stored row valid;
    # narrowing it (the downgrade) first turns the rows it excludes into allowed ones.
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar_one()
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    changed = bind.exec_driver_sql(
        "UPDATE sqlite_master SET sql = replace(sql, ?, ?) WHERE type = 'table' AND name = 'submissions'"
        " AND instr(sql, ?) > 0",
        (old, new, old),
    ).rowcount
    bind.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema = OFF")
    if changed != 1:
        raise RuntimeError("the submissions table's status CHECK constraint is not the one this migration expects")


def upgrade() -> None:
    with op.batch_alter_table("submissions") as batch:
        batch.add_column(sa.Column("pseudonyms_sha256", sa.String(64), nullable=True))
        batch.add_column(sa.Column("delivery_sha256", sa.String(64), nullable=True))
    _set_status_check(_WITHOUT_HELD, _WITH_HELD)


def downgrade() -> None:
    # A held submission was never applied: going back, it is what it would have been without 0004, refused, and
    # like every refused submission it keeps no records.
    held = "SELECT message_id FROM submissions WHERE status = 'held'"
    for table in _RECORD_TABLES:
        op.execute(f"DELETE FROM {table} WHERE submission_id IN ({held})")  # noqa: S608 - constant names
    op.execute("UPDATE submissions SET status = 'refused', refusal_reason = 'held-not-confirmed' WHERE status = 'held'")
    _set_status_check(_WITH_HELD, _WITHOUT_HELD)
    # Plain DROP COLUMN (SQLite 3.35 and later have it): batch mode would rebuild the referenced table.
    for column in ("delivery_sha256", "pseudonyms_sha256"):
        op.execute(f"ALTER TABLE submissions DROP COLUMN {column}")
