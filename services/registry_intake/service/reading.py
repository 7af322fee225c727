"""What operators and auditors read, as use cases: the operator API and the dashboard pages call these same
functions, so the two cannot show different figures. Each reads through the read side's queries and shapes
the result with its pure functions (``services/registry_intake/read/``).

Who may read findings detail is decided at the edge (``dependencies.py``); a use case is told ``with_findings``.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Final

from services.registry_intake import read
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
from shared.iplos.reporting_year import NORWEGIAN_TIME

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
    """The latest reporting year with data, or (none yet) the year before this one."""
    found = available_years(ctx)
    return found[0] if found else max(FIRST_YEAR, now.astimezone(NORWEGIAN_TIME).year - 1)


def years(ctx: RegistryContext, now: dt.datetime) -> Years:
    return Years(years=available_years(ctx), default=default_year(ctx, now))


def year_overview(ctx: RegistryContext, year: int, now: dt.datetime, query: OverviewQuery) -> YearOverview:
    return read.year_overview(year, now, query, ctx.queries.year_submissions(year))


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
