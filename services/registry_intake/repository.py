"""Storing submissions: one transaction per decision, the database decides replays and order.

:meth:`SubmissionRepository.store` makes one of four decisions for an incoming submission:

* **replay**: the message id is already known (the primary key of ``submissions`` decides, not a cache):
  :class:`ReplayedMessage`, nothing changes;
* **stale**: the active (or held) submission of the same municipality and year has the same or a higher sequence: the
  incoming one is recorded as ``refused`` (``stale-sequence``, no records) in a transaction of its own, and
  :class:`StaleSubmission` is raised; the active data is untouched;
* **accept**: the incoming submission becomes the active one, its records and findings are bulk inserted, the
  previous active one is marked ``superseded`` and its records and findings deleted (its row keeps its counts),
  all in one transaction. If anything fails, including the records iterator itself half-way, everything rolls
  back.
* **hold**: as accept, but the incoming submission declares fewer persons than ``hold_below`` times the active
  one's: its records are stored under it with status ``held`` and nothing else changes. A registry must not lose
  a year to one wrong file: the active submission stays active until :meth:`SubmissionRepository.confirm`
  applies the held one (the municipality's explicit, signed decision), in one transaction like accept.

A held submission that a newer one overtakes (stored or held) is refused (``held-discarded``, audit event
``refused``) and its records deleted; one that is not newer than a held one is stale. So at most one submission per
municipality and year waits for confirmation, and it is the newest.

Submissions of one municipality and year serialise on their ``municipality_years`` row (``SELECT ... FOR
UPDATE`` on PostgreSQL; on SQLite every write transaction begins with ``BEGIN IMMEDIATE``).

Records are written in batches of persons with their child rows and findings, never one ORM object per row:
on PostgreSQL with ``COPY`` (about three times executemany there), on SQLite with the ``sqlite3`` cursor's
``executemany`` on the transaction's own connection (about 1.75 times ``Connection.execute(table.insert(),
dicts)``: no per-row dict and type processing). That path bypasses SQLAlchemy's types, so the rows carry
dates as ``YYYY-MM-DD`` text, exactly what SQLAlchemy's SQLite ``Date`` stores, and reads through SQLAlchemy
still give ``date`` objects.

The statistics queries (``findings_by_rule``, ``records_per_service_type``, ``persons_per_year``) count the
active submissions only (a superseded one has no rows left to count anyway).
"""

from __future__ import annotations

import builtins
import datetime as dt
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import psycopg
from psycopg import sql
from sqlalchemy import Connection, Engine, Row, distinct, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from services.kit.audit_log import AuditLog
from services.kit.database import READ_ONLY
from shared.audit import FactValue, identity_safe
from shared.iplos.model import Finding, PayloadRecord

from .models import (
    IDENTITY_OK,
    REFUSAL_HELD_DISCARDED,
    REFUSAL_STALE_SEQUENCE,
    SEVERITIES,
    SubmissionStatus,
    coercion_decisions,
    complaints,
    diagnoses,
    findings,
    function_scores,
    municipality_years,
    persons,
    refusals,
    sealed_reports,
    services,
    submissions,
)

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "IncomingSubmission",
    "NotHeld",
    "ReplayedMessage",
    "RuleCount",
    "ServiceTypeCount",
    "SeverityOf",
    "StaleSubmission",
    "StoredFinding",
    "StoredRecord",
    "StoredSubmission",
    "SubmissionConflict",
    "SubmissionRepository",
    "YearCount",
]

#: Persons per bulk insert (with about 25 child rows each).
DEFAULT_BATCH_SIZE: Final = 2000

#: What :meth:`SubmissionRepository.store` yields per record: the record, its pseudonym (None when the TPF
#: refused the identity number), the identity status (``"ok"`` or the TPF's refusal code) and the logical
#: controls' findings about the record.
StoredRecord = tuple[PayloadRecord, bytes | None, str, Sequence[Finding]]

#: The severity (``"error"`` or ``"warning"``) of a control code, e.g. ``lambda code: control(code).severity``.
SeverityOf = Callable[[str], str]


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
    bydel_nr: str | None = None
    # For the audit log: the TPF's sealed pseudonyms and its signed delivery header, by digest.
    pseudonyms_sha256: str | None = None
    delivery_sha256: str | None = None
    #: The person count the signed header declares (the records are checked against it while they stream):
    #: what the hold rule compares with the active submission before anything is written.
    declared_records: int | None = None


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
    bydel_nr: str | None
    #: Findings stored with the submission, and how many of them are errors and warnings. 0 for a refused
    #: submission; None for one stored before the registry kept findings (it was never controlled).
    finding_count: int | None
    error_count: int | None
    warning_count: int | None


@dataclass(frozen=True)
class StoredFinding:
    """A finding as stored: ``ref`` None for a finding about the whole submission."""

    ref: str | None
    code: str
    severity: str
    field: str | None
    detail: str | None


@dataclass(frozen=True)
class RuleCount:
    """How many findings a rule (control code) has, in how many submissions."""

    code: str
    findings: int
    submissions: int


@dataclass(frozen=True)
class ServiceTypeCount:
    """Person records with at least one service line of the type, and the number of service lines."""

    tjeneste_type: int
    persons: int
    services: int


@dataclass(frozen=True)
class YearCount:
    year: int
    persons: int


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


class NotHeld(SubmissionConflict):
    """A confirmation for a submission that is not (or no longer) held; ``submission`` is what it is now."""

    def __init__(self, submission: StoredSubmission) -> None:
        super().__init__(f"message {submission.message_id} is not held (status {submission.status})")
        self.submission = submission


class _Duplicate(Exception):
    """Internal: inserting the submission row violated a constraint (normally: its id is already known)."""

    def __init__(self, error: IntegrityError) -> None:
        super().__init__()
        self.error = error


_SUBMISSION_COLUMNS: Final = tuple(submissions.c[name] for name in StoredSubmission.__dataclass_fields__)

# Children before persons when deleting; the reverse when inserting.
_PERSON_CHILDREN: Final = (services, function_scores, diagnoses, refusals, complaints, coercion_decisions)


def _facts(incoming: IncomingSubmission) -> dict[str, FactValue]:
    return {
        "municipality": incoming.municipality,
        "year": incoming.year,
        "sequence": identity_safe(incoming.sequence),
        "submission_sha256": incoming.header_sha256,
        "payload_sha256": incoming.payload_sha256,
        "pseudonyms_sha256": incoming.pseudonyms_sha256,
        "delivery_sha256": incoming.delivery_sha256,
        "key_version": incoming.pseudonym_key_version,
    }


def _no_severity(code: str) -> str:
    raise ValueError(f"finding {code!r}: store() needs severity_of to store findings")


class SubmissionRepository:
    def __init__(self, engine: Engine, *, batch_size: int = DEFAULT_BATCH_SIZE, audit: AuditLog | None = None) -> None:
        """``audit``: the service's audit log, appended to in the transaction of every decision (stored,
        superseded, refused as stale), so the trail and the data cannot disagree."""
        if batch_size < 1:
            raise ValueError("batch_size must be positive")
        self._engine = engine
        self._audit = audit
        self._reader = engine.execution_options(**READ_ONLY)
        self._batch_size = batch_size

    # -- writing -------------------------------------------------------------------------------------------

    def store(
        self,
        incoming: IncomingSubmission,
        records: Iterable[StoredRecord],
        submission_findings: Sequence[Finding] = (),
        *,
        severity_of: SeverityOf = _no_severity,
        hold_below: float = 0.0,
    ) -> StoredSubmission:
        """Store ``incoming`` with its records and findings; make it the active submission of its year, or hold
        it when it declares fewer persons than ``hold_below`` times the active submission's (0 never holds).

        ``records`` yields (record, pseudonym or None, identity status: ``"ok"`` or the TPF's refusal code,
        findings about the record); every finding there must name the record (``finding.ref == record.ref``).
        ``submission_findings`` are the findings about the submission as a whole (``ref`` None) or across
        records (``ref`` naming a record of this submission): they are read after ``records`` is exhausted,
        so the caller may append to the sequence while it streams. ``severity_of`` gives the severity of a
        control code (called once per code and store; stored with each finding): the repository knows no
        catalogue. Findings without it are a ``ValueError``.

        Raises :class:`ReplayedMessage` or :class:`StaleSubmission` (see the module docstring).
        """
        stale_against: int | None = None
        try:
            with self._engine.begin() as conn:
                active_id, active_sequence = self._lock_municipality_year(conn, incoming)
                # A held submission is newer than the active one: one that is not newer than it is stale too
                # (it never replaces what the municipality sent after it, and at most one waits for confirmation).
                newest = max(active_sequence or 0, self._newest_held(conn, incoming.municipality, incoming.year))
                if newest and newest >= incoming.sequence:
                    # Committed on its own: the refusal is an audit fact, no data changes.
                    self._insert_submission(
                        conn, incoming, SubmissionStatus.REFUSED, REFUSAL_STALE_SEQUENCE, supersedes=None
                    )
                    stale_against = newest
                    self._record(conn, "refused", incoming.message_id, _facts(incoming) | {"problem": "stale-sequence"})
                elif self._drops_sharply(conn, incoming, active_id, hold_below):
                    self._hold(conn, incoming, records, submission_findings, severity_of)
                else:
                    self._replace(conn, incoming, active_id, records, submission_findings, severity_of)
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
                    bydel_nr=incoming.bydel_nr,
                    pseudonyms_sha256=incoming.pseudonyms_sha256,
                    delivery_sha256=incoming.delivery_sha256,
                    finding_count=0,
                    error_count=0,
                    warning_count=0,
                )
            )
        except IntegrityError as exc:
            raise _Duplicate(exc) from exc

    def _drops_sharply(
        self, conn: Connection, incoming: IncomingSubmission, active_id: str | None, hold_below: float
    ) -> bool:
        if active_id is None or hold_below <= 0 or incoming.declared_records is None:
            return False
        active_records: int = conn.execute(
            select(submissions.c.record_count).where(submissions.c.message_id == active_id)
        ).scalar_one()
        return incoming.declared_records < hold_below * active_records

    def _replace(
        self,
        conn: Connection,
        incoming: IncomingSubmission,
        previous_id: str | None,
        records: Iterable[StoredRecord],
        submission_findings: Sequence[Finding],
        severity_of: SeverityOf,
    ) -> None:
        new_id = incoming.message_id
        if previous_id is not None:
            # Free the one-active slot first; point at the successor once it exists (foreign key).
            self._set_submission(conn, previous_id, status=SubmissionStatus.SUPERSEDED)
        self._insert_submission(conn, incoming, SubmissionStatus.ACTIVE, None, supersedes=previous_id)
        counts = self._write_records(conn, incoming, records, submission_findings, severity_of)
        self._activate(conn, incoming.municipality, incoming.year, new_id, incoming.sequence, previous_id)
        self._record(conn, "stored", new_id, _facts(incoming) | counts | {"supersedes": previous_id})

    def _hold(
        self,
        conn: Connection,
        incoming: IncomingSubmission,
        records: Iterable[StoredRecord],
        submission_findings: Sequence[Finding],
        severity_of: SeverityOf,
    ) -> None:
        self._insert_submission(conn, incoming, SubmissionStatus.HELD, None, supersedes=None)
        self._discard_held(conn, incoming.municipality, incoming.year, incoming.sequence, incoming.message_id)
        counts = self._write_records(conn, incoming, records, submission_findings, severity_of)
        self._record(conn, "held", incoming.message_id, _facts(incoming) | counts)

    def _write_records(
        self,
        conn: Connection,
        incoming: IncomingSubmission,
        records: Iterable[StoredRecord],
        submission_findings: Sequence[Finding],
        severity_of: SeverityOf,
    ) -> dict[str, FactValue]:
        """Bulk insert the records and findings under the (inserted) submission row and set its counts; return
        the counts for the audit facts."""
        writer = _Writer(conn, incoming, severity_of, self._batch_size)
        for record, pseudonym, identity_status, record_findings in records:
            writer.add(record, pseudonym, identity_status, record_findings)
        for finding in submission_findings:
            writer.add_finding(finding.ref, finding)
        writer.flush()
        self._set_submission(
            conn,
            incoming.message_id,
            record_count=writer.records,
            pseudonymised_count=writer.pseudonymised,
            identity_refused_count=writer.records - writer.pseudonymised,
            finding_count=writer.errors + writer.warnings,
            error_count=writer.errors,
            warning_count=writer.warnings,
        )
        return {
            "records": writer.records,
            "pseudonymised": writer.pseudonymised,
            "refused": writer.records - writer.pseudonymised,
        }

    def _activate(
        self, conn: Connection, municipality: str, year: int, new_id: str, sequence: int, previous_id: str | None
    ) -> None:
        """Make ``new_id`` (already ``active``) the year's active submission: retire the previous one's records and
        discard any held submission it overtakes."""
        if previous_id is not None:
            self._set_submission(conn, previous_id, superseded_by=new_id)
            self._delete_records(conn, previous_id)
        self._discard_held(conn, municipality, year, sequence, new_id)
        conn.execute(
            update(municipality_years)
            .where(municipality_years.c.municipality == municipality, municipality_years.c.year == year)
            .values(active_message_id=new_id, active_sequence=sequence)
        )
        if previous_id is not None:
            self._record(
                conn, "superseded", previous_id, {"municipality": municipality, "year": year, "superseded_by": new_id}
            )

    @staticmethod
    def _newest_held(conn: Connection, municipality: str, year: int) -> int:
        """The sequence of the year's held submission (0 if none)."""
        newest = conn.execute(
            select(func.max(submissions.c.sequence)).where(
                submissions.c.municipality == municipality,
                submissions.c.year == year,
                submissions.c.status == SubmissionStatus.HELD,
            )
        ).scalar_one()
        return int(newest or 0)

    def _discard_held(self, conn: Connection, municipality: str, year: int, sequence: int, newer_id: str) -> None:
        """A held submission older than ``sequence`` will never be applied: it is refused (``held-discarded``),
        its records deleted, and its receipt says so from now on."""
        overtaken = conn.execute(
            select(submissions.c.message_id).where(
                submissions.c.municipality == municipality,
                submissions.c.year == year,
                submissions.c.status == SubmissionStatus.HELD,
                submissions.c.sequence < sequence,
            )
        ).scalars()
        for held_id in list(overtaken):
            self._set_submission(
                conn,
                held_id,
                status=SubmissionStatus.REFUSED,
                refusal_reason=REFUSAL_HELD_DISCARDED,
                superseded_by=newer_id,
            )
            self._delete_records(conn, held_id)
            self._record(
                conn,
                "refused",
                held_id,
                {
                    "municipality": municipality,
                    "year": year,
                    "problem": REFUSAL_HELD_DISCARDED,
                    "superseded_by": newer_id,
                },
            )

    def confirm(self, message_id: str, confirmation_sha256: str) -> StoredSubmission:
        """Apply a held submission: it becomes the active one and the previous active one is superseded, its
        records deleted, in one transaction (the seed's rule: a new submission replaces the old year's data).

        Raises :class:`NotHeld` if the submission is not held (already applied, discarded, unknown: ``KeyError``),
        and :class:`StaleSubmission` if a submission with the same or a higher sequence became active since (the
        held one is then refused as stale, its records deleted).
        """
        stale_against: int | None = None
        with self._engine.begin() as conn:
            row = conn.execute(
                select(
                    *_SUBMISSION_COLUMNS,
                    submissions.c.payload_sha256,
                    submissions.c.pseudonyms_sha256,
                    submissions.c.delivery_sha256,
                    submissions.c.pseudonym_key_version,
                ).where(submissions.c.message_id == message_id)
            ).one_or_none()
            if row is None:
                raise KeyError(message_id)
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
            previous_id, active_sequence = self._lock_municipality_year(conn, incoming)
            status = conn.execute(
                select(submissions.c.status).where(submissions.c.message_id == message_id)
            ).scalar_one()
            if status != SubmissionStatus.HELD:
                pass  # raised below, outside the transaction, with the row as it is
            elif active_sequence is not None and active_sequence >= row.sequence:
                self._set_submission(
                    conn, message_id, status=SubmissionStatus.REFUSED, refusal_reason=REFUSAL_STALE_SEQUENCE
                )
                self._delete_records(conn, message_id)
                self._record(conn, "refused", message_id, _facts(incoming) | {"problem": "stale-sequence"})
                stale_against = active_sequence
            else:
                if previous_id is not None:
                    self._set_submission(conn, previous_id, status=SubmissionStatus.SUPERSEDED)
                self._set_submission(conn, message_id, status=SubmissionStatus.ACTIVE, supersedes=previous_id)
                self._activate(conn, row.municipality, row.year, message_id, row.sequence, previous_id)
                counts: dict[str, FactValue] = {
                    "records": row.record_count,
                    "pseudonymised": row.pseudonymised_count,
                    "refused": row.identity_refused_count,
                }
                self._record(
                    conn,
                    "stored",
                    message_id,
                    _facts(incoming) | counts | {"supersedes": previous_id, "confirmation_sha256": confirmation_sha256},
                )
        stored = self.get(message_id)
        assert stored is not None
        if stale_against is not None:
            raise StaleSubmission(stale_against, stored)
        if status != SubmissionStatus.HELD:
            raise NotHeld(stored)
        return stored

    def _record(self, conn: Connection, event: str, message_id: str, facts: dict[str, FactValue]) -> None:
        if self._audit is not None:
            self._audit.append(conn, event, message_id, facts)

    @staticmethod
    def _set_submission(conn: Connection, message_id: str, **values: Any) -> None:
        conn.execute(update(submissions).where(submissions.c.message_id == message_id).values(**values))

    @staticmethod
    def _delete_records(conn: Connection, message_id: str) -> None:
        # Findings and children first, set-based; the cascade from persons then finds nothing left to do.
        for table in (findings, *_PERSON_CHILDREN, persons):
            conn.execute(table.delete().where(table.c.submission_id == message_id))
        # Its sealed report goes with the findings it holds (a superseded submission's report is not served).
        conn.execute(sealed_reports.delete().where(sealed_reports.c.message_id == message_id))

    def keep_sealed_report(self, message_id: str, recipient_kid: str, body: bytes) -> bytes | None:
        """Keep ``body``, the submission's report sealed for the key ``recipient_kid``, unless one sealed for that
        key is kept already; return the one kept. None, and nothing kept, if the submission was superseded or
        refused meanwhile. The submission's row is locked, so a report and a replacement do not cross."""
        with self._engine.begin() as conn:
            status = conn.execute(
                select(submissions.c.status).where(submissions.c.message_id == message_id).with_for_update()
            ).scalar_one_or_none()
            if status is None or status in (SubmissionStatus.SUPERSEDED, SubmissionStatus.REFUSED):
                return None
            kept = conn.execute(
                select(sealed_reports.c.recipient_kid, sealed_reports.c.body).where(
                    sealed_reports.c.message_id == message_id
                )
            ).first()
            if kept is not None and kept.recipient_kid == recipient_kid:
                return bytes(kept.body)  # another request sealed it first: its report is the one served
            values = {"recipient_kid": recipient_kid, "body": body, "sealed_at": dt.datetime.now(dt.UTC)}
            if kept is None:
                conn.execute(sealed_reports.insert().values(message_id=message_id, **values))
            else:  # sealed for a key the municipality no longer has
                conn.execute(sealed_reports.update().where(sealed_reports.c.message_id == message_id).values(**values))
        return body

    # -- reading -------------------------------------------------------------------------------------------

    def sealed_report(self, message_id: str) -> tuple[str, bytes] | None:
        """The kept sealed report of the submission: (the key id it is sealed for, the answer's bytes)."""
        with self._reader.connect() as conn:
            row = conn.execute(
                select(sealed_reports.c.recipient_kid, sealed_reports.c.body).where(
                    sealed_reports.c.message_id == message_id
                )
            ).first()
        return None if row is None else (row.recipient_kid, bytes(row.body))

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

    def findings(self, message_id: str) -> builtins.list[StoredFinding]:
        """The submission's findings: those about the whole submission first, then in the order of its records
        (the order they were stored in). Empty once the submission is superseded."""
        query = (
            select(findings.c.ref, findings.c.code, findings.c.severity, findings.c.field, findings.c.detail)
            .where(findings.c.submission_id == message_id)
            .order_by(findings.c.ref.is_not(None), findings.c.id)
        )
        with self._reader.connect() as conn:
            return [StoredFinding(**row._asdict()) for row in conn.execute(query)]

    def finding_counts(self, message_id: str) -> dict[str, int]:
        """Findings per control code of the submission, by code."""
        query = (
            select(findings.c.code, func.count())
            .where(findings.c.submission_id == message_id)
            .group_by(findings.c.code)
            .order_by(findings.c.code)
        )
        with self._reader.connect() as conn:
            return {code: int(count) for code, count in conn.execute(query)}

    def findings_by_rule(self, year: int | None = None, municipality: str | None = None) -> builtins.list[RuleCount]:
        """Per control code over the active submissions (of ``year`` and ``municipality`` if given): how many
        findings, in how many submissions. By code."""
        query = (
            select(findings.c.code, func.count(), func.count(distinct(findings.c.submission_id)))
            .join(submissions, submissions.c.message_id == findings.c.submission_id)
            .where(*_active(year, municipality))
            .group_by(findings.c.code)
            .order_by(findings.c.code)
        )
        with self._reader.connect() as conn:
            return [RuleCount(code, int(n), int(subs)) for code, n, subs in conn.execute(query)]

    def records_per_service_type(self, municipality: str | None, year: int) -> builtins.list[ServiceTypeCount]:
        """Per service type over the active submissions of ``year`` (in ``municipality``, or everywhere): person
        records with at least one service line of the type, and service lines. By service type."""
        # Per submission first: a record reference is unique only within its submission.
        per_submission = (
            select(
                services.c.tjeneste_type,
                func.count(distinct(services.c.ref)).label("persons"),
                func.count().label("services"),
            )
            .join(submissions, submissions.c.message_id == services.c.submission_id)
            .where(*_active(year, municipality))
            .group_by(services.c.submission_id, services.c.tjeneste_type)
            .subquery()
        )
        query = (
            select(
                per_submission.c.tjeneste_type,
                func.sum(per_submission.c.persons),
                func.sum(per_submission.c.services),
            )
            .group_by(per_submission.c.tjeneste_type)
            .order_by(per_submission.c.tjeneste_type)
        )
        with self._reader.connect() as conn:
            return [ServiceTypeCount(int(t), int(p), int(s)) for t, p, s in conn.execute(query)]

    def persons_per_year(self, municipality: str | None = None) -> builtins.list[YearCount]:
        """Person records per reporting year over the active submissions (of ``municipality`` if given).

        A person reported by two municipalities in one year counts twice: these are records, not people.
        """
        query = (
            select(submissions.c.year, func.sum(submissions.c.record_count))
            .where(*_active(None, municipality))
            .group_by(submissions.c.year)
            .order_by(submissions.c.year)
        )
        with self._reader.connect() as conn:
            return [YearCount(int(year), int(count)) for year, count in conn.execute(query)]


def _active(year: int | None, municipality: str | None) -> builtins.list[Any]:
    conditions: builtins.list[Any] = [submissions.c.status == SubmissionStatus.ACTIVE]
    if year is not None:
        conditions.append(submissions.c.year == year)
    if municipality is not None:
        conditions.append(submissions.c.municipality == municipality)
    return conditions


def _stored(row: Row[Any]) -> StoredSubmission:
    return StoredSubmission(**row._asdict())


# -- bulk writing ----------------------------------------------------------------------------------------------

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
    "function_scores": ("submission_id", "ref", "variable", "score", "assessed_on"),
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

# Insertion order: persons first, the rows that refer to them after.
_WRITE_ORDER: Final = (persons, *_PERSON_CHILDREN, findings)

# Built from the constants above only, never from data.
_SQLITE_INSERTS: Final = {
    name: f'INSERT INTO "{name}" ({", ".join(columns)}) VALUES ({", ".join("?" * len(columns))})'  # noqa: S608
    for name, columns in _COLUMNS.items()
}


def _sqlite_date(value: dt.date | None) -> str | None:
    """A date as SQLAlchemy's SQLite ``Date`` stores it (``%04d-%02d-%02d``, which ``isoformat`` is)."""
    return None if value is None else value.isoformat()


def _same(value: dt.date | None) -> dt.date | None:
    return value


class _Writer:
    """Turns records into rows and writes them ``batch_size`` persons at a time, counting as it goes."""

    def __init__(self, conn: Connection, incoming: IncomingSubmission, severity_of: SeverityOf, batch_size: int):
        self._conn = conn
        self._sid = incoming.message_id
        self._key_version = incoming.pseudonym_key_version
        self._severity_of = severity_of
        self._severities: dict[str, str] = {}
        self._batch_size = batch_size
        self._raw_sqlite = conn.dialect.driver == "pysqlite"
        self._day: Callable[[dt.date | None], Any] = _sqlite_date if self._raw_sqlite else _same
        self._rows: dict[str, builtins.list[tuple[Any, ...]]] = {table.name: [] for table in _WRITE_ORDER}
        self._pending = 0
        self.records = self.pseudonymised = self.errors = self.warnings = 0

    def add(
        self, record: PayloadRecord, pseudonym: bytes | None, identity_status: str, record_findings: Sequence[Finding]
    ) -> None:
        ref = record.ref
        if (pseudonym is None) == (identity_status == IDENTITY_OK):
            raise ValueError(f"record {ref}: a pseudonym goes with identity status 'ok', a refusal code with none")
        sid, day, rows, b = self._sid, self._day, self._rows, record.background
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
                day(b.death_date),
                day(b.assessed_by_doctor),
                day(b.assessed_by_dentist),
                b.individual_plan,
            )
        )
        rows["services"].extend(
            (
                sid,
                ref,
                s.tjeneste_id,
                s.tjeneste_type,
                day(s.decision_date),
                day(s.start_date),
                day(s.end_date),
                s.hours_per_week,
                s.org_nr,
                day(s.application_date),
                s.event_type,
            )
            for s in record.services
        )
        rows["function_scores"].extend((sid, ref, f.variable, f.score, day(f.date)) for f in record.function_scores)
        rows["diagnoses"].extend((sid, ref, d.system.value, d.code) for d in record.diagnoses)
        if record.refusals:
            rows["refusals"].extend(
                (sid, ref, r.tjeneste_type, day(r.application_date), day(r.decision_date)) for r in record.refusals
            )
        if record.complaints:
            rows["complaints"].extend(
                (sid, ref, c.tjeneste_type, day(c.complaint_date), c.outcome) for c in record.complaints
            )
        if record.coercion:
            rows["coercion_decisions"].extend(
                (sid, ref, c.vedtak_id, c.legal_basis, day(c.decision_date), day(c.start_date), day(c.end_date))
                for c in record.coercion
            )
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
                self._insert(name, rows)
                rows.clear()
        self._pending = 0

    def _insert(self, name: str, rows: Sequence[tuple[Any, ...]]) -> None:
        conn = self._conn
        dbapi = conn.connection.driver_connection
        columns = _COLUMNS[name]
        if self._raw_sqlite:
            # Straight to the sqlite3 connection this transaction runs on (dates are already text).
            assert isinstance(dbapi, sqlite3.Connection)
            sqlite_cursor = dbapi.cursor()
            try:
                sqlite_cursor.executemany(_SQLITE_INSERTS[name], rows)
            finally:
                sqlite_cursor.close()
        elif conn.dialect.driver == "psycopg":
            # COPY: about 3x executemany on PostgreSQL. Same DBAPI connection, so the same transaction.
            assert isinstance(dbapi, psycopg.Connection)
            statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
                sql.Identifier(name), sql.SQL(", ").join(map(sql.Identifier, columns))
            )
            with dbapi.cursor() as cursor, cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row(row)
        else:  # any other driver: SQLAlchemy's executemany
            conn.execute(_TABLES[name].insert(), [dict(zip(columns, row, strict=True)) for row in rows])


_TABLES: Final = {table.name: table for table in _WRITE_ORDER}
