"""Every statement the registry reads with: submissions, findings, statistics, the audit trail's rows.

Plain SQLAlchemy Core over the models, on SQLite and PostgreSQL alike, each on a read-only connection. The
statistics count the active submissions only (a superseded one has no rows left to count anyway). Nothing
here selects a pseudonym or any person-level column but a finding's record reference (random, the registry's
own) with its field and detail (which the controls never fill with an identity number or a pseudonym).

The shaping of what is read into documents (suppression, deadlines, sorting) is the rest of this package's
job, and pure; :func:`load_submission` is also what the write repository reads a decision back with.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Connection, Engine, Row, distinct, func, select

from services.kit.database import READ_ONLY
from services.registry_intake.models import (
    SubmissionStatus,
    audit,
    findings,
    persons,
    sealed_reports,
    services,
    submissions,
)
from services.registry_intake.read.comparison_data import MunicipalityYear, year_statistics
from services.registry_intake.read.flows import flows_between_years
from services.registry_intake.read.register_status import register_year
from services.registry_intake.schemas import RegisterYear
from services.registry_intake.submissions import (
    RuleCount,
    ServiceTypeCount,
    StoredFinding,
    StoredSubmission,
    SubmissionExtras,
    YearCount,
)
from shared.iplos.controls import NEVER_RESIDENT

__all__ = [
    "AUDIT_TRAIL_LIMIT",
    "SUBMISSION_COLUMNS",
    "AuditRow",
    "CheckpointRow",
    "RuleTotals",
    "SubmissionQueries",
    "SubmissionRule",
    "load_submission",
    "stored_submission",
]

#: Audit entries shown about one message (a message has a handful: stored, superseded, refused...).
AUDIT_TRAIL_LIMIT: Final = 100

SUBMISSION_COLUMNS: Final = tuple(submissions.c[name] for name in StoredSubmission.__dataclass_fields__)
_FINDING_COLUMNS: Final = (findings.c.ref, findings.c.code, findings.c.severity, findings.c.field, findings.c.detail)
#: Findings about the whole submission first, then in the order of its records (the order they were stored in).
_STORED_ORDER: Final = (findings.c.ref.is_not(None), findings.c.id)


def stored_submission(row: Row[*tuple[Any, ...]]) -> StoredSubmission:
    """A :class:`StoredSubmission` from a row holding (at least) :data:`SUBMISSION_COLUMNS`."""
    values = row._asdict()
    fields = {name: values[name] for name in StoredSubmission.__dataclass_fields__}
    return StoredSubmission(**fields | {"status": SubmissionStatus(values["status"])})


def load_submission(conn: Connection, message_id: str) -> StoredSubmission | None:
    """The submission row ``message_id``, read on ``conn`` (the write repository's transaction, or a reader)."""
    row = conn.execute(select(*SUBMISSION_COLUMNS).where(submissions.c.message_id == message_id)).one_or_none()
    return None if row is None else stored_submission(row)


@dataclass(frozen=True)
class RuleTotals:
    """Per (control code, active submission) of a year: findings and persons with one; the year's active
    submissions, their records, and the municipality of each."""

    per_submission: list[tuple[str, str, int, int]]
    """(code, submission id, findings, persons) rows."""
    active_submissions: int
    active_records: int
    municipality_of: dict[str, str]


@dataclass(frozen=True)
class SubmissionRule:
    """One rule's findings in one submission: code, severity as stored, findings and records."""

    code: str
    severity: str
    findings: int
    records: int


@dataclass(frozen=True)
class AuditRow:
    index: int
    entry: str


@dataclass(frozen=True)
class CheckpointRow:
    body: str
    signature: str


class SubmissionQueries:
    """The registry's read side, over one engine (read-only connections)."""

    def __init__(self, engine: Engine) -> None:
        self._reader = engine.execution_options(**READ_ONLY)

    # -- submissions ---------------------------------------------------------------------------------------

    def get(self, message_id: str) -> StoredSubmission | None:
        with self._reader.connect() as conn:
            return load_submission(conn, message_id)

    def list(self, municipality: str | None = None, year: int | None = None) -> builtins.list[StoredSubmission]:
        """Submissions, newest first (by time received, then sequence)."""
        query = select(*SUBMISSION_COLUMNS).order_by(
            submissions.c.received_at.desc(), submissions.c.sequence.desc(), submissions.c.message_id
        )
        if municipality is not None:
            query = query.where(submissions.c.municipality == municipality)
        if year is not None:
            query = query.where(submissions.c.year == year)
        with self._reader.connect() as conn:
            return [stored_submission(row) for row in conn.execute(query)]

    def year_submissions(self, year: int) -> builtins.list[StoredSubmission]:
        """Every submission row of ``year`` (active, held, superseded, refused), oldest first."""
        query = (
            select(*SUBMISSION_COLUMNS)
            .where(submissions.c.year == year)
            .order_by(submissions.c.received_at, submissions.c.sequence, submissions.c.message_id)
        )
        with self._reader.connect() as conn:
            return [stored_submission(row) for row in conn.execute(query)]

    def available_years(self, first: int, last: int) -> builtins.list[int]:
        """Reporting years from ``first`` to ``last`` with at least one submission, newest first."""
        query = (
            select(submissions.c.year)
            .distinct()
            .where(submissions.c.year >= first, submissions.c.year <= last)
            .order_by(submissions.c.year.desc())
        )
        with self._reader.connect() as conn:
            return [int(year) for year in conn.execute(query).scalars()]

    def extras(self, message_id: str) -> SubmissionExtras:
        """The sender, payload digest and pseudonym key version of a submission that exists."""
        query = select(submissions.c.sender, submissions.c.payload_sha256, submissions.c.pseudonym_key_version).where(
            submissions.c.message_id == message_id
        )
        with self._reader.connect() as conn:
            row = conn.execute(query).one()
        return SubmissionExtras(row.sender, row.payload_sha256, row.pseudonym_key_version)

    def count_records(self, message_id: str) -> int:
        """How many persons are stored for the submission (0 once it is superseded, or if it was refused)."""
        with self._reader.connect() as conn:
            count = conn.execute(
                select(func.count()).select_from(persons).where(persons.c.submission_id == message_id)
            ).scalar_one()
        return int(count)

    def sealed_report(self, message_id: str) -> tuple[str, bytes] | None:
        """The kept sealed report of the submission: (the key id it is sealed for, the answer's bytes)."""
        with self._reader.connect() as conn:
            row = conn.execute(
                select(sealed_reports.c.recipient_kid, sealed_reports.c.body).where(
                    sealed_reports.c.message_id == message_id
                )
            ).first()
        return None if row is None else (row.recipient_kid, bytes(row.body))

    # -- findings of one submission ------------------------------------------------------------------------

    def findings(self, message_id: str) -> builtins.list[StoredFinding]:
        """The submission's findings: those about the whole submission first, then in the order of its records
        (the order they were stored in). Empty once the submission is superseded."""
        query = select(*_FINDING_COLUMNS).where(*_of(message_id)).order_by(*_STORED_ORDER)
        with self._reader.connect() as conn:
            return [StoredFinding(**row._asdict()) for row in conn.execute(query)]

    def findings_page(
        self, message_id: str, code: str | None, offset: int, limit: int
    ) -> tuple[int, builtins.list[StoredFinding]]:
        """How many findings the submission has (of rule ``code`` if given), and ``limit`` of them from
        ``offset``, in stored order."""
        conditions = _of(message_id, code)
        query = select(*_FINDING_COLUMNS).where(*conditions).order_by(*_STORED_ORDER).offset(offset).limit(limit)
        with self._reader.connect() as conn:
            total = conn.execute(select(func.count()).select_from(findings).where(*conditions)).scalar_one()
            rows = [StoredFinding(**row._asdict()) for row in conn.execute(query)]
        return int(total), rows

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

    def never_resident_by_municipality(self, year: int) -> dict[str, int]:
        """The K040 records (a person the register knows who never lived there) of each municipality's active
        submission of ``year``; municipalities without any are left out."""
        query = (
            select(submissions.c.municipality, func.count())
            .select_from(findings)
            .join(submissions, submissions.c.message_id == findings.c.submission_id)
            .where(
                submissions.c.year == year,
                submissions.c.status == SubmissionStatus.ACTIVE.value,
                findings.c.code == NEVER_RESIDENT,
            )
            .group_by(submissions.c.municipality)
        )
        with self._reader.connect() as conn:
            return {municipality: int(count) for municipality, count in conn.execute(query)}

    def rules_of(self, message_id: str) -> builtins.list[SubmissionRule]:
        """The submission's findings per rule and severity: how many, about how many records. By code."""
        query = (
            select(findings.c.code, findings.c.severity, func.count(), func.count(distinct(findings.c.ref)))
            .where(findings.c.submission_id == message_id)
            .group_by(findings.c.code, findings.c.severity)
            .order_by(findings.c.code, findings.c.severity)
        )
        with self._reader.connect() as conn:
            return [
                SubmissionRule(code, severity, int(n), int(refs)) for code, severity, n, refs in conn.execute(query)
            ]

    # -- statistics over the active submissions ------------------------------------------------------------

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

    def rule_totals(self, year: int) -> RuleTotals:
        """What the year's findings-by-rule statistics are made of (see :class:`RuleTotals`)."""
        active = _active(year, None)
        per_submission = (
            select(
                findings.c.code,
                findings.c.submission_id,
                func.count().label("findings"),
                func.count(distinct(findings.c.ref)).label("persons"),
            )
            .join(submissions, submissions.c.message_id == findings.c.submission_id)
            .where(*active)
            .group_by(findings.c.code, findings.c.submission_id)
        )
        totals = select(func.count(), func.coalesce(func.sum(submissions.c.record_count), 0)).where(*active)
        municipality_of = select(submissions.c.message_id, submissions.c.municipality).where(*active)
        with self._reader.connect() as conn:
            grouped = [(r.code, r.submission_id, int(r.findings), int(r.persons)) for r in conn.execute(per_submission)]
            count, records = conn.execute(totals).one()
            municipalities = {row.message_id: row.municipality for row in conn.execute(municipality_of)}
        return RuleTotals(grouped, int(count), int(records), municipalities)

    def flows(self, year: int) -> dict[str, dict[str, int]]:
        """Care recipients of ``year`` against the year before, linked through the register (read/flows.py)."""
        with self._reader.connect() as conn:
            return flows_between_years(conn, year)

    def comparison_data(self, year: int) -> dict[str, MunicipalityYear]:
        """Every municipality's sums for the comparison statistics of ``year`` (read/comparison_data.py)."""
        with self._reader.connect() as conn:
            return year_statistics(conn, year)

    def register_year(self, year: int) -> RegisterYear:
        """The population register's extracts stored for ``year`` (read/register_status.py)."""
        with self._reader.connect() as conn:
            return register_year(conn, year)

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

    # -- the audit log's rows about a message --------------------------------------------------------------

    def audit_rows(self, message_id: str) -> tuple[builtins.list[AuditRow], CheckpointRow | None]:
        """The audit-log entries about the message (the first :data:`AUDIT_TRAIL_LIMIT`, in log order) and the
        latest signed checkpoint, as stored (the caller verifies them)."""
        log, checkpoints = audit.log, audit.checkpoints
        with self._reader.connect() as conn:
            rows = conn.execute(
                select(log.c.idx, log.c.entry)
                .where(log.c.message_id == message_id)
                .order_by(log.c.idx)
                .limit(AUDIT_TRAIL_LIMIT)
            ).all()
            latest = conn.execute(
                select(checkpoints.c.body, checkpoints.c.signature).order_by(checkpoints.c.tree_size.desc()).limit(1)
            ).first()
        entries = [AuditRow(int(row.idx), str(row.entry)) for row in rows]
        return entries, None if latest is None else CheckpointRow(str(latest.body), str(latest.signature))


def _of(message_id: str, code: str | None = None) -> builtins.list[Any]:
    """The findings of the submission (of rule ``code`` if given)."""
    conditions: builtins.list[Any] = [findings.c.submission_id == message_id]
    if code is not None:
        conditions.append(findings.c.code == code)
    return conditions


def _active(year: int | None, municipality: str | None) -> Sequence[Any]:
    conditions: builtins.list[Any] = [submissions.c.status == SubmissionStatus.ACTIVE]
    if year is not None:
        conditions.append(submissions.c.year == year)
    if municipality is not None:
        conditions.append(submissions.c.municipality == municipality)
    return conditions
