"""What operators and auditors read, as use cases: the operator API and the dashboard pages call these same
functions, so the two cannot show different figures. Each reads through the read side's queries and shapes
the result with its pure functions (``services/registry_intake/read/``).

Who may read findings detail is decided at the edge (``dependencies.py``); a use case is told ``with_findings``.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Final

from services.registry_intake import read
from services.registry_intake.models import SubmissionStatus
from services.registry_intake.schemas import (
    FIRST_YEAR,
    LAST_YEAR,
    ComparisonYear,
    FindingsByRule,
    IntakeByDay,
    OverviewQuery,
    RecordFindings,
    RecordsPerServiceType,
    RegisterYear,
    SubmissionDetail,
    SubmissionList,
    SubmissionView,
    YearFlows,
    YearOverview,
    Years,
)
from services.registry_intake.service.context import RegistryContext
from services.registry_intake.service.errors import NotFound
from services.registry_intake.service.receipts import receipt_for
from services.registry_intake.submissions import StoredSubmission
from shared.envelope import utc_timestamp
from shared.iplos.reporting_year import collection_year

__all__ = [
    "MESSAGE_ID",
    "available_years",
    "comparison_year",
    "default_year",
    "findings_by_rule",
    "intake_by_day",
    "record_findings",
    "records_per_service_type",
    "register_year",
    "submission",
    "submission_detail",
    "submissions",
    "year_flows",
    "year_overview",
    "years",
]

#: A submission id as the gateway makes them (a UUID); anything else is "not found" without a query.
MESSAGE_ID: Final = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def available_years(ctx: RegistryContext) -> list[int]:
    """Reporting years with at least one submission the operator views cover, newest first."""
    return ctx.queries.available_years(FIRST_YEAR, LAST_YEAR)


def default_year(ctx: RegistryContext, now: dt.datetime) -> int:
    """The year the registry is collecting (``collection_year``: the one before this one in Norway), whatever
    year the newest submission is for: a stray early submission for the year in progress does not move the views
    off the year being reported."""
    return min(max(FIRST_YEAR, collection_year(now)), LAST_YEAR)


def years(ctx: RegistryContext, now: dt.datetime) -> Years:
    return Years(years=available_years(ctx), default=default_year(ctx, now))


def year_overview(
    ctx: RegistryContext, year: int, now: dt.datetime, query: OverviewQuery, *, with_findings: bool = False
) -> YearOverview:
    """The year's overview; ``with_findings`` (operators) adds each municipality's records flagged K040."""
    never_resident = ctx.queries.never_resident_by_municipality(year) if with_findings else None
    return read.year_overview(year, now, query, ctx.queries.year_submissions(year), never_resident)


def intake_by_day(ctx: RegistryContext, year: int) -> IntakeByDay:
    return read.intake_by_day(year, ctx.queries.year_submissions(year))


def findings_by_rule(ctx: RegistryContext, year: int) -> FindingsByRule:
    return read.findings_by_rule(year, ctx.queries.rule_totals(year))


def year_flows(ctx: RegistryContext, year: int) -> YearFlows:
    """Care recipients followed from the year before through the population register's links, small cells
    suppressed."""
    return read.year_flows(year, ctx.queries.flows(year))


def comparison_year(ctx: RegistryContext, year: int) -> ComparisonYear:
    """The comparison statistics of every area with data in ``year`` (the national picture), small cells and the cells
    that would give them away suppressed."""
    picture = ctx.comparison_sums.get(year, ctx.audit.size(), ctx.queries.comparison_data)
    return read.comparison_year(year, picture.data, (picture.areas, picture.shown))


def register_year(ctx: RegistryContext, year: int) -> RegisterYear:
    """The population register's extracts stored for ``year``, and whether the year's register is complete."""
    return ctx.queries.register_year(year)


def records_per_service_type(ctx: RegistryContext, year: int) -> RecordsPerServiceType:
    return read.records_per_service_type(year, ctx.queries.records_per_service_type(None, year))


def submissions(ctx: RegistryContext, municipality: str | None, year: int | None) -> SubmissionList:
    """Submissions (of ``municipality`` and ``year`` if given), newest first."""
    return SubmissionList(submissions=[read.submission_view(row) for row in ctx.queries.list(municipality, year)])


def submission(ctx: RegistryContext, submission_id: str) -> SubmissionView:
    stored = ctx.queries.get(submission_id)
    if stored is None:
        raise NotFound()
    return read.submission_view(stored)


def submission_detail(ctx: RegistryContext, submission_id: str, *, with_findings: bool) -> SubmissionDetail:
    """One submission: its facts and counts, its findings by rule (only ``with_findings``: operators), the
    replacement history of its municipality and year, the signed receipt and its audit-trail entries."""
    stored = ctx.queries.get(submission_id) if MESSAGE_ID.fullmatch(submission_id) else None
    if stored is None:
        raise NotFound()
    return read.submission_detail(
        stored,
        ctx.queries.extras(submission_id),
        ctx.queries.rules_of(submission_id) if with_findings else None,
        ctx.queries.year_submissions(stored.year),
        receipt_for(ctx, stored),
        read.audit_trail(ctx.audit, ctx.directory, *ctx.queries.audit_rows(submission_id)),
    )


def record_findings(
    ctx: RegistryContext, submission_id: str, rule: str | None, offset: int, limit: int
) -> RecordFindings:
    """The submission's findings (of ``rule`` if given), in stored order, ``limit`` from ``offset``."""
    if not MESSAGE_ID.fullmatch(submission_id) or ctx.queries.get(submission_id) is None:
        raise NotFound()
    total, page = ctx.queries.findings_page(submission_id, rule, offset, limit)
    return read.record_findings(submission_id, rule, offset, limit, total, page)


def _row(stored: StoredSubmission, now: dt.datetime) -> dict[str, Any]:
    """One submission as the dashboard's history and waiting lists show it (plain values: a page and a CSV)."""
    return {
        "year": stored.year,
        "municipality": stored.municipality,
        "submission_id": stored.message_id,
        "sequence": stored.sequence,
        "status": stored.status.value,
        "received_at": utc_timestamp(stored.received_at),
        "late": read.deadline_for(stored.year).is_late(stored.received_at),
        "days_since": (now - stored.received_at).days,
        "records": stored.record_count,
        "findings": stored.finding_count,
        "errors": stored.error_count,
        "warnings": stored.warning_count,
        "supersedes": stored.supersedes,
        "superseded_by": stored.superseded_by,
        "refusal_reason": stored.refusal_reason,
    }


def municipality_history(ctx: RegistryContext, municipality: str, now: dt.datetime) -> list[dict[str, Any]]:
    """Every submission of one municipality the registry holds a row of, in every year, newest year first and
    newest first within a year: what it sent, which was in effect, what replaced what."""
    history: list[dict[str, Any]] = []
    for year in available_years(ctx):
        rows = [s for s in ctx.queries.year_submissions(year) if s.municipality == municipality]
        history.extend(_row(s, now) for s in reversed(rows))
    return history


def waiting_or_stopped(ctx: RegistryContext, year: int, now: dt.datetime) -> list[dict[str, Any]]:
    """The year's submissions that reached the registry but are neither in effect nor replaced, newest first: held
    ones (waiting for their municipality to confirm) and refused ones (that message is done: the municipality must
    send again). A submission still queued at a gateway or at the TPF is not known here until it is delivered:
    their outboxes' depth and age are in their own /metrics."""
    stopped = (SubmissionStatus.HELD, SubmissionStatus.REFUSED)
    rows = [_row(s, now) for s in ctx.queries.year_submissions(year) if s.status in stopped]
    return sorted(rows, key=lambda row: row["received_at"], reverse=True)
