"""The read-only operator API: what the dashboard's pages show, as JSON, under ``/v1/operator``.

Operators and auditors only (a bearer token, or the pages' sign-in cookie): 401 without a credential. The
findings detail (by rule across municipalities, by rule and by record within a submission) is for operators:
an auditor gets 403 ``forbidden`` there, and the submission document says ``findings_withheld``. Figures that
count persons are suppressed below 5 (``null``, with ``suppressed`` or ``*_suppressed`` true).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from services.registry_intake.dependencies import Caller, Clock, Context, require_findings, sees_findings
from services.registry_intake.schemas import (
    FIRST_YEAR,
    LAST_YEAR,
    ComparisonYear,
    FindingsByRule,
    IntakeByDay,
    Order,
    OverviewQuery,
    RecordFindings,
    RecordsPerServiceType,
    RegisterYear,
    SortKey,
    StatusFilter,
    SubmissionDetail,
    YearFlows,
    YearOverview,
    Years,
)
from services.registry_intake.service import reading

__all__ = ["router"]

_AUTH: dict[int | str, dict[str, Any]] = {
    401: {"description": "No credential, or an unknown one (bearer token or sign-in cookie)"},
    403: {"description": "The credential's role may not read this"},
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No submission with this id"}}

router = APIRouter(prefix="/v1/operator", tags=["operator"], responses=_AUTH)

Year = Annotated[
    int,
    Path(ge=FIRST_YEAR, le=LAST_YEAR, description="Reporting year (the shipped municipality lists start in 2020)"),
]


@router.get(
    "/years",
    summary="Reporting years with submissions, newest first, and the default year",
    response_model=Years,
)
def years(ctx: Context, now: Clock, _caller: Caller) -> Years:
    return reading.years(ctx, now)


@router.get(
    "/years/{year}/overview",
    summary="Every municipality valid in the year with its status, counts on top (operators and auditors)",
    description=(
        "Status: `missing` (nothing stored), `received`, or `findings` (received with findings); `replaced` is how"
        " many times the year was replaced. `late`: the active submission came after the deadline (end of"
        " February of the next year, Norwegian time); `overdue`: missing after the deadline. `records` below 5"
        " is suppressed (null, `records_suppressed`). `status`, `q` (number prefix or part of the name), `sort`"
        " and `order` select and order the rows; the counts always cover every municipality."
    ),
    response_model=YearOverview,
)
def year_overview(
    ctx: Context,
    now: Clock,
    year: Year,
    caller: Caller,
    status: StatusFilter = "all",
    q: Annotated[str, Query(max_length=100)] = "",
    sort: SortKey = "municipality",
    order: Order = "asc",
) -> YearOverview:
    query = OverviewQuery(status=status, q=q.strip(), sort=sort, order=order)
    return reading.year_overview(ctx, year, now, query, with_findings=sees_findings(caller))


@router.get(
    "/years/{year}/intake",
    summary="Submissions per day for the year, and municipalities received so far (operators and auditors)",
    response_model=IntakeByDay,
)
def intake(ctx: Context, year: Year, _caller: Caller) -> IntakeByDay:
    return reading.intake_by_day(ctx, year)


@router.get(
    "/years/{year}/findings-by-rule",
    summary="Findings per control rule across municipalities, with rates (operators only)",
    description="Person-based figures below 5 are suppressed (null, `suppressed`). 403 for an auditor's credential.",
    response_model=FindingsByRule,
)
def findings_by_rule(ctx: Context, year: Year, caller: Caller) -> FindingsByRule:
    require_findings(caller)
    return reading.findings_by_rule(ctx, year)


@router.get(
    "/years/{year}/records-per-service-type",
    summary="Person records and service lines per service type (operators and auditors; below 5 suppressed)",
    response_model=RecordsPerServiceType,
)
def records_per_service_type(ctx: Context, year: Year, _caller: Caller) -> RecordsPerServiceType:
    return reading.records_per_service_type(ctx, year)


@router.get(
    "/years/{year}/flows",
    summary="Care recipients followed from the year before (operators and auditors; below 5 suppressed)",
    description=(
        "Per municipality and for the country: continuing, new, moved in, ended, moved out, and moved into a "
        "long-term stay, counted by person through the population register's links (a D-number replaced by a "
        "fødselsnummer is one person). Counts of 1-4 are null, and so is any count that, with the others, would give "
        "one away (complementary suppression)."
    ),
    response_model=YearFlows,
)
def year_flows(ctx: Context, year: Year, _caller: Caller) -> YearFlows:
    return reading.year_flows(ctx, year)


@router.get(
    "/years/{year}/comparison",
    summary="The comparison statistics of the country, each county and each municipality (operators and auditors)",
    description=(
        "The indicators of docs/comparison.md for every area with data in the year: recipients per 1,000 "
        "inhabitants by service type and age group, the share aged 80 and over, hours per week of home nursing and "
        "practical assistance, the share in long-term stays, need-for-assistance scores at home and in institutions, "
        "days from application to decision, the share with an individual plan and the findings rate by control. "
        "Figures of fewer than 5 persons are null, as is any that would give one away (complementary suppression)."
    ),
    response_model=ComparisonYear,
)
def year_comparison(ctx: Context, year: Year, _caller: Caller) -> ComparisonYear:
    return reading.comparison_year(ctx, year)


@router.get(
    "/years/{year}/register",
    summary="The population register's extracts stored for the year (operators and auditors)",
    description=(
        "Each municipality's extract with its counts (persons, identity numbers, numbers the TPF refused) and when "
        "it arrived, and whether the year's register is complete: every municipality of SSB's list for the year. "
        "The register controls K032-K034 of a municipality's care data run once its extract is stored; K035 "
        "(unknown to the register) only once the year is complete."
    ),
    response_model=RegisterYear,
)
def register_year(ctx: Context, year: Year, _caller: Caller) -> RegisterYear:
    return reading.register_year(ctx, year)


@router.get(
    "/submissions/{submission_id}",
    summary="One submission: facts, counts, findings by rule, replacement history, receipt, audit trail",
    description="For an auditor's credential `findings_by_rule` is null and `findings_withheld` true.",
    response_model=SubmissionDetail,
    responses=_NOT_FOUND,
)
def submission(ctx: Context, submission_id: str, caller: Caller) -> SubmissionDetail:
    return reading.submission_detail(ctx, submission_id, with_findings=sees_findings(caller))


@router.get(
    "/submissions/{submission_id}/findings",
    summary="A submission's findings record by record (by random reference), optionally of one rule (operators only)",
    response_model=RecordFindings,
    responses=_NOT_FOUND,
)
def submission_findings(
    ctx: Context,
    submission_id: str,
    caller: Caller,
    rule: Annotated[str | None, Query(pattern=r"^[A-Z][0-9]{3}$")] = None,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> RecordFindings:
    require_findings(caller)
    return reading.record_findings(ctx, submission_id, rule, offset, limit)
