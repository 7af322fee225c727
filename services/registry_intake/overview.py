"""What the registry's operators read: a reporting year's intake, one submission in full, the year's statistics.

Every figure the operator pages and the operator API show comes from the functions here; the pages render
the same documents the API returns (``document()``), so the two cannot disagree.

* **Deadline.** A reporting year's submissions are due by the end of February of the following year,
  Norwegian time: :func:`deadline_for`. A submission received after that is *late*; after it, a municipality
  with nothing stored is *overdue*. "Now" is always passed in (the app's clock), never read here.
* **Status** of a municipality in a year: ``missing`` (no active submission; refused ones store nothing),
  ``received`` (an active submission without findings) or ``findings`` (with findings); and how many times its
  year was replaced (superseded submissions).
* **Small cells.** A figure that counts persons is published only from :data:`SUPPRESSION_THRESHOLD` (5) up:
  1-4 becomes ``None`` (shown as "<5", "skjult"); 0 stays 0. :func:`suppress` is the one rule; it applies to
  the records per service type, the findings by rule across municipalities (and their rates), the records of a
  municipality in the overview and the year's total. A single submission's own counts (its page, as in its
  signed receipt) are the delivery's facts and are shown as they are.
* Nothing here selects a pseudonym or any person-level column but a finding's record reference (random, the
  registry's own) with its field and detail (which the controls never fill with an identity number or a
  pseudonym).

Queries are plain SQLAlchemy Core over the models and run on SQLite and PostgreSQL alike; grouping by day
and by municipality is done in Python over a year's submission rows (a few hundred to a few thousand).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from sqlalchemy import Engine, distinct, func, select

from services.kit.audit_log import AuditLogCorrupt, AuditRangeError
from services.kit.database import READ_ONLY
from services.kit.web import LOCAL_ZONE
from services.registry_intake import service
from services.registry_intake.models import SubmissionStatus, findings, submissions
from services.registry_intake.repository import StoredSubmission, SubmissionRepository
from shared.audit import InvalidAuditData, parse_entry, verify_checkpoint_document, verify_inclusion_document
from shared.envelope import utc_timestamp
from shared.iplos.controls import CATALOGUE, Control
from shared.iplos.model import SERVICE_TYPES
from shared.iplos.municipalities import FIRST_YEAR, municipality_name, valid_municipalities

__all__ = [
    "FIRST_YEAR",
    "LAST_YEAR",
    "MESSAGE_ID",
    "ORDERS",
    "SORT_KEYS",
    "STATUS_FILTERS",
    "SUPPRESSION_THRESHOLD",
    "Deadline",
    "OverviewQuery",
    "available_years",
    "deadline_for",
    "default_year",
    "findings_by_rule",
    "intake_by_day",
    "record_findings",
    "records_per_service_type",
    "submission_detail",
    "suppress",
    "year_overview",
]

SUPPRESSION_THRESHOLD: Final = 5
#: The last reporting year the operator views accept (the schema's bound for years elsewhere).
LAST_YEAR: Final = 2100
#: A submission id as the gateway makes them (a UUID); anything else is "not found" without a query.
MESSAGE_ID: Final = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

Status = Literal["missing", "received", "findings"]
STATUS_FILTERS: Final = ("all", "missing", "received", "findings", "replaced", "late", "overdue")
SORT_KEYS: Final = ("municipality", "name", "status", "received", "records", "findings", "replaced")
ORDERS: Final = ("asc", "desc")
_STATUS_RANK: Final = {"missing": 0, "findings": 1, "received": 2}
# Norwegian alphabetical order: æ, ø, å after z (casefold alone would put å before æ).
_NORWEGIAN: Final = str.maketrans({"æ": "z\x01", "ø": "z\x02", "å": "z\x03"})


def suppress(persons: int, threshold: int = SUPPRESSION_THRESHOLD) -> int | None:
    """A count of persons as it may be shown: ``None`` (suppressed, "<5") when 1 to ``threshold - 1``.

    0 is shown (no one to identify), as is every count from ``threshold`` up."""
    if persons < 0:
        raise ValueError("a count of persons is not negative")
    return None if 0 < persons < threshold else persons


def _reader(engine: Engine) -> Engine:
    return engine.execution_options(**READ_ONLY)


# --- the deadline ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Deadline:
    """Submissions for ``year`` are due by the end of ``last_day`` (28 or 29 February of the next year),
    Norwegian time; ``due`` is the instant that day ends (a submission received then or later is late)."""

    year: int
    last_day: dt.date
    due: dt.datetime

    def is_late(self, received_at: dt.datetime) -> bool:
        return received_at >= self.due

    def passed(self, now: dt.datetime) -> bool:
        return now >= self.due

    def days_left(self, now: dt.datetime) -> int:
        """Whole days from today (Norwegian date) to the last day: 0 on the last day, negative after it."""
        return (self.last_day - now.astimezone(LOCAL_ZONE).date()).days

    def document(self, now: dt.datetime) -> dict[str, Any]:
        return {
            "last_day": self.last_day.isoformat(),
            "due": utc_timestamp(self.due),
            "days_left": self.days_left(now),
            "passed": self.passed(now),
        }


def deadline_for(year: int) -> Deadline:
    first_of_march = dt.datetime(year + 1, 3, 1, tzinfo=LOCAL_ZONE)
    return Deadline(year, first_of_march.date() - dt.timedelta(days=1), first_of_march.astimezone(dt.UTC))


def available_years(engine: Engine) -> list[int]:
    """Reporting years with at least one submission the operator views cover, newest first."""
    query = (
        select(submissions.c.year)
        .distinct()
        .where(submissions.c.year >= FIRST_YEAR, submissions.c.year <= LAST_YEAR)
        .order_by(submissions.c.year.desc())
    )
    with _reader(engine).connect() as conn:
        return [int(year) for year in conn.execute(query).scalars()]


def default_year(engine: Engine, now: dt.datetime) -> int:
    """The latest reporting year with data, or (none yet) the year before this one."""
    years = available_years(engine)
    return years[0] if years else max(FIRST_YEAR, now.astimezone(LOCAL_ZONE).year - 1)


# --- the year overview -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OverviewQuery:
    """Filter and order of the overview's rows (the counts on top always cover every municipality)."""

    status: str = "all"
    q: str = ""
    sort: str = "municipality"
    order: str = "asc"

    @classmethod
    def lenient(cls, status: str | None, q: str | None, sort: str | None, order: str | None) -> OverviewQuery:
        """From a page's query string: an unknown value falls back to the default instead of an error."""
        return cls(
            status=status if status in STATUS_FILTERS else "all",
            q=(q or "").strip()[:100],
            sort=sort if sort in SORT_KEYS else "municipality",
            order=order if order in ORDERS else "asc",
        )

    def document(self) -> dict[str, str]:
        return {"status": self.status, "q": self.q, "sort": self.sort, "order": self.order}


@dataclass(frozen=True)
class MunicipalityRow:
    municipality: str
    name: str
    status: Status
    submission_id: str | None
    sequence: int | None
    received_at: dt.datetime | None
    records: int | None
    records_suppressed: bool
    findings: int | None
    errors: int | None
    warnings: int | None
    replaced: int
    refused: int
    late: bool
    overdue: bool
    #: A submission waiting for the municipality's confirmation (far fewer persons than the active one): the
    #: operator sees that the municipality has a decision to make before the year's figures change.
    held: str | None = None

    def document(self) -> dict[str, Any]:
        return {
            "municipality": self.municipality,
            "name": self.name,
            "status": self.status,
            "submission_id": self.submission_id,
            "sequence": self.sequence,
            "received_at": utc_timestamp(self.received_at) if self.received_at else None,
            "records": self.records,
            "records_suppressed": self.records_suppressed,
            "findings": self.findings,
            "errors": self.errors,
            "warnings": self.warnings,
            "replaced": self.replaced,
            "refused": self.refused,
            "late": self.late,
            "overdue": self.overdue,
            "held": self.held,
        }


@dataclass(frozen=True)
class YearOverview:
    year: int
    now: dt.datetime
    deadline: Deadline
    counts: dict[str, int]
    records_total: int | None
    records_total_suppressed: bool
    rows: list[MunicipalityRow]
    query: OverviewQuery
    unexpected: list[dict[str, Any]]

    def document(self) -> dict[str, Any]:
        return {
            "year": self.year,
            "now": utc_timestamp(self.now),
            "deadline": self.deadline.document(self.now),
            "counts": self.counts,
            "records_total": self.records_total,
            "records_total_suppressed": self.records_total_suppressed,
            "suppression_threshold": SUPPRESSION_THRESHOLD,
            "filter": self.query.document(),
            "shown": len(self.rows),
            "municipalities": [row.document() for row in self.rows],
            "unexpected": self.unexpected,
        }


def _row(
    code: str, name: str, items: Sequence[StoredSubmission], deadline: Deadline, now: dt.datetime
) -> MunicipalityRow:
    active = next((s for s in items if s.status == SubmissionStatus.ACTIVE), None)
    replaced = sum(1 for s in items if s.status == SubmissionStatus.SUPERSEDED)
    refused = sum(1 for s in items if s.status == SubmissionStatus.REFUSED)
    held = next((s.message_id for s in items if s.status == SubmissionStatus.HELD), None)
    if active is None:
        return MunicipalityRow(
            municipality=code,
            name=name,
            status="missing",
            submission_id=None,
            sequence=None,
            received_at=None,
            records=None,
            records_suppressed=False,
            findings=None,
            errors=None,
            warnings=None,
            replaced=replaced,
            refused=refused,
            held=held,
            late=False,
            overdue=deadline.passed(now),
        )
    records = suppress(active.record_count)
    return MunicipalityRow(
        municipality=code,
        name=name,
        status="findings" if (active.finding_count or 0) > 0 else "received",
        submission_id=active.message_id,
        sequence=active.sequence,
        received_at=active.received_at,
        records=records,
        records_suppressed=records is None,
        findings=active.finding_count,
        errors=active.error_count,
        warnings=active.warning_count,
        replaced=replaced,
        refused=refused,
        held=held,
        late=deadline.is_late(active.received_at),
        overdue=False,
    )


def _matches(row: MunicipalityRow, query: OverviewQuery) -> bool:
    wanted = query.status
    if wanted in ("missing", "received", "findings") and row.status != wanted:
        return False
    if (wanted == "replaced" and not row.replaced) or (wanted == "late" and not row.late):
        return False
    if wanted == "overdue" and not row.overdue:
        return False
    text = query.q.casefold()
    return not text or row.municipality.startswith(text) or text in row.name.casefold()


def _sort_key(sort: str) -> tuple[Any, Any]:
    """(key, has a value): rows without a value in the column (nothing received) go last in either order."""
    if sort == "name":
        return (lambda r: r.name.casefold().translate(_NORWEGIAN)), None
    if sort == "status":
        return (lambda r: _STATUS_RANK[r.status]), None
    if sort == "received":
        return (lambda r: r.received_at), (lambda r: r.received_at is not None)
    if sort == "records":
        # A suppressed count sorts as one group below 5, never by its hidden value.
        return (lambda r: -1 if r.records is None else r.records), (lambda r: r.status != "missing")
    if sort == "findings":
        return (lambda r: r.findings), (lambda r: r.findings is not None)
    if sort == "replaced":
        return (lambda r: r.replaced), None
    return (lambda r: r.municipality), None


def _sorted(rows: Iterable[MunicipalityRow], query: OverviewQuery) -> list[MunicipalityRow]:
    """In ``query``'s order; ties by municipality number; rows without a value in the column last."""
    key, has_value = _sort_key(query.sort)
    by_number = sorted(rows, key=lambda r: r.municipality)
    valued = [r for r in by_number if has_value is None or has_value(r)]
    empty = [r for r in by_number if has_value is not None and not has_value(r)]
    return sorted(valued, key=key, reverse=query.order == "desc") + empty


def year_overview(engine: Engine, year: int, now: dt.datetime, query: OverviewQuery | None = None) -> YearOverview:
    """Every municipality valid in ``year`` with its status; the counts cover all of them, the rows those
    ``query`` selects, in its order (ties by municipality number). ``year`` must have a municipality list
    (``FIRST_YEAR`` or later)."""
    query = query or OverviewQuery()
    deadline = deadline_for(year)
    valid = valid_municipalities(year)
    by_municipality: dict[str, list[StoredSubmission]] = defaultdict(list)
    for stored in _year_submissions(engine, year):
        by_municipality[stored.municipality].append(stored)
    rows = [
        _row(code, municipality_name(code, year) or code, by_municipality.get(code, ()), deadline, now)
        for code in sorted(valid)
    ]
    counts = {
        "expected": len(rows),
        "received": sum(1 for r in rows if r.status != "missing"),
        "missing": sum(1 for r in rows if r.status == "missing"),
        "with_findings": sum(1 for r in rows if r.status == "findings"),
        "replaced": sum(1 for r in rows if r.replaced),
        "held": sum(1 for r in rows if r.held),
        "late": sum(1 for r in rows if r.late),
        "overdue": sum(1 for r in rows if r.overdue),
    }
    total = sum(s.record_count for s in _active(by_municipality, valid))
    shown = _sorted((r for r in rows if _matches(r, query)), query)
    unexpected = [
        {
            "municipality": code,
            "submissions": len(items),
            "active": any(s.status == SubmissionStatus.ACTIVE for s in items),
        }
        for code, items in sorted(by_municipality.items())
        if code not in valid
    ]
    suppressed_total = suppress(total)
    return YearOverview(
        year, now, deadline, counts, suppressed_total, suppressed_total is None, shown, query, unexpected
    )


def _active(by_municipality: dict[str, list[StoredSubmission]], valid: frozenset[str]) -> list[StoredSubmission]:
    return [
        s
        for code, items in by_municipality.items()
        if code in valid
        for s in items
        if s.status == SubmissionStatus.ACTIVE
    ]


_OVERVIEW_COLUMNS: Final = tuple(submissions.c[name] for name in StoredSubmission.__dataclass_fields__)


def _year_submissions(engine: Engine, year: int) -> list[StoredSubmission]:
    """Every submission row of ``year`` (active, held, superseded, refused), oldest first."""
    query = (
        select(*_OVERVIEW_COLUMNS)
        .where(submissions.c.year == year)
        .order_by(submissions.c.received_at, submissions.c.sequence, submissions.c.message_id)
    )
    with _reader(engine).connect() as conn:
        return [StoredSubmission(**row._asdict()) for row in conn.execute(query)]


# --- statistics of a year ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IntakeDay:
    day: dt.date
    submissions: int
    refused: int
    first_submissions: int
    municipalities_so_far: int
    after_deadline: bool

    def document(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "submissions": self.submissions,
            "refused": self.refused,
            "first_submissions": self.first_submissions,
            "municipalities_so_far": self.municipalities_so_far,
            "after_deadline": self.after_deadline,
        }


def intake_by_day(engine: Engine, year: int) -> dict[str, Any]:
    """Per Norwegian calendar day with any submission for ``year``: submissions stored (active or since
    replaced), refused, municipalities whose first stored submission came that day and how many valid
    municipalities had one by the end of it. Counts of submissions, not persons: nothing to suppress."""
    deadline = deadline_for(year)
    valid = valid_municipalities(year)
    per_day: dict[dt.date, dict[str, int]] = defaultdict(lambda: {"submissions": 0, "refused": 0, "first": 0})
    seen: set[str] = set()
    for stored in _year_submissions(engine, year):  # oldest first
        day = stored.received_at.astimezone(LOCAL_ZONE).date()
        if stored.status == SubmissionStatus.REFUSED:
            per_day[day]["refused"] += 1
            continue
        per_day[day]["submissions"] += 1
        if stored.municipality in valid and stored.municipality not in seen:
            seen.add(stored.municipality)
            per_day[day]["first"] += 1
    days: list[IntakeDay] = []
    so_far = 0
    for day in sorted(per_day):
        counts = per_day[day]
        so_far += counts["first"]
        late = day > deadline.last_day
        days.append(IntakeDay(day, counts["submissions"], counts["refused"], counts["first"], so_far, late))
    return {
        "year": year,
        "expected": len(valid),
        "deadline": deadline.last_day.isoformat(),
        "days": [d.document() for d in days],
    }


def _catalogue_document(control: Control | None, code: str) -> dict[str, Any]:
    if control is None:  # a code the catalogue no longer has (never renumbered, but kept safe)
        return {"code": code, "severity": None, "scope": None, "title": None, "rule": None}
    return {
        "code": code,
        "severity": str(control.severity),
        "scope": control.scope,
        "title": control.title,
        "rule": control.rule,
    }


def findings_by_rule(engine: Engine, year: int) -> dict[str, Any]:
    """Every rule of the catalogue over the active submissions of ``year``: findings, persons (records) with
    a finding, submissions and municipalities, and the rate: persons per 100 records for a record rule,
    submissions per 100 submissions for a submission rule. Person-based figures are suppressed below 5."""
    per_submission = (
        select(
            findings.c.code,
            findings.c.submission_id,
            func.count().label("findings"),
            func.count(distinct(findings.c.ref)).label("persons"),
        )
        .join(submissions, submissions.c.message_id == findings.c.submission_id)
        .where(submissions.c.status == SubmissionStatus.ACTIVE, submissions.c.year == year)
        .group_by(findings.c.code, findings.c.submission_id)
    )
    active = select(
        func.count(),
        func.coalesce(func.sum(submissions.c.record_count), 0),
        func.count(distinct(submissions.c.municipality)),
    ).where(submissions.c.status == SubmissionStatus.ACTIVE, submissions.c.year == year)
    municipality_of = select(submissions.c.message_id, submissions.c.municipality).where(
        submissions.c.status == SubmissionStatus.ACTIVE, submissions.c.year == year
    )
    with _reader(engine).connect() as conn:
        grouped = conn.execute(per_submission).all()
        active_submissions, active_records, _ = conn.execute(active).one()
        municipalities = {row.message_id: row.municipality for row in conn.execute(municipality_of)}
    totals: dict[str, dict[str, Any]] = {}
    for row in grouped:
        entry = totals.setdefault(row.code, {"findings": 0, "persons": 0, "submissions": 0, "municipalities": set()})
        entry["findings"] += int(row.findings)
        entry["persons"] += int(row.persons)
        entry["submissions"] += 1
        entry["municipalities"].add(municipalities.get(row.submission_id))
    controls = {c.code: c for c in CATALOGUE}
    rules = []
    for code in sorted(set(controls) | set(totals)):
        entry = totals.get(code, {"findings": 0, "persons": 0, "submissions": 0, "municipalities": set()})
        control = controls.get(code)
        record_rule = control is None or control.scope == "record"
        document = _catalogue_document(control, code) | {
            "findings": entry["findings"],
            "persons": entry["persons"] if record_rule else None,
            "submissions": entry["submissions"],
            "municipalities": len(entry["municipalities"]),
            "suppressed": False,
        }
        if record_rule:
            persons = suppress(entry["persons"])
            rate = 100.0 * entry["persons"] / active_records if active_records else 0.0
            if persons is None:
                document.update(findings=None, persons=None, rate=None, suppressed=True)
            else:
                document["rate"] = round(rate, 2)
        else:
            document["rate"] = (
                round(100.0 * entry["submissions"] / active_submissions, 2) if active_submissions else 0.0
            )
        rules.append(document)
    return {
        "year": year,
        "active_submissions": int(active_submissions),
        "records": suppress(int(active_records)),
        "suppression_threshold": SUPPRESSION_THRESHOLD,
        "rules": rules,
    }


def records_per_service_type(engine: Engine, year: int) -> dict[str, Any]:
    """Per service type over the active submissions of ``year``: persons (records with the service) and
    service lines; both suppressed when the persons are fewer than 5."""
    rows = SubmissionRepository(engine).records_per_service_type(None, year)
    types = []
    for row in rows:
        persons = suppress(row.persons)
        types.append(
            {
                "service_type": row.tjeneste_type,
                "name": SERVICE_TYPES.get(row.tjeneste_type),
                "persons": persons,
                "services": None if persons is None else row.services,
                "suppressed": persons is None,
            }
        )
    return {"year": year, "suppression_threshold": SUPPRESSION_THRESHOLD, "service_types": types}


# --- one submission ----------------------------------------------------------------------------------------------


def _extras(engine: Engine, message_id: str) -> dict[str, Any]:
    query = select(submissions.c.sender, submissions.c.payload_sha256, submissions.c.pseudonym_key_version).where(
        submissions.c.message_id == message_id
    )
    with _reader(engine).connect() as conn:
        row = conn.execute(query).one()
    return {"sender": row.sender, "payload_sha256": row.payload_sha256, "key_version": row.pseudonym_key_version}


def _history(engine: Engine, stored: StoredSubmission, deadline: Deadline) -> list[dict[str, Any]]:
    """Every submission of the same municipality and year, in the order received: the replacement chain
    (supersedes / superseded by) and the refused ones beside it."""
    rows = [s for s in _year_submissions(engine, stored.year) if s.municipality == stored.municipality]
    return [
        {
            "submission_id": s.message_id,
            "sequence": s.sequence,
            "status": s.status,
            "refusal_reason": s.refusal_reason,
            "received_at": utc_timestamp(s.received_at),
            "records": s.record_count,
            "findings": s.finding_count,
            "supersedes": s.supersedes,
            "superseded_by": s.superseded_by,
            "late": deadline.is_late(s.received_at),
            "this": s.message_id == stored.message_id,
        }
        for s in rows
    ]


def _findings_by_rule_of(engine: Engine, message_id: str) -> list[dict[str, Any]]:
    query = (
        select(findings.c.code, findings.c.severity, func.count(), func.count(distinct(findings.c.ref)))
        .where(findings.c.submission_id == message_id)
        .group_by(findings.c.code, findings.c.severity)
        .order_by(findings.c.code, findings.c.severity)
    )
    controls = {c.code: c for c in CATALOGUE}
    with _reader(engine).connect() as conn:
        rows = conn.execute(query).all()
    return [
        _catalogue_document(controls.get(code), code) | {"severity": severity, "findings": int(n), "records": int(refs)}
        for code, severity, n, refs in rows
    ]


def _audit_trail(ctx: service.RegistryContext, message_id: str) -> dict[str, Any]:
    """The registry's audit-log entries about the message, each with whether it is included in the latest
    signed checkpoint (the inclusion proof checked here against the checkpoint, itself checked against the
    registry's key in the public directory). Reads only: no checkpoint is signed for a page view."""
    audit = ctx.audit
    log, checkpoints = audit.tables.log, audit.tables.checkpoints
    with _reader(ctx.engine).connect() as conn:
        rows = conn.execute(
            select(log.c.idx, log.c.entry).where(log.c.message_id == message_id).order_by(log.c.idx).limit(100)
        ).all()
        latest = conn.execute(
            select(checkpoints.c.body, checkpoints.c.signature).order_by(checkpoints.c.tree_size.desc()).limit(1)
        ).first()
    checkpoint = None
    if latest is not None:
        try:
            signed = verify_checkpoint_document(
                {"body": latest.body, "signature": latest.signature}, ctx.directory, log=audit.log_name
            )
            checkpoint = signed.checkpoint
        except InvalidAuditData:
            checkpoint = None
    entries = []
    for row in rows:
        entry = parse_entry(row.entry.encode("ascii"))
        included = checkpoint is not None and entry.index < checkpoint.tree_size
        verified = False
        if included and checkpoint is not None:
            try:
                proof = audit.inclusion(entry.index, checkpoint.tree_size)
                verified = verify_inclusion_document(proof.document(), checkpoint).index == entry.index
            except (AuditLogCorrupt, AuditRangeError, InvalidAuditData):
                verified = False
        entries.append(
            {
                "index": entry.index,
                "event": entry.event,
                "at": entry.at,
                "facts": dict(entry.facts),
                "in_checkpoint": included,
                "proof_verified": verified,
            }
        )
    return {
        "log": audit.log_name,
        "checkpoint": None
        if checkpoint is None
        else {
            "tree_size": checkpoint.tree_size,
            "root_hash": checkpoint.root_hash,
            "created_at": checkpoint.created_at,
        },
        "entries": entries,
    }


def submission_detail(ctx: service.RegistryContext, message_id: str, *, with_findings: bool) -> dict[str, Any] | None:
    """One submission: its facts and counts, its findings by rule (only ``with_findings``: operators), the
    replacement history of its municipality and year, the signed receipt and its audit-trail entries.
    None if there is no such submission."""
    if not MESSAGE_ID.fullmatch(message_id):
        return None
    stored = ctx.repository.get(message_id)
    if stored is None:
        return None
    deadline = deadline_for(stored.year)
    try:
        name = municipality_name(stored.municipality, stored.year)
    except ValueError:  # no list for a year before 2020
        name = None
    view = service.submission_view(stored) | _extras(ctx.engine, message_id)
    view |= {"name": name, "late": deadline.is_late(stored.received_at)}
    return {
        "submission": view,
        "deadline": deadline.last_day.isoformat(),
        "findings_withheld": not with_findings,
        "findings_by_rule": _findings_by_rule_of(ctx.engine, message_id) if with_findings else None,
        "history": _history(ctx.engine, stored, deadline),
        "receipt": service.receipt_for(ctx, stored),
        "audit_trail": _audit_trail(ctx, message_id),
    }


def record_findings(engine: Engine, message_id: str, code: str | None, offset: int, limit: int) -> dict[str, Any]:
    """The submission's findings (of rule ``code`` if given), in stored order, a page at a time: each names
    its record by the registry's random reference only, with the field and the control's short detail."""
    conditions = [findings.c.submission_id == message_id]
    if code is not None:
        conditions.append(findings.c.code == code)
    query = (
        select(findings.c.ref, findings.c.code, findings.c.severity, findings.c.field, findings.c.detail)
        .where(*conditions)
        .order_by(findings.c.ref.is_not(None), findings.c.id)
        .offset(offset)
        .limit(limit)
    )
    with _reader(engine).connect() as conn:
        total = conn.execute(select(func.count()).select_from(findings).where(*conditions)).scalar_one()
        rows = [row._asdict() for row in conn.execute(query)]
    return {
        "submission_id": message_id,
        "rule": code,
        "total": int(total),
        "offset": offset,
        "limit": limit,
        "findings": rows,
    }


def pretty(document: Any) -> str:
    """A JSON document as the pages show it (the receipt)."""
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=False)
