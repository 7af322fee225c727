"""The registers the registry keeps beside the care data, under ``/v1/operator``: loading a bulk file of
Enhetsregisteret (operators only, bearer token: a write is never made on the pages' cookie) and reading what the
copy holds (operators and auditors)."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from services.kit.api_docs import raw_body
from services.kit.bodies import require_media_type, spool_body
from services.kit.credentials import authenticate
from services.registry_intake.dependencies import Caller, Clock, Context, credentials
from services.registry_intake.schemas import BusinessLoadResult, BusinessLoadView, BusinessRegisterStatus
from services.registry_intake.service import business_register
from shared.business_register import UnitKind

__all__ = ["router"]

#: The media types a bulk file comes with: as downloaded (gzip), or unpacked.
MEDIA_TYPES = ("application/gzip", "application/x-gzip", "text/csv", "application/json", "application/octet-stream")

router = APIRouter(prefix="/v1/operator", tags=["registers"])
#: Who may load a register: the registry's operators (an auditor reads, never writes).
OPERATORS = frozenset({"operator"})


@router.post(
    "/business-register",
    summary="Load a bulk file of Enhetsregisteret (main units or sub-units) into the registry's copy (operators)",
    description=(
        "The body is the file as Brønnøysundregistrene serves it (`/enhetsregisteret/api/enheter/lastned` or "
        "`/underenheter/lastned`, JSON or `/lastned/csv`), gzipped or not; the file says which kind it holds. Units "
        "it lists are written over the copy's; units of its kind the copy held and the file no longer lists are "
        "marked deleted as of `as_of`. Every active and held care submission is then judged again (K036-K039). "
        "One transaction: a file with any bad record changes nothing (422, with the place and the rule)."
    ),
    status_code=201,
    response_model=BusinessLoadResult,
    responses={
        401: {"description": "No bearer token, or an unknown one"},
        403: {"description": "Not an operator's credential"},
        409: {"description": "A file of the kind taken on a later day is already loaded"},
        413: {"description": "The body is larger than the configured limit"},
        415: {"description": "Not a CSV, JSON or gzip body"},
        422: {"description": "Not a bulk file of Enhetsregisteret, or a bad record (place and rule named)"},
    },
    openapi_extra=raw_body(
        "A bulk file of Enhetsregisteret as downloaded, streamed (docs/business-register.md)",
        {
            "application/gzip": "The file gzipped, as Brønnøysundregistrene serves it",
            "application/x-gzip": "The same",
            "text/csv": "The CSV download, unpacked",
            "application/json": "The JSON download (an array of units), unpacked",
            "application/octet-stream": "Any of these: the file says which it is",
        },
    ),
)
async def load_business_register(
    request: Request,
    ctx: Context,
    now: Clock,
    as_of: Annotated[
        dt.date | None, Query(description="The day the file was taken from the register (default: today)")
    ] = None,
    kind: Annotated[
        Literal["enhet", "underenhet"] | None, Query(description="The file's kind, if it cannot tell itself")
    ] = None,
) -> BusinessLoadResult:
    caller = authenticate(request, credentials(request), OPERATORS)
    require_media_type(request, *MEDIA_TYPES)
    settings = request.app.state.settings
    sha256 = hashlib.sha256()
    spool = await spool_body(request, settings.max_body_bytes, settings.state_dir / "uploads", digest=sha256)
    with spool:
        upload = business_register.BusinessFile(
            spool=spool, sha256=sha256.hexdigest(), as_of=as_of, kind=None if kind is None else UnitKind(kind)
        )
        outcome = await run_in_threadpool(business_register.load_business_file, ctx, upload, caller.name, now)
    return BusinessLoadResult(**_view(outcome.load).model_dump(), findings_changed=outcome.findings_changed)


@router.get(
    "/business-register",
    summary="What the registry's copy of Enhetsregisteret holds: the latest loads (operators and auditors)",
    response_model=BusinessRegisterStatus,
    responses={401: {"description": "No credential, or an unknown one"}},
)
def business_register_status(ctx: Context, _caller: Caller) -> BusinessRegisterStatus:
    return BusinessRegisterStatus(
        complete=business_register.copy_complete(ctx),
        loads=[_view(load) for load in business_register.recent_loads(ctx)],
    )


def _view(load: business_register.BusinessLoad) -> BusinessLoadView:
    return BusinessLoadView(
        load_id=load.load_id,
        kind="enhet" if load.kind == "enhet" else "underenhet",
        as_of=load.as_of.isoformat(),
        loaded_at=load.loaded_at.isoformat(),
        loaded_by=load.loaded_by,
        file_sha256=load.file_sha256,
        unit_count=load.unit_count,
        gone_count=load.gone_count,
    )
