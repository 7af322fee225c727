"""Every SQL statement of the gateway's use cases, on a connection the caller opened.

The use cases (``service``) own the transactions: a function here never begins or commits one, so what belongs
together (a submission, its reference rows and its audit entry) commits together. The outbox's own statements
(claiming a due submission, recording an attempt, the sweep) are the kit's (services.kit.outbox).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from services.kit.copy_rows import copy_rows
from services.kit.database import as_utc
from services.municipality_gateway.models import record_refs, reports, submissions
from services.municipality_gateway.states import HELD_DISCARDED, NOT_IN_EFFECT, RETRYABLE, SubmissionState

__all__ = [
    "NewSubmission",
    "StoredSubmission",
    "add_refs",
    "add_submission",
    "bruker_nrs",
    "cached_report",
    "discard_older_held",
    "find",
    "keep_report",
    "last_sequence",
    "list_newest_first",
    "lock_municipality_year",
    "newest_in_effect",
    "requeue",
    "settle_held",
]

_REFS_BATCH = 10_000  # reference rows per INSERT for a driver without a streaming path (add_refs)


@dataclass(frozen=True)
class StoredSubmission:
    """One row of ``submissions``, its times aware (SQLite hands them back naive; they are UTC)."""

    message_id: str
    municipality: str
    year: int
    sequence: int
    state: SubmissionState
    record_count: int
    attempts: int
    last_error: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    forwarded_at: dt.datetime | None
    receipt: str | None
    """The registry's signed receipt as JSON text, once it answered with one."""
    receipt_signature: str | None
    export_sha256: str | None


@dataclass(frozen=True)
class NewSubmission:
    message_id: str
    municipality: str
    year: int
    sequence: int
    record_count: int
    created_at: dt.datetime
    export_sha256: str | None


# Named columns, not the whole table: a column added for the outbox worker changes nothing here.
_COLUMNS = (
    submissions.c.message_id,
    submissions.c.municipality,
    submissions.c.year,
    submissions.c.sequence,
    submissions.c.state,
    submissions.c.record_count,
    submissions.c.attempts,
    submissions.c.last_error,
    submissions.c.created_at,
    submissions.c.updated_at,
    submissions.c.forwarded_at,
    submissions.c.receipt,
    submissions.c.receipt_signature,
    submissions.c.export_sha256,
)


def _stored(row: Any) -> StoredSubmission:
    return StoredSubmission(
        message_id=row.message_id,
        municipality=row.municipality,
        year=row.year,
        sequence=row.sequence,
        state=SubmissionState(row.state),
        record_count=row.record_count,
        attempts=row.attempts,
        last_error=row.last_error,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
        forwarded_at=as_utc(row.forwarded_at) if row.forwarded_at else None,
        receipt=row.receipt,
        receipt_signature=row.receipt_signature,
        export_sha256=row.export_sha256,
    )


# --- submissions --------------------------------------------------------------------------------------------


def lock_municipality_year(conn: Connection, municipality: str, year: int) -> None:
    """Hold off every other transaction that numbers a submission of the municipality-year until this one ends:
    several gateway processes share the database, and two uploads of one municipality-year must neither get
    the same sequence nor both pass as new when they are the same file. On PostgreSQL a transaction-level
    advisory lock; on SQLite the transaction's write lock (``BEGIN IMMEDIATE``) already does it."""
    if conn.dialect.name == "postgresql":
        digest = hashlib.sha256(f"iplos-gateway-year\x00{municipality}\x00{year}".encode()).digest()
        conn.execute(select(func.pg_advisory_xact_lock(int.from_bytes(digest[:8], "big", signed=True))))


def last_sequence(conn: Connection, municipality: str, year: int, *, at_most: int | None = None) -> int:
    """The highest sequence of the municipality-year here (not above ``at_most`` if given), 0 if none."""
    query = select(func.coalesce(func.max(submissions.c.sequence), 0)).where(
        submissions.c.municipality == municipality, submissions.c.year == year
    )
    if at_most is not None:
        query = query.where(submissions.c.sequence <= at_most)
    last = conn.execute(query).scalar_one()
    return int(last)


def add_submission(conn: Connection, new: NewSubmission) -> None:
    """A new submission, queued and due at once."""
    conn.execute(
        insert(submissions),
        {
            "message_id": new.message_id,
            "municipality": new.municipality,
            "year": new.year,
            "sequence": new.sequence,
            "state": SubmissionState.QUEUED.value,
            "record_count": new.record_count,
            "created_at": new.created_at,
            "updated_at": new.created_at,
            "attempts": 0,
            "next_attempt_at": new.created_at,
            "export_sha256": new.export_sha256,
        },
    )


def add_refs(conn: Connection, message_id: str, refs: Iterable[tuple[str, str]]) -> None:
    """The (reference, brukerNr) mapping of a submission's records, streamed into ``record_refs``: nothing but the
    row at hand is held, whatever the number of records.

    On SQLite straight to the transaction's own ``sqlite3`` connection (its ``executemany`` takes an iterator),
    on PostgreSQL (psycopg) with ``COPY`` on it: SQLAlchemy's executemany wanted a list of a dict per row, 10,000
    rows (about 6 MB) at a time, and spent more time building and binding them than the database inserting.
    Any other driver gets SQLAlchemy's executemany in batches."""
    rows = ((message_id, ref, bruker_nr) for ref, bruker_nr in refs)
    dbapi = conn.connection.driver_connection
    if isinstance(dbapi, sqlite3.Connection):
        cursor = dbapi.cursor()
        try:
            cursor.executemany(_SQLITE_INSERT_REF, rows)
        finally:
            cursor.close()
    elif conn.dialect.driver == "psycopg":
        copy_rows(dbapi, "record_refs", _REF_COLUMNS, rows)  # COPY, in this transaction
    else:
        _insert_refs_in_batches(conn, rows)


_REF_COLUMNS = ("message_id", "ref", "bruker_nr")
_SQLITE_INSERT_REF = "INSERT INTO record_refs (message_id, ref, bruker_nr) VALUES (?, ?, ?)"


def _insert_refs_in_batches(conn: Connection, rows: Iterable[tuple[str, str, str]]) -> None:
    batch: list[dict[str, str]] = []
    for row in rows:
        batch.append(dict(zip(_REF_COLUMNS, row, strict=True)))
        if len(batch) == _REFS_BATCH:
            conn.execute(insert(record_refs), batch)
            batch = []
    if batch:
        conn.execute(insert(record_refs), batch)


def find(conn: Connection, message_id: str) -> StoredSubmission | None:
    row = conn.execute(select(*_COLUMNS).where(submissions.c.message_id == message_id)).first()
    return _stored(row) if row else None


def list_newest_first(conn: Connection, municipality: str | None, year: int | None) -> list[StoredSubmission]:
    query = select(*_COLUMNS).order_by(submissions.c.created_at.desc())
    if municipality:
        query = query.where(submissions.c.municipality == municipality)
    if year:
        query = query.where(submissions.c.year == year)
    return [_stored(row) for row in conn.execute(query)]


def newest_in_effect(conn: Connection, municipality: str, year: int) -> StoredSubmission | None:
    """The municipality-year's newest submission in effect at the registry or on its way there."""
    row = conn.execute(
        select(*_COLUMNS)
        .where(
            submissions.c.municipality == municipality,
            submissions.c.year == year,
            submissions.c.state.not_in([state.value for state in NOT_IN_EFFECT]),
        )
        .order_by(submissions.c.sequence.desc())
        .limit(1)
    ).first()
    return _stored(row) if row else None


def requeue(conn: Connection, message_id: str, now: dt.datetime) -> bool:
    """Put a rejected or dead-lettered submission back in the queue, due at once; False if it is not one (any
    more: two retries at once change it once)."""
    changed = conn.execute(
        update(submissions)
        .where(
            submissions.c.message_id == message_id,
            submissions.c.state.in_([state.value for state in RETRYABLE]),
        )
        .values(state=SubmissionState.QUEUED.value, attempts=0, next_attempt_at=now, updated_at=now, last_error=None)
    ).rowcount
    return changed == 1


def discard_older_held(conn: Connection, message_id: str, now: dt.datetime) -> list[str]:
    """The registry has just stored or held ``message_id``; by its rule (envelope-v1 section 7.5) an older held
    submission of the same municipality and year is refused from then on (``held-discarded``) and can no longer be
    confirmed. Say so here too, rather than offer the municipality a decision that no longer exists."""
    newer = conn.execute(
        select(submissions.c.municipality, submissions.c.year, submissions.c.sequence).where(
            submissions.c.message_id == message_id
        )
    ).one()
    older = [
        str(held_id)
        for held_id in conn.execute(
            select(submissions.c.message_id).where(
                submissions.c.municipality == newer.municipality,
                submissions.c.year == newer.year,
                submissions.c.state == SubmissionState.HELD.value,
                submissions.c.sequence < newer.sequence,
            )
        ).scalars()
    ]
    if older:
        conn.execute(
            update(submissions)
            .where(submissions.c.message_id.in_(older))
            .values(
                state=SubmissionState.REFUSED.value,
                updated_at=now,
                last_error=f"{HELD_DISCARDED}: replaced by {message_id}",
            )
        )
    return older


def settle_held(
    conn: Connection,
    message_id: str,
    state: SubmissionState,
    receipt_json: str,
    receipt_signature: str,
    last_error: str | None,
) -> bool:
    """Record the registry's receipt for a held submission the municipality confirmed; False if it is no longer
    held (another confirmation of the same submission recorded it first)."""
    changed = conn.execute(
        update(submissions)
        .where(submissions.c.message_id == message_id, submissions.c.state == SubmissionState.HELD.value)
        .values(
            state=state.value,
            receipt=receipt_json,
            receipt_signature=receipt_signature,
            last_error=last_error,
        )
    ).rowcount
    return changed == 1


# --- control reports and the reference mapping ----------------------------------------------------------------


def cached_report(conn: Connection, message_id: str) -> tuple[str, str | None] | None:
    """The submission's mapped control report as JSON text, once it was fetched, and the registry's entity tag of
    it (None if it was kept before the gateway kept tags)."""
    row = conn.execute(select(reports.c.report, reports.c.etag).where(reports.c.message_id == message_id)).first()
    return None if row is None else (str(row.report), row.etag)


def bruker_nrs(conn: Connection, message_id: str) -> dict[str, str]:
    """reference -> brukerNr of every record of the submission."""
    rows = conn.execute(
        select(record_refs.c.ref, record_refs.c.bruker_nr).where(record_refs.c.message_id == message_id)
    )
    return {str(ref): str(bruker_nr) for ref, bruker_nr in rows}


def keep_report(
    conn: Connection, message_id: str, report_json: str, fetched_at: dt.datetime, etag: str | None = None
) -> None:
    """Keep a mapped report in place of any kept before (the registry's findings changed); IntegrityError if
    another request kept one at the same moment."""
    conn.execute(delete(reports).where(reports.c.message_id == message_id))
    conn.execute(
        insert(reports), {"message_id": message_id, "report": report_json, "fetched_at": fetched_at, "etag": etag}
    )
