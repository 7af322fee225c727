"""Storing submissions: one transaction per decision, the database decides replays and order.

:meth:`SubmissionRepository.store` makes one of three decisions for an incoming submission:

* **replay**: the message id is already known (the primary key of ``submissions`` decides, not a cache):
  :class:`ReplayedMessage`, nothing changes;
* **stale**: the active submission of the same municipality and year has the same or a higher sequence: the
  incoming one is recorded as ``refused`` (``stale-sequence``, no records) in a transaction of its own, and
  :class:`StaleSubmission` is raised; the active data is untouched;
* **accept**: the incoming submission becomes the active one, its records are bulk inserted, the previous
  active one is marked ``superseded`` and its records deleted, all in one transaction. If anything fails,
  including the records iterator itself half-way, everything rolls back.

Submissions of one municipality and year serialise on their ``municipality_years`` row (``SELECT ... FOR
UPDATE`` on PostgreSQL; on SQLite every write transaction begins with ``BEGIN IMMEDIATE``).

Records are written in batches of persons with their services, scores and diagnoses: with executemany
(``Connection.execute(table.insert(), rows)``), and on PostgreSQL with ``COPY`` (about three times faster there),
never one ORM object per row.
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import psycopg
from psycopg import sql
from sqlalchemy import Connection, Engine, Row, Table, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from services.kit.database import READ_ONLY
from shared.iplos.model import PayloadRecord

from .models import (
    IDENTITY_OK,
    REFUSAL_STALE_SEQUENCE,
    SubmissionStatus,
    diagnoses,
    function_scores,
    municipality_years,
    persons,
    services,
    submissions,
)

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "IncomingSubmission",
    "ReplayedMessage",
    "StaleSubmission",
    "StoredSubmission",
    "SubmissionConflict",
    "SubmissionRepository",
]

#: Persons per bulk insert (with about 25 child rows each).
DEFAULT_BATCH_SIZE: Final = 2000


@dataclass(frozen=True)
class IncomingSubmission:
    """What the intake knows about a verified submission before storing its records."""

    message_id: str
    municipality: str
    year: int
    sequence: int
    sender: str
    header_sha256: str
    payload_sha256: str
    pseudonym_key_version: int
    received_at: dt.datetime


@dataclass(frozen=True)
class StoredSubmission:
    message_id: str
    municipality: str
    year: int
    sequence: int
    status: str
    refusal_reason: str | None
    received_at: dt.datetime
    record_count: int
    pseudonymised_count: int
    identity_refused_count: int
    supersedes: str | None
    superseded_by: str | None
    header_sha256: str


class SubmissionConflict(Exception):
    """A submission the registry does not store: base of :class:`ReplayedMessage` and :class:`StaleSubmission`."""


class ReplayedMessage(SubmissionConflict):
    """The message id is already known; ``original`` is what was decided for it the first time."""

    def __init__(self, original: StoredSubmission) -> None:
        super().__init__(f"message {original.message_id} was already received (status {original.status})")
        self.original = original


class StaleSubmission(SubmissionConflict):
    """A submission with the same or a higher sequence is active; ``refused`` is the row recorded for this one."""

    def __init__(self, active_sequence: int, refused: StoredSubmission) -> None:
        super().__init__(
            f"message {refused.message_id} for municipality {refused.municipality}, year {refused.year}:"
            f" sequence {refused.sequence} is not newer than the active sequence {active_sequence}"
        )
        self.active_sequence = active_sequence
        self.refused = refused


class _Duplicate(Exception):
    """Internal: inserting the submission row violated a constraint (normally: its id is already known)."""

    def __init__(self, error: IntegrityError) -> None:
        super().__init__()
        self.error = error


_SUBMISSION_COLUMNS: Final = tuple(submissions.c[name] for name in StoredSubmission.__dataclass_fields__)


class SubmissionRepository:
    def __init__(self, engine: Engine, *, batch_size: int = DEFAULT_BATCH_SIZE) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be positive")
        self._engine = engine
        self._reader = engine.execution_options(**READ_ONLY)
        self._batch_size = batch_size

    # -- writing -------------------------------------------------------------------------------------------

    def store(
        self,
        incoming: IncomingSubmission,
        records: Iterable[tuple[PayloadRecord, bytes | None, str]],
    ) -> StoredSubmission:
        """Store ``incoming`` with its records and make it the active submission of its municipality and year.

        ``records`` yields (record, pseudonym or None, identity status: ``"ok"`` or the TPF's refusal code).
        Raises :class:`ReplayedMessage` or :class:`StaleSubmission` (see the module docstring).
        """
        stale_against: int | None = None
        try:
            with self._engine.begin() as conn:
                active_id, active_sequence = self._lock_municipality_year(conn, incoming)
                if active_sequence is not None and active_sequence >= incoming.sequence:
                    # Committed on its own: the refusal is an audit fact, no data changes.
                    self._insert_submission(
                        conn, incoming, SubmissionStatus.REFUSED, REFUSAL_STALE_SEQUENCE, supersedes=None
                    )
                    stale_against = active_sequence
                else:
                    self._replace(conn, incoming, active_id, records)
        except _Duplicate as duplicate:
            original = self.get(incoming.message_id)
            if original is None:  # not the primary key after all
                raise duplicate.error from None
            raise ReplayedMessage(original) from None

        stored = self.get(incoming.message_id)
        assert stored is not None
        if stale_against is not None:
            raise StaleSubmission(stale_against, stored)
        return stored

    def _lock_municipality_year(self, conn: Connection, incoming: IncomingSubmission) -> tuple[str | None, int | None]:
        """Lock (creating it if missing) the municipality-year row; return its active message id and sequence."""
        key = {"municipality": incoming.municipality, "year": incoming.year}
        insert: Any
        if conn.dialect.name == "postgresql":
            insert = postgresql.insert(municipality_years)
        elif conn.dialect.name == "sqlite":
            insert = sqlite.insert(municipality_years)
        else:  # pragma: no cover - the project runs on these two
            raise NotImplementedError(f"unsupported database: {conn.dialect.name}")
        conn.execute(insert.values(**key).on_conflict_do_nothing())
        row = conn.execute(
            select(municipality_years.c.active_message_id, municipality_years.c.active_sequence)
            .where(
                municipality_years.c.municipality == incoming.municipality,
                municipality_years.c.year == incoming.year,
            )
            .with_for_update()  # SQLite: no-op, BEGIN IMMEDIATE already holds the write lock
        ).one()
        return row.active_message_id, row.active_sequence

    def _insert_submission(
        self,
        conn: Connection,
        incoming: IncomingSubmission,
        status: str,
        refusal_reason: str | None,
        *,
        supersedes: str | None,
    ) -> None:
        try:
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
                )
            )
        except IntegrityError as exc:
            raise _Duplicate(exc) from exc

    def _replace(
        self,
        conn: Connection,
        incoming: IncomingSubmission,
        previous_id: str | None,
        records: Iterable[tuple[PayloadRecord, bytes | None, str]],
    ) -> None:
        new_id = incoming.message_id
        if previous_id is not None:
            # Free the one-active slot first; point at the successor once it exists (foreign key).
            self._set_submission(conn, previous_id, status=SubmissionStatus.SUPERSEDED)
        self._insert_submission(conn, incoming, SubmissionStatus.ACTIVE, None, supersedes=previous_id)
        if previous_id is not None:
            self._set_submission(conn, previous_id, superseded_by=new_id)
            self._delete_records(conn, previous_id)

        counts = self._insert_records(conn, incoming, records)
        self._set_submission(
            conn,
            new_id,
            record_count=counts[0],
            pseudonymised_count=counts[1],
            identity_refused_count=counts[2],
        )
        conn.execute(
            update(municipality_years)
            .where(
                municipality_years.c.municipality == incoming.municipality,
                municipality_years.c.year == incoming.year,
            )
            .values(active_message_id=new_id, active_sequence=incoming.sequence)
        )

    @staticmethod
    def _set_submission(conn: Connection, message_id: str, **values: Any) -> None:
        conn.execute(update(submissions).where(submissions.c.message_id == message_id).values(**values))

    @staticmethod
    def _delete_records(conn: Connection, message_id: str) -> None:
        # Children first, set-based; the cascade from persons then finds nothing left to do.
        for table in (services, function_scores, diagnoses, persons):
            conn.execute(table.delete().where(table.c.submission_id == message_id))

    def _insert_records(
        self,
        conn: Connection,
        incoming: IncomingSubmission,
        records: Iterable[tuple[PayloadRecord, bytes | None, str]],
    ) -> tuple[int, int, int]:
        """Bulk insert the records; return (records, pseudonymised, identity refused)."""
        sid = incoming.message_id
        key_version = incoming.pseudonym_key_version
        total = pseudonymised = 0
        batch = _Batch()
        for record, pseudonym, identity_status in records:
            if (pseudonym is None) == (identity_status == IDENTITY_OK):
                raise ValueError(
                    f"record {record.ref}: a pseudonym goes with identity status 'ok', a refusal code with none"
                )
            ref = record.ref
            batch.persons.append(
                (
                    sid,
                    ref,
                    pseudonym,
                    None if pseudonym is None else key_version,
                    identity_status,
                    record.birth_year,
                    None if record.sex is None else record.sex.value,
                    record.fid_type.value,
                )
            )
            batch.services.extend(
                (
                    sid,
                    ref,
                    s.tjeneste_id,
                    s.tjeneste_type,
                    s.decision_date,
                    s.start_date,
                    s.end_date,
                    s.hours_per_week,
                    s.org_nr,
                )
                for s in record.services
            )
            batch.function_scores.extend((sid, ref, f.variable, f.score, f.date) for f in record.function_scores)
            batch.diagnoses.extend((sid, ref, d.system.value, d.code) for d in record.diagnoses)
            total += 1
            pseudonymised += pseudonym is not None
            if len(batch.persons) >= self._batch_size:
                batch.flush(conn)
                batch = _Batch()
        batch.flush(conn)
        return total, pseudonymised, total - pseudonymised

    # -- reading -------------------------------------------------------------------------------------------

    def get(self, message_id: str) -> StoredSubmission | None:
        with self._reader.connect() as conn:
            row = conn.execute(select(*_SUBMISSION_COLUMNS).where(submissions.c.message_id == message_id)).one_or_none()
        return None if row is None else _stored(row)

    def list(self, municipality: str | None = None, year: int | None = None) -> builtins.list[StoredSubmission]:
        """Submissions, newest first (by time received, then sequence)."""
        query = select(*_SUBMISSION_COLUMNS).order_by(
            submissions.c.received_at.desc(), submissions.c.sequence.desc(), submissions.c.message_id
        )
        if municipality is not None:
            query = query.where(submissions.c.municipality == municipality)
        if year is not None:
            query = query.where(submissions.c.year == year)
        with self._reader.connect() as conn:
            return [_stored(row) for row in conn.execute(query)]

    def count_records(self, message_id: str) -> int:
        """How many persons are stored for the submission (0 once it is superseded, or if it was refused)."""
        with self._reader.connect() as conn:
            count = conn.execute(
                select(func.count()).select_from(persons).where(persons.c.submission_id == message_id)
            ).scalar_one()
        return int(count)


def _stored(row: Row[Any]) -> StoredSubmission:
    return StoredSubmission(**row._asdict())


# Rows are tuples in these column orders (for executemany and COPY alike).
_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "persons": (
        "submission_id",
        "ref",
        "pseudonym",
        "pseudonym_key_version",
        "identity_status",
        "birth_year",
        "sex",
        "fid_type",
    ),
    "services": (
        "submission_id",
        "ref",
        "tjeneste_id",
        "tjeneste_type",
        "decision_date",
        "start_date",
        "end_date",
        "hours_per_week",
        "org_nr",
    ),
    "function_scores": ("submission_id", "ref", "variable", "score", "assessed_on"),
    "diagnoses": ("submission_id", "ref", "system", "code"),
}


class _Batch:
    """The rows of up to ``batch_size`` persons, written in one go (persons first: the children refer to them)."""

    def __init__(self) -> None:
        self.persons: builtins.list[tuple[Any, ...]] = []
        self.services: builtins.list[tuple[Any, ...]] = []
        self.function_scores: builtins.list[tuple[Any, ...]] = []
        self.diagnoses: builtins.list[tuple[Any, ...]] = []

    def flush(self, conn: Connection) -> None:
        for table, rows in (
            (persons, self.persons),
            (services, self.services),
            (function_scores, self.function_scores),
            (diagnoses, self.diagnoses),
        ):
            if rows:
                _insert_rows(conn, table, rows)


def _insert_rows(conn: Connection, table: Table, rows: Sequence[tuple[Any, ...]]) -> None:
    columns = _COLUMNS[table.name]
    if conn.dialect.driver == "psycopg":
        # COPY: about 3x executemany on PostgreSQL. Same DBAPI connection, so the same transaction.
        driver_connection = conn.connection.driver_connection
        assert isinstance(driver_connection, psycopg.Connection)
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, columns))
        )
        with driver_connection.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
        return
    conn.execute(table.insert(), [dict(zip(columns, row, strict=True)) for row in rows])
