"""The gateway's HTTP API: exports in, submission status out. Each route reads the request and calls one use case
(``service``); who may do what is the use case's to decide.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from services.kit.api_docs import raw_body
from services.kit.bodies import require_media_type, spool_body
from services.municipality_gateway import service
from services.municipality_gateway.dependencies import AUTH_RESPONSES, Caller, Context, UploadSlot
from services.municipality_gateway.schemas import (
    ComparisonReport,
    ControlReport,
    Submission,
    SubmissionAccepted,
    SubmissionList,
)

XML_TYPES = ("application/xml", "text/xml")
#: A population register extract (docs/population-register.md): JSON lines.
EXTRACT_TYPES = ("application/x-ndjson", "application/jsonl")
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such submission (or not the caller's municipality's)"}
}
router = APIRouter(tags=["submissions"])


@router.post(
    "/v1/submissions",
    status_code=202,
    summary="Submit an IPLOS export (XML); it is validated, split, sealed, signed and queued for delivery",
    responses={
        202: {"description": "Accepted into the durable outbox"},
        **AUTH_RESPONSES,
        403: {"description": "The credential's role may not submit, or it is bound to another municipality"},
        409: {"description": "The same bytes as the municipality-year's submission in effect (identical-resubmission)"},
        413: {"description": "The export is larger than the configured limit"},
        415: {"description": "The body is not XML (at the population register's gateway: not an extract)"},
        422: {
            "description": "The export does not validate (with line and element), exceeds a limit of the chain"
            " (limit-exceeded), its municipality is not served, it has no persons (empty-export), or its year is"
            " not one the register takes"
        },
        429: {"description": "This credential has as many uploads in progress as it may (Retry-After)"},
        503: {"description": "The gateway has as many uploads in progress as it takes (Retry-After)"},
    },
    openapi_extra=raw_body(
        "The care-record system's IPLOS export, as it is (docs/iplos-format.md; the XSD at"
        " shared/iplos/iplos-export-1.xsd), streamed: it is validated while it is read. At the population"
        " register's gateway: a register extract instead (docs/population-register.md)",
        {
            "application/xml": "An IPLOS export (iplos-export-1.xsd), UTF-8",
            "text/xml": "The same, under the older media type",
            "application/x-ndjson": "At the population register's gateway only: an iplos-folkeregister/1 extract",
            "application/jsonl": "The same, under the other media type",
        },
    ),
)
async def post_submission(
    request: Request, response: Response, caller: Caller, _slot: UploadSlot, ctx: Context
) -> SubmissionAccepted:
    # The population register's gateway takes its extracts, and a municipalities' gateway care exports only.
    require_media_type(request, *(EXTRACT_TYPES if ctx.register_zone else XML_TYPES))
    # Hashed while it is spooled: the identical-file check needs the digest before sealing, and this way the
    # spool is read once, by the parse.
    sha256 = hashlib.sha256()
    body = await spool_body(request, ctx.settings.max_body_bytes, ctx.work_dir, digest=sha256)
    try:
        submit = service.submit_extract if ctx.register_zone else service.submit_export
        accepted = await submit(ctx, caller, body, export_sha256=sha256.hexdigest())
    finally:
        body.close()
    response.headers["Location"] = accepted.status_url
    return accepted


@router.get(
    "/v1/submissions",
    summary="This gateway's submissions, newest first (a municipality's credential sees its own only)",
    responses=AUTH_RESPONSES,
)
async def list_submissions(
    caller: Caller,
    ctx: Context,
    municipality: Annotated[str | None, Query(pattern=r"^[0-9]{4}$")] = None,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> SubmissionList:
    return SubmissionList(submissions=await service.list_submissions(ctx, caller, municipality, year))


@router.get(
    "/v1/submissions/{submission_id}",
    summary="One submission, followed through the TPF to the registry's receipt",
    responses={**AUTH_RESPONSES, **_NOT_FOUND},
)
async def get_submission(submission_id: str, caller: Caller, ctx: Context) -> Submission:
    return await service.get_submission(ctx, caller, submission_id)


@router.post(
    "/v1/submissions/{submission_id}/retry",
    summary="Put a rejected or dead-lettered submission back in the delivery queue",
    responses={**AUTH_RESPONSES, **_NOT_FOUND, 409: {"description": "Not in a retryable state"}},
)
async def retry_submission(submission_id: str, caller: Caller, ctx: Context) -> Submission:
    return await service.retry(ctx, caller, submission_id)


@router.post(
    "/v1/submissions/{submission_id}/confirm-replacement",
    summary="Confirm that a held submission replace the year's active one at the registry",
    responses={
        **AUTH_RESPONSES,
        **_NOT_FOUND,
        409: {"description": "The submission is not held"},
        502: {"description": "The registry did not apply the confirmation (the submission stays held)"},
        503: {"description": "The registry could not be reached"},
    },
)
async def confirm_replacement(submission_id: str, caller: Caller, ctx: Context) -> Submission:
    return await service.confirm_replacement(ctx, caller, submission_id)


@router.get(
    "/v1/submissions/{submission_id}/report",
    summary="The registry's control report for a submission, with findings named by this municipality's brukerNr",
    responses={
        **AUTH_RESPONSES,
        404: {"description": "No such submission (or not the caller's municipality's), or no report for it"},
        409: {"description": "The submission has not been stored by the registry (yet)"},
        502: {"description": "The registry's report could not be fetched, verified or opened"},
        503: {"description": "The registry could not be reached"},
    },
)
async def get_report(submission_id: str, caller: Caller, ctx: Context) -> ControlReport:
    return await service.report(ctx, caller, submission_id)


@router.get(
    "/v1/submissions/{submission_id}/comparison",
    summary="The registry's comparison statistics for the submission's municipality, beside its county's and the"
    " country's, of its year and the year before (docs/comparison.md)",
    responses={
        **AUTH_RESPONSES,
        404: {"description": "No such submission (or not the caller's municipality's)"},
        409: {"description": "The submission is not the year's active one at the registry (yet)"},
        410: {"description": "The submission was superseded: the newer one's statistics apply"},
        502: {"description": "The registry's statistics could not be fetched, verified or opened"},
        503: {"description": "The registry could not be reached"},
    },
)
async def get_comparison(submission_id: str, caller: Caller, ctx: Context) -> ComparisonReport:
    return await service.comparison(ctx, caller, submission_id)
