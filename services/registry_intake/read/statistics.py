"""A reporting year's statistics, shaped from what the queries read: intake per day, findings per rule, records
per service type. Person-based figures are suppressed below 5 (:mod:`.suppression`); no I/O here.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from services.registry_intake.models import SubmissionStatus
from services.registry_intake.read.deadline import deadline_for
from services.registry_intake.read.queries import RuleTotals
from services.registry_intake.read.suppression import SUPPRESSION_THRESHOLD, suppress
from services.registry_intake.schemas import (
    FindingsByRule,
    IntakeByDay,
    IntakeDay,
    RecordsPerServiceType,
    RuleStatistics,
    ServiceTypeStatistics,
)
from services.registry_intake.submissions import ServiceTypeCount, StoredSubmission
from shared.iplos.controls import CATALOGUE, Control
from shared.iplos.model import SERVICE_TYPES
from shared.iplos.municipalities import valid_municipalities
from shared.iplos.reporting_year import NORWEGIAN_TIME

__all__ = ["catalogue_entry", "findings_by_rule", "intake_by_day", "records_per_service_type"]


def intake_by_day(year: int, submissions: Iterable[StoredSubmission]) -> IntakeByDay:
    """Per Norwegian calendar day with any submission for ``year`` (``submissions``: the year's rows, oldest
    first): submissions stored (active or since replaced), refused, municipalities whose first stored submission
    came that day and how many valid municipalities had one by the end of it. Counts of submissions, not persons:
    nothing to suppress."""
    deadline = deadline_for(year)
    valid = valid_municipalities(year)
    per_day: dict[dt.date, dict[str, int]] = defaultdict(lambda: {"submissions": 0, "refused": 0, "first": 0})
    seen: set[str] = set()
    for stored in submissions:
        day = stored.received_at.astimezone(NORWEGIAN_TIME).date()
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
        days.append(
            IntakeDay(
                day=day.isoformat(),
                submissions=counts["submissions"],
                refused=counts["refused"],
                first_submissions=counts["first"],
                municipalities_so_far=so_far,
                after_deadline=day > deadline.last_day,
            )
        )
    return IntakeByDay(year=year, expected=len(valid), deadline=deadline.last_day.isoformat(), days=days)


def catalogue_entry(control: Control | None, code: str) -> tuple[str | None, str | None, str | None, str | None]:
    """(severity, scope, title, rule) of a control code; all None for a code the catalogue no longer has (never
    renumbered, but kept safe)."""
    if control is None:
        return None, None, None, None
    return str(control.severity), control.scope, control.title, control.rule


@dataclass
class _RuleTotal:
    findings: int = 0
    persons: int = 0
    submissions: int = 0
    municipalities: set[str | None] = field(default_factory=set)


def findings_by_rule(year: int, totals: RuleTotals) -> FindingsByRule:
    """Every rule of the catalogue over the active submissions of ``year``: findings, persons (records) with
    a finding, submissions and municipalities, and the rate: persons per 100 records for a record rule,
    submissions per 100 submissions for a submission rule. Person-based figures are suppressed below 5."""
    by_code: dict[str, _RuleTotal] = {}
    for code, submission_id, found, with_finding in totals.per_submission:
        entry = by_code.setdefault(code, _RuleTotal())
        entry.findings += found
        entry.persons += with_finding
        entry.submissions += 1
        entry.municipalities.add(totals.municipality_of.get(submission_id))
    controls = {c.code: c for c in CATALOGUE}
    rules = []
    for code in sorted(set(controls) | set(by_code)):
        entry = by_code.get(code, _RuleTotal())
        control = controls.get(code)
        severity, scope, title, rule = catalogue_entry(control, code)
        record_rule = control is None or control.scope == "record"
        persons = suppress(entry.persons) if record_rule else None
        hidden = record_rule and persons is None
        if record_rule:
            rate = None if hidden else round(_per_hundred(entry.persons, totals.active_records), 2)
        else:
            rate = round(_per_hundred(entry.submissions, totals.active_submissions), 2)
        rules.append(
            RuleStatistics(
                code=code,
                severity=severity,
                scope=scope,
                title=title,
                rule=rule,
                findings=None if hidden else entry.findings,
                persons=persons,
                submissions=entry.submissions,
                municipalities=len(entry.municipalities),
                suppressed=hidden,
                rate=rate,
            )
        )
    return FindingsByRule(
        year=year,
        active_submissions=totals.active_submissions,
        records=suppress(totals.active_records),
        suppression_threshold=SUPPRESSION_THRESHOLD,
        rules=rules,
    )


def _per_hundred(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole else 0.0


def records_per_service_type(year: int, counts: Sequence[ServiceTypeCount]) -> RecordsPerServiceType:
    """Per service type over the active submissions of ``year``: persons (records with the service) and
    service lines; both suppressed when the persons are fewer than 5."""
    types = []
    for row in counts:
        persons = suppress(row.persons)
        types.append(
            ServiceTypeStatistics(
                service_type=row.tjeneste_type,
                name=SERVICE_TYPES.get(row.tjeneste_type),
                persons=persons,
                services=None if persons is None else row.services,
                suppressed=persons is None,
            )
        )
    return RecordsPerServiceType(year=year, suppression_threshold=SUPPRESSION_THRESHOLD, service_types=types)
