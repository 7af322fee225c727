"""The read-only operator API: what the dashboard's pages show, as JSON, under ``/v1/operator``.

Operators and auditors only (a bearer token, or the pages' sign-in cookie): 401 without a credential. The
findings detail (by rule across municipalities, by rule and by record within a submission) is for operators:
an auditor gets 403 ``forbidden`` there, and the submission document says ``findings_withheld``. Figures that
count persons are suppressed below 5 (``null``, with ``suppressed`` or ``*_suppressed`` true).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request

from services.kit.credentials import Credential
from services.kit.problems import Problem
from services.registry_intake import overview
from services.registry_intake.dashboard.access import api_caller, context, now, require_findings, sees_findings

__all__ = ["router"]

_AUTH: dict[int | str, dict[str, Any]] = {
    401: {"description": "No credential, or an unknown one (bearer token or sign-in cookie)"},
    403: {"description": "The credential's role may not read this"},
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No submission with this id"}}

router = APIRouter(prefix="/v1/operator", tags=["operator"], responses=_AUTH)

Year = Annotated[
    int,
    Path(
        ge=overview.FIRST_YEAR,
        le=overview.LAST_YEAR,
        description="Reporting year (the shipped municipality lists start in 2020)",
    ),
]
Caller = Annotated[Credential, Depends(api_caller)]


@router.get("/years", summary="Reporting years with submissions, newest first, and the default year")
def years(request: Request, _caller: Caller) -> dict[str, Any]:
    ctx = context(request)
    return {
        "years": overview.available_years(ctx.engine),
        "default": overview.default_year(ctx.engine, now(request)),
    }


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
)
def year_overview(
    request: Request,
    year: Year,
    _caller: Caller,
    status: Literal["all", "missing", "received", "findings", "replaced", "late", "overdue"] = "all",
    q: Annotated[str, Query(max_length=100)] = "",
    sort: Literal["municipality", "name", "status", "received", "records", "findings", "replaced"] = "municipality",
    order: Literal["asc", "desc"] = "asc",
) -> dict[str, Any]:
    query = overview.OverviewQuery(status=status, q=q.strip(), sort=sort, order=order)
    return overview.year_overview(context(request).engine, year, now(request), query).document()


@router.get(
    "/years/{year}/intake",
    summary="Submissions per day for the year, and municipalities received so far (operators and auditors)",
)
def intake(request: Request, year: Year, _caller: Caller) -> dict[str, Any]:
    return overview.intake_by_day(context(request).engine, year)


@router.get(
    "/years/{year}/findings-by-rule",
    summary="Findings per control rule across municipalities, with rates (operators only)",
    description="Person-based figures below 5 are suppressed (null, `suppressed`). 403 for an auditor's credential.",
)
def findings_by_rule(request: Request, year: Year, caller: Caller) -> dict[str, Any]:
    require_findings(caller)
    return overview.findings_by_rule(context(request).engine, year)


@router.get(
    "/years/{year}/records-per-service-type",
    summary="Person records and service lines per service type (operators and auditors; below 5 suppressed)",
)
def records_per_service_type(request: Request, year: Year, _caller: Caller) -> dict[str, Any]:
    return overview.records_per_service_type(context(request).engine, year)


@router.get(
    "/submissions/{submission_id}",
    summary="One submission: facts, counts, findings by rule, replacement history, receipt, audit trail",
    description="For an auditor's credential `findings_by_rule` is null and `findings_withheld` true.",
    responses=_NOT_FOUND,
)
def submission(request: Request, submission_id: str, caller: Caller) -> dict[str, Any]:
    detail = overview.submission_detail(context(request), submission_id, with_findings=sees_findings(caller))
    if detail is None:
        raise Problem("not-found", 404, "No submission with this id")
    return detail


@router.get(
    "/submissions/{submission_id}/findings",
    summary="A submission's findings record by record (by random reference), optionally of one rule (operators only)",
    responses=_NOT_FOUND,
)
def submission_findings(
    request: Request,
    submission_id: str,
    caller: Caller,
    rule: Annotated[str | None, Query(pattern=r"^[A-Z][0-9]{3}$")] = None,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict[str, Any]:
    require_findings(caller)
    ctx = context(request)
    if not overview.MESSAGE_ID.fullmatch(submission_id) or ctx.repository.get(submission_id) is None:
        raise Problem("not-found", 404, "No submission with this id")
    return overview.record_findings(ctx.engine, submission_id, rule, offset, limit)
