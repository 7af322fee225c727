"""The bulk writer: a submission's records and findings into the database, a batch of persons at a time.

Never one ORM object per row: on PostgreSQL with ``COPY`` (about three times executemany there), on SQLite with
the ``sqlite3`` cursor's ``executemany`` on the transaction's own connection (about 1.75 times
``Connection.execute(table.insert(), dicts)``: no per-row dict and type processing). That path bypasses
SQLAlchemy's types, so the rows carry dates as ``YYYY-MM-DD`` text, exactly what SQLAlchemy's SQLite ``Date``
stores, and reads through SQLAlchemy still give ``date`` objects. Any other driver gets SQLAlchemy's executemany.

The writer runs inside the repository's transaction (:class:`services.registry_intake.repository.SubmissionRepository`)
and counts as it goes: the counts become the submission row's and the audit entry's.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Sequence
from operator import itemgetter
from typing import Any, Final

from sqlalchemy import Connection, Table

from services.kit.copy_rows import copy_rows
from services.registry_intake.models import (
    FUNCTION_COLUMNS,
    IDENTITY_OK,
    SEVERITIES,
    coercion_decisions,
    complaints,
    diagnoses,
    findings,
    function_assessments,
    other_function_scores,
    persons,
    refusals,
    services,
)
from services.registry_intake.submissions import IncomingSubmission, SeverityOf
from shared.iplos.model import Finding, FunctionScore, PayloadRecord

__all__ = ["PERSON_CHILDREN", "BulkWriter", "days_for", "insert_rows"]

#: The tables of rows that belong to a person. Children before persons when deleting; the reverse when inserting.
PERSON_CHILDREN: Final = (
    services,
    function_assessments,
    other_function_scores,
    diagnoses,
    refusals,
    complaints,
    coercion_decisions,
)

# Rows are tuples in these column orders (for COPY and executemany alike).
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
        "housing",
        "household",
        "unpaid_help",
        "assisted_communication",
        "death_date",
        "assessed_by_doctor",
        "assessed_by_dentist",
        "individual_plan",
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
        "application_date",
        "event_type",
    ),
    "function_assessments": ("submission_id", "ref", "assessed_on", "ordinal", *FUNCTION_COLUMNS.values()),
    "other_function_scores": ("submission_id", "ref", "variable", "score", "assessed_on"),
    "diagnoses": ("submission_id", "ref", "system", "code"),
    "refusals": ("submission_id", "ref", "tjeneste_type", "application_date", "decision_date"),
    "complaints": ("submission_id", "ref", "tjeneste_type", "complaint_date", "outcome"),
    "coercion_decisions": (
        "submission_id",
        "ref",
        "vedtak_id",
        "legal_basis",
        "decision_date",
        "start_date",
        "end_date",
    ),
    "findings": ("submission_id", "ref", "code", "severity", "field", "detail"),
}

_REF: Final = itemgetter(1)  # a row's record reference (every table's second column)
assert all(columns[1] == "ref" for columns in _COLUMNS.values())

# Insertion order: persons first, the rows that refer to them after.
_WRITE_ORDER: Final = (persons, *PERSON_CHILDREN, findings)

# Built from the constants above only, never from data.


class _SqliteDates(dict[dt.date | None, str | None]):
    """Dates as SQLAlchemy's SQLite ``Date`` stores them (``%04d-%02d-%02d``, which ``isoformat`` is), by
    subscript: ``days[date]``. A payload repeats a few thousand dates, whose text is made once (a date keeps its
    hash); bounded all the same, as a payload may spell many more."""

    _LIMIT: Final = 20_000

    def __init__(self) -> None:
        super().__init__({None: None})

    def __missing__(self, key: dt.date | None) -> str | None:
        assert key is not None
        if len(self) >= self._LIMIT:
            self.clear()
            self[None] = None
        text = self[key] = key.isoformat()
        return text


class _SameDates(dict[dt.date | None, dt.date | None]):
    """Dates as they are (psycopg adapts them), by the same subscript as :class:`_SqliteDates`."""

    def __missing__(self, key: dt.date | None) -> dt.date | None:
        return key


class BulkWriter:
    """Turns records into rows and writes them ``batch_size`` persons at a time, counting as it goes."""

    def __init__(self, conn: Connection, incoming: IncomingSubmission, severity_of: SeverityOf, batch_size: int):
        self._conn = conn
        self._sid = incoming.message_id
        self._key_version = incoming.pseudonym_key_version
        self._severity_of = severity_of
        self._severities: dict[str, str] = {}
        self._batch_size = batch_size
        self._days: dict[Any, Any] = days_for(conn)
        self._rows: dict[str, list[tuple[Any, ...]]] = {table.name: [] for table in _WRITE_ORDER}
        self._pending = 0
        self.records = self.pseudonymised = self.errors = self.warnings = 0

    def add(
        self, record: PayloadRecord, pseudonym: bytes | None, identity_status: str, record_findings: Sequence[Finding]
    ) -> None:
        ref = record.ref
        if (pseudonym is None) == (identity_status == IDENTITY_OK):
            raise ValueError(f"record {ref}: a pseudonym goes with identity status 'ok', a refusal code with none")
        sid, day, rows, b = self._sid, self._days, self._rows, record.background
        rows["persons"].append(
            (
                sid,
                ref,
                pseudonym,
                None if pseudonym is None else self._key_version,
                identity_status,
                record.birth_year,
                None if record.sex is None else record.sex.value,
                record.fid_type.value,
                b.housing,
                b.household,
                b.unpaid_help,
                b.assisted_communication,
                day[b.death_date],
                day[b.assessed_by_doctor],
                day[b.assessed_by_dentist],
                b.individual_plan,
            )
        )
        # List comprehensions, not generators: no generator frame resumed per row.
        rows["services"] += [
            (
                sid,
                ref,
                s.tjeneste_id,
                s.tjeneste_type,
                day[s.decision_date],
                day[s.start_date],
                day[s.end_date],
                s.hours_per_week,
                s.org_nr,
                day[s.application_date],
                s.event_type,
            )
            for s in record.services
        ]
        if record.function_scores:
            rows["function_assessments"] += _assessment_rows(sid, ref, record.function_scores, day, rows)
        if record.diagnoses:
            rows["diagnoses"] += [(sid, ref, d.system.value, d.code) for d in record.diagnoses]
        if record.refusals:
            rows["refusals"] += [
                (sid, ref, r.tjeneste_type, day[r.application_date], day[r.decision_date]) for r in record.refusals
            ]
        if record.complaints:
            rows["complaints"] += [
                (sid, ref, c.tjeneste_type, day[c.complaint_date], c.outcome) for c in record.complaints
            ]
        if record.coercion:
            rows["coercion_decisions"] += [
                (sid, ref, c.vedtak_id, c.legal_basis, day[c.decision_date], day[c.start_date], day[c.end_date])
                for c in record.coercion
            ]
        for finding in record_findings:
            if finding.ref != ref:
                raise ValueError(f"record {ref}: a finding {finding.code} about record {finding.ref}")
            self.add_finding(ref, finding)
        self.records += 1
        self.pseudonymised += pseudonym is not None
        self._pending += 1
        if self._pending >= self._batch_size:
            self.flush()

    def add_finding(self, ref: str | None, finding: Finding) -> None:
        severity = self._severities.get(finding.code)
        if severity is None:
            severity = str(self._severity_of(finding.code))
            if severity not in SEVERITIES:
                raise ValueError(f"finding {finding.code}: severity {severity!r} is not one of {SEVERITIES}")
            self._severities[finding.code] = severity
        if severity == "error":
            self.errors += 1
        else:
            self.warnings += 1
        self._rows["findings"].append((self._sid, ref, finding.code, severity, finding.field, finding.detail))

    def flush(self) -> None:
        for name, rows in self._rows.items():
            if rows:
                if name != "findings":
                    # In reference order: references are random, and a batch's rows then go into the
                    # (submission_id, ref) indexes in one sweep instead of at random places (about a sixth less
                    # of SQLite's time). The sort is stable, so a person's rows keep their order; findings keep
                    # the order they were found in, which the operator's findings pages show.
                    rows.sort(key=_REF)
                self._insert(name, rows)
                rows.clear()
        self._pending = 0

    def _insert(self, name: str, rows: Sequence[tuple[Any, ...]]) -> None:
        insert_rows(self._conn, _TABLES[name], _COLUMNS[name], rows)


def insert_rows(conn: Connection, table: Table, columns: tuple[str, ...], rows: Sequence[tuple[Any, ...]]) -> None:
    """``rows`` (tuples in ``columns``' order) into ``table`` on the transaction's own connection, the fastest way
    the driver has: ``COPY`` on psycopg, the ``sqlite3`` cursor's ``executemany`` on pysqlite (the rows' dates
    already text: :func:`days_for`), SQLAlchemy's executemany otherwise."""
    dbapi = conn.connection.driver_connection
    if conn.dialect.driver == "pysqlite":
        assert isinstance(dbapi, sqlite3.Connection)
        sqlite_cursor = dbapi.cursor()
        try:
            placeholders = ", ".join("?" * len(columns))
            statement = f'INSERT INTO "{table.name}" ({", ".join(columns)}) VALUES ({placeholders})'  # noqa: S608
            sqlite_cursor.executemany(statement, rows)  # the table's own column names, never data
        finally:
            sqlite_cursor.close()
    elif conn.dialect.driver == "psycopg":
        copy_rows(dbapi, table.name, columns, rows)  # COPY, in this transaction
    else:  # any other driver: SQLAlchemy's executemany
        conn.execute(table.insert(), [dict(zip(columns, row, strict=True)) for row in rows])


def days_for(conn: Connection) -> dict[Any, Any]:
    """The ``days[date]`` mapping :func:`insert_rows` wants for ``conn``'s driver: text on pysqlite, else the date."""
    return _SqliteDates() if conn.dialect.driver == "pysqlite" else _SameDates()


_TABLES: Final = {table.name: table for table in _WRITE_ORDER}

# Each variable's place among the score columns of a function_assessments row.
_SCORE_INDEX: Final = {variable: i for i, variable in enumerate(FUNCTION_COLUMNS)}
_NO_SCORES: Final = (None,) * len(FUNCTION_COLUMNS)


def _assessment_rows(
    sid: str, ref: str, scores: Sequence[FunctionScore], day: dict[Any, Any], rows: dict[str, list[tuple[Any, ...]]]
) -> list[tuple[Any, ...]]:
    """A person's function scores as ``function_assessments`` rows: one per assessment day, a score column per
    variable; a variable scored again on a day it already has goes into the day's next row (``ordinal``). A
    variable without a column goes to ``rows["other_function_scores"]``, a row per score."""
    # The common case first, in one pass: one day, each variable at most once (what a valid export holds).
    first = scores[0].date
    row: list[int | None] = list(_NO_SCORES)
    index = _SCORE_INDEX
    for score in scores:
        column = index.get(score.variable)
        if column is None or row[column] is not None or score.date != first:
            return _assessment_rows_by_day(sid, ref, scores, day, rows)
        row[column] = score.score
    return [(sid, ref, day[first], 0, *row)]


def _assessment_rows_by_day(
    sid: str, ref: str, scores: Sequence[FunctionScore], day: dict[Any, Any], rows: dict[str, list[tuple[Any, ...]]]
) -> list[tuple[Any, ...]]:
    """:func:`_assessment_rows` for any scores: several days, a variable again, a variable without a column."""
    days: dict[dt.date, list[list[int | None]]] = {}
    for score in scores:
        column = _SCORE_INDEX.get(score.variable)
        if column is None:
            rows["other_function_scores"].append((sid, ref, score.variable, score.score, day[score.date]))
            continue
        day_rows = days.get(score.date)
        if day_rows is None:
            day_rows = days[score.date] = [list(_NO_SCORES)]
        for row in day_rows:
            if row[column] is None:
                break
        else:
            row = list(_NO_SCORES)
            day_rows.append(row)
        row[column] = score.score
    return [
        (sid, ref, day[assessed_on], ordinal, *row)
        for assessed_on, day_rows in days.items()
        for ordinal, row in enumerate(day_rows)
    ]
