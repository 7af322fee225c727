"""Reading submissions: the list and one submission (operators and auditors), and a stored submission's control
report (a municipality gateway's own credential)."""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from services.registry_intake import service
from services.registry_intake.dependencies import Context, MunicipalityPeer, ReportFetcher, require_operator
from services.registry_intake.schemas import SealedComparison, SealedReport, SubmissionList, SubmissionView
from services.registry_intake.service import reading

__all__ = ["router"]

router = APIRouter(tags=["submissions"])

#: The report answer's header that says whether the population register's extract has judged the records.
REGISTER_CHECK_HEADER = "Iplos-Register-Check"


@router.get(
    "/v1/submissions",
    summary="Submissions with status and record counts (operators and auditors)",
    response_model=SubmissionList,
    responses={401: {"description": "No or unknown bearer token"}},
)
async def list_submissions(
    request: Request,
    ctx: Context,
    municipality: Annotated[str | None, Query(pattern=r"^[0-9]{4}$")] = None,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> SubmissionList:
    require_operator(request)
    return await run_in_threadpool(reading.submissions, ctx, municipality, year)


@router.get(
    "/v1/submissions/{submission_id}",
    summary="One submission (operators and auditors)",
    response_model=SubmissionView,
    responses={401: {"description": "No or unknown bearer token"}},
)
async def get_submission(request: Request, submission_id: str, ctx: Context) -> SubmissionView:
    require_operator(request)
    return await run_in_threadpool(reading.submission, ctx, submission_id)


@router.get(
    "/v1/submissions/{submission_id}/report",
    summary="The control report of a stored submission, sealed for the submitting municipality only"
    " (a municipality gateway's own credential)",
    response_class=Response,
    responses={
        200: {
            "description": "The report: {header, signature, part}, with its ETag (it changes when the register"
            " controls change the findings) and Iplos-Register-Check: done (the population register's extract of"
            " the municipality and year has judged the records) or pending",
            "model": SealedReport,
        },
        304: {"description": "If-None-Match named the report as kept: it has not changed"},
        401: {"description": "No bearer token, or one the registry does not know"},
        403: {
            "description": "The credential is not a gateway's, or the connection's TLS certificate is not the"
            " submitting municipality's (wrong-peer)"
        },
        404: {"description": "No such submission, or it was refused (no records, no report)"},
        410: {"description": "The submission was superseded: the replacing submission's report applies"},
    },
)
async def get_report(
    request: Request, submission_id: str, ctx: Context, _fetcher: ReportFetcher, peer: MunicipalityPeer
) -> Response:
    # Sealed and signed once, then served as stored: the bytes go out as they were kept. The kept report changes
    # only when the population register's extract changes the findings, so a gateway that kept an earlier one
    # revalidates it with If-None-Match instead of fetching it whole again.
    answer = await run_in_threadpool(service.report, ctx, submission_id, peer)
    check = "done" if answer.register_checked else "pending"
    headers = {
        # Over the report and whether the register controls have run: an extract that finds nothing in this
        # submission leaves the report as it was, and the gateway must still learn that the check is done.
        "ETag": f'"{hashlib.sha256(answer.body + check.encode()).hexdigest()[:32]}"',
        # Whether the register controls have run (advisory, for the municipality's pages: the findings are signed).
        REGISTER_CHECK_HEADER: check,
    }
    if headers["ETag"] in (tag.strip() for tag in request.headers.get("if-none-match", "").split(",")):
        return Response(status_code=304, headers=headers)
    return Response(answer.body, media_type="application/json", headers=headers)


@router.get(
    "/v1/submissions/{submission_id}/comparison",
    summary="The comparison statistics of a stored submission's municipality, sealed for it only"
    " (a municipality gateway's own credential)",
    response_class=Response,
    responses={
        200: {
            "description": "{header, signature, part}: the municipality's, its county's and the country's indicators"
            " of the submission's year and the year before (docs/comparison.md), small cells hidden, with an ETag",
            "model": SealedComparison,
        },
        304: {"description": "If-None-Match named the figures as kept: they have not changed"},
        401: {"description": "No bearer token, or one the registry does not know"},
        403: {
            "description": "The credential is not a gateway's, or the connection's TLS certificate is not the"
            " submitting municipality's (wrong-peer)"
        },
        404: {"description": "No such submission, or it was refused"},
        409: {"description": "The submission is held: its figures come once it is confirmed (report-not-ready)"},
        410: {"description": "The submission was superseded: the replacing submission's figures apply"},
    },
)
async def get_comparison(
    request: Request, submission_id: str, ctx: Context, _fetcher: ReportFetcher, peer: MunicipalityPeer
) -> Response:
    answer = await run_in_threadpool(
        service.comparison_report, ctx, submission_id, peer, request.headers.get("if-none-match", "")
    )
    headers = {"ETag": answer.etag}
    if not answer.body:
        return Response(status_code=304, headers=headers)
    return Response(answer.body, media_type="application/json", headers=headers)
