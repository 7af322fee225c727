"""The statements a decision runs, each on the decision's own connection (so inside its transaction).

:mod:`services.registry_intake.repository.decisions` decides; this module only says how a decision's steps
are written in SQL: lock the municipality-year, insert or update a submission row, find the held ones, delete
a retired submission's records, keep a sealed report. Bulk inserts of records are the bulk writer's
(:mod:`services.registry_intake.repository.bulk`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, Table, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from services.registry_intake.models import (
    SubmissionStatus,
    findings,
    municipality_years,
    persons,
    sealed_reports,
    submissions,
)
from services.registry_intake.read.queries import SUBMISSION_COLUMNS, stored_submission
from services.registry_intake.repository.bulk import PERSON_CHILDREN
from services.registry_intake.submissions import IncomingSubmission, StoredSubmission

__all__ = [
    "delete_records",
    "held_before",
    "held_to_apply",
    "insert_submission",
    "keep_report",
    "lock_municipality_year",
    "lock_status",
    "newest_held",
    "point_year_at",
    "record_count",
    "set_submission",
    "status_of",
]


def lock_municipality_year(
    conn: Connection, municipality: str, year: int, table: Table = municipality_years
) -> tuple[str | None, int | None]:
    """Lock (creating it if missing) the municipality-year row of ``table`` (``municipality_years`` for care data,
    ``register_years`` for the population register's extracts); return its active message id and sequence."""
    insert: Any
    if conn.dialect.name == "postgresql":
        insert = postgresql.insert(table)
    elif conn.dialect.name == "sqlite":
        insert = sqlite.insert(table)
    else:  # pragma: no cover - the project runs on these two
        raise NotImplementedError(f"unsupported database: {conn.dialect.name}")
    conn.execute(insert.values(municipality=municipality, year=year).on_conflict_do_nothing())
    row = conn.execute(
        select(table.c.active_message_id, table.c.active_sequence)
        .where(table.c.municipality == municipality, table.c.year == year)
        .with_for_update()  # SQLite: no-op, BEGIN IMMEDIATE already holds the write lock
    ).one()
    return row.active_message_id, row.active_sequence


def point_year_at(conn: Connection, municipality: str, year: int, message_id: str, sequence: int) -> None:
    """The municipality-year's active submission is now ``message_id`` (its row is locked)."""
    conn.execute(
        update(municipality_years)
        .where(municipality_years.c.municipality == municipality, municipality_years.c.year == year)
        .values(active_message_id=message_id, active_sequence=sequence)
    )


def insert_submission(
    conn: Connection,
    incoming: IncomingSubmission,
    status: SubmissionStatus,
    refusal_reason: str | None,
    *,
    supersedes: str | None,
) -> None:
    """The submission's row, with no records counted yet. ``IntegrityError`` if its id is known."""
    conn.execute(
        submissions.insert().values(
            message_id=incoming.message_id,
            municipality=incoming.municipality,
            year=incoming.year,
            sequence=incoming.sequence,
            status=status,
            refusal_reason=refusal_reason,
            received_at=incoming.received_at,
            record_count=0,
            pseudonymised_count=0,
            identity_refused_count=0,
            supersedes=supersedes,
            superseded_by=None,
            header_sha256=incoming.header_sha256,
            payload_sha256=incoming.payload_sha256,
            sender=incoming.sender,
            pseudonym_key_version=incoming.pseudonym_key_version,
            bydel_nr=incoming.bydel_nr,
            pseudonyms_sha256=incoming.pseudonyms_sha256,
            delivery_sha256=incoming.delivery_sha256,
            finding_count=0,
            error_count=0,
            warning_count=0,
        )
    )


def set_submission(conn: Connection, message_id: str, **values: Any) -> None:
    conn.execute(update(submissions).where(submissions.c.message_id == message_id).values(**values))


def record_count(conn: Connection, message_id: str) -> int:
    count: int = conn.execute(
        select(submissions.c.record_count).where(submissions.c.message_id == message_id)
    ).scalar_one()
    return count


def newest_held(conn: Connection, municipality: str, year: int) -> int:
    """The sequence of the year's held submission (0 if none)."""
    newest = conn.execute(
        select(func.max(submissions.c.sequence)).where(
            submissions.c.municipality == municipality,
            submissions.c.year == year,
            submissions.c.status == SubmissionStatus.HELD,
        )
    ).scalar_one()
    return int(newest or 0)


def held_before(conn: Connection, municipality: str, year: int, sequence: int) -> list[str]:
    """The year's held submissions with a sequence below ``sequence``."""
    return list(
        conn.execute(
            select(submissions.c.message_id).where(
                submissions.c.municipality == municipality,
                submissions.c.year == year,
                submissions.c.status == SubmissionStatus.HELD,
                submissions.c.sequence < sequence,
            )
        ).scalars()
    )


def held_to_apply(conn: Connection, message_id: str) -> tuple[StoredSubmission, IncomingSubmission] | None:
    """A submission as stored, and as the incoming submission its audit facts describe (digests, key version)."""
    row = conn.execute(
        select(
            *SUBMISSION_COLUMNS,
            submissions.c.payload_sha256,
            submissions.c.pseudonyms_sha256,
            submissions.c.delivery_sha256,
            submissions.c.pseudonym_key_version,
        ).where(submissions.c.message_id == message_id)
    ).one_or_none()
    if row is None:
        return None
    incoming = IncomingSubmission(
        message_id=message_id,
        municipality=row.municipality,
        year=row.year,
        sequence=row.sequence,
        sender="",
        header_sha256=row.header_sha256,
        payload_sha256=row.payload_sha256,
        pseudonym_key_version=row.pseudonym_key_version,
        received_at=row.received_at,
        pseudonyms_sha256=row.pseudonyms_sha256,
        delivery_sha256=row.delivery_sha256,
    )
    return stored_submission(row), incoming


def status_of(conn: Connection, message_id: str) -> SubmissionStatus:
    """The status of a submission that exists."""
    return SubmissionStatus(
        conn.execute(select(submissions.c.status).where(submissions.c.message_id == message_id)).scalar_one()
    )


def lock_status(conn: Connection, message_id: str) -> SubmissionStatus | None:
    """The submission's status, its row locked until the transaction ends (None: no such submission)."""
    status = conn.execute(
        select(submissions.c.status).where(submissions.c.message_id == message_id).with_for_update()
    ).scalar_one_or_none()
    return None if status is None else SubmissionStatus(status)


def delete_records(conn: Connection, message_id: str) -> None:
    """The submission's records, findings and sealed report (its row stays, with its counts)."""
    # Findings and children first, set-based; the cascade from persons then finds nothing left to do.
    for table in (findings, *PERSON_CHILDREN, persons):
        conn.execute(table.delete().where(table.c.submission_id == message_id))
    # Its sealed report goes with the findings it holds (a superseded submission's report is not served).
    conn.execute(sealed_reports.delete().where(sealed_reports.c.message_id == message_id))


def keep_report(conn: Connection, message_id: str, recipient_kid: str, body: bytes) -> bytes:
    """Keep ``body`` as the submission's report sealed for ``recipient_kid`` unless one for that key is kept
    already; return the one kept (the caller holds the submission's row lock)."""
    kept = conn.execute(
        select(sealed_reports.c.recipient_kid, sealed_reports.c.body).where(sealed_reports.c.message_id == message_id)
    ).first()
    if kept is not None and kept.recipient_kid == recipient_kid:
        return bytes(kept.body)  # another request sealed it first: its report is the one served
    values = {"recipient_kid": recipient_kid, "body": body, "sealed_at": dt.datetime.now(dt.UTC)}
    if kept is None:
        conn.execute(sealed_reports.insert().values(message_id=message_id, **values))
    else:  # sealed for a key the municipality no longer has
        conn.execute(sealed_reports.update().where(sealed_reports.c.message_id == message_id).values(**values))
    return body
