"""The gateway's HTTP API: exports in, submission status out.

Every endpoint but the health route needs a bearer credential (``IPLOS_GATEWAY_CREDENTIALS_FILE``): a
``municipality`` credential is bound to one kommuneNr and submits, lists, reads and retries that
municipality's submissions only; an ``operator`` (the municipality IT operator who runs this gateway) acts for
every municipality it serves. Another municipality's submission is answered exactly like an unknown id, so a
municipality cannot learn that it exists.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import httpx
import structlog
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import Engine

from services.kit import health
from services.kit.audit_log import AuditLog, audit_router
from services.kit.bodies import require_media_type, spool_body
from services.kit.credentials import AUDIT_READERS, Credential, authenticate, load_credentials, read_token_file
from services.kit.lifespan import open_service, stop_tasks
from services.kit.problems import Problem, install_problem_handlers
from services.municipality_gateway import confirmation, feedback, models, monitoring, outbox, pages, screening
from services.municipality_gateway.admission import UploadSlots
from services.municipality_gateway.config import GatewaySettings
from services.municipality_gateway.sealing import seal_export
from shared.keys import PartyKeys, PublicDirectory
from shared.keys.municipality import load_municipality_keys

MIGRATIONS = Path(__file__).parent / "migrations"
XML_TYPES = ("application/xml", "text/xml")
_PARTY_FOLDER = re.compile(r"^kommune-([0-9]{4})$")
GATEWAY_ROLES = frozenset({"operator", "municipality"})
log = structlog.get_logger("gateway")
router = APIRouter()


@dataclass
class GatewayContext:
    settings: GatewaySettings
    engine: Engine
    directory: PublicDirectory
    keys: dict[str, PartyKeys]
    worker: outbox.OutboxWorker
    client: httpx.AsyncClient
    credentials: list[Credential]
    audit: AuditLog
    metrics: monitoring.GatewayMetrics
    registry_token: str | None = None
    """The gateway's own bearer token at the registry (``REGISTRY_TOKEN_FILE``), for fetching reports."""

    @property
    def work_dir(self) -> Path:
        return self.settings.state_dir / "work"

    @property
    def outbox_dir(self) -> Path:
        return self.settings.state_dir / "outbox"


def _ctx(request: Request) -> GatewayContext:
    ctx: GatewayContext = request.app.state.gateway
    return ctx


async def _caller(request: Request) -> Credential:
    """The caller's credential; resolved before the query, path and body are looked at, so a caller without
    one learns nothing about them (401/403 come first)."""
    return authenticate(request, _ctx(request).credentials, GATEWAY_ROLES)


Caller = Annotated[Credential, Depends(_caller)]


async def _upload_slot(request: Request, caller: Caller) -> AsyncIterator[None]:
    """One of the caller's upload slots (admission.py), held from before the body is read to the answer."""
    slots: UploadSlots = request.app.state.upload_slots
    with slots.slot(caller.name):
        yield


UploadSlot = Annotated[None, Depends(_upload_slot)]
_AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "No bearer token, or one this gateway does not know"},
    403: {"description": "The credential's role may not use the gateway"},
}
_NOT_FOUND = "No submission with this id"


def _not_found() -> Problem:
    # One answer for "no such id" and "another municipality's submission": the caller cannot tell them apart.
    return Problem("not-found", 404, _NOT_FOUND)


def _not_permitted(caller: Credential) -> Problem:
    # Names the municipality the credential is bound to (from the credential file, not from the request).
    return Problem(
        "municipality-not-permitted",
        403,
        "This credential may not submit for the export's municipality; nothing was accepted",
        permitted=caller.municipality,
    )


def load_served_keys(key_dir: Path) -> dict[str, PartyKeys]:
    """The municipalities this gateway serves are the ``kommune-NNNN`` folders in its key folder."""
    served: dict[str, PartyKeys] = {}
    for folder in sorted(key_dir.iterdir()):
        match = _PARTY_FOLDER.match(folder.name)
        if match and folder.is_dir():
            served[match.group(1)] = load_municipality_keys(folder, match.group(1))
    if not served:
        raise RuntimeError(f"no municipality key folder (kommune-NNNN) in {key_dir}")
    return served


@router.post(
    "/v1/submissions",
    tags=["submissions"],
    status_code=202,
    summary="Submit an IPLOS export (XML); it is validated, split, sealed, signed and queued for delivery",
    responses={
        202: {"description": "Accepted into the durable outbox"},
        **_AUTH_RESPONSES,
        403: {"description": "The credential's role may not submit, or it is bound to another municipality"},
        409: {"description": "The same bytes as the municipality-year's submission in effect (identical-resubmission)"},
        413: {"description": "The export is larger than the configured limit"},
        415: {"description": "The body is not XML"},
        422: {
            "description": "The export does not validate (with line and element), exceeds a limit of the chain"
            " (limit-exceeded), its municipality is not served, it has no persons (empty-export), or its year is"
            " not one the register takes"
        },
        429: {"description": "This credential has as many uploads in progress as it may (Retry-After)"},
        503: {"description": "The gateway has as many uploads in progress as it takes (Retry-After)"},
    },
)
async def post_submission(request: Request, caller: Caller, _slot: UploadSlot) -> JSONResponse:
    ctx = _ctx(request)
    require_media_type(request, *XML_TYPES)
    body = await spool_body(request, ctx.settings.max_body_bytes, ctx.work_dir)
    try:
        facts = await run_in_threadpool(screening.screen, body)
        if (
            caller.municipality is not None
            and facts.municipality is not None
            and not caller.acts_for(facts.municipality)
        ):
            # Refused before sealing: no work folder is made and no key is used for an export it may not send.
            raise _not_permitted(caller)
        screening.refuse_year(facts.year)
        await run_in_threadpool(screening.refuse_identical, ctx.engine, facts)
        with ctx.metrics.stage("seal"):
            sealed = await run_in_threadpool(
                seal_export,
                body,
                ctx.keys,
                ctx.directory,
                ctx.work_dir,
                max_person_bytes=ctx.settings.max_person_xml_bytes,
                max_message_bytes=ctx.settings.max_message_bytes,
            )
    finally:
        body.close()
    try:
        if not caller.acts_for(sealed.header.kommune_nr):
            # What was sealed is what counts (the early look above read the same bytes, but this is the header
            # that would be signed): nothing is queued, and the sealed folder goes.
            raise _not_permitted(caller)
        screening.refuse_empty(sealed.record_count)
    except Problem:
        await run_in_threadpool(shutil.rmtree, sealed.folder, True)
        raise
    try:
        accepted = await run_in_threadpool(
            outbox.accept,
            ctx.engine,
            sealed,
            ctx.keys[sealed.header.kommune_nr],
            ctx.outbox_dir,
            ctx.audit,
            export_sha256=facts.sha256,
        )
    except BaseException:
        # Nothing was queued (accept renames the folder into the outbox only as its last step): the sealed
        # parts go now, not at the next start.
        await run_in_threadpool(shutil.rmtree, sealed.folder, True)
        raise
    ctx.metrics.accepted(accepted["records"])
    ctx.worker.wake()
    log.info(
        "submission accepted",
        message_id=accepted["submission_id"],
        municipality=accepted["municipality"],
        year=accepted["year"],
        sequence=accepted["sequence"],
        records=accepted["records"],
        credential=caller.name,
    )
    accepted["status_url"] = f"/v1/submissions/{accepted['submission_id']}"
    return JSONResponse(accepted, status_code=202, headers={"Location": accepted["status_url"]})


@router.get(
    "/v1/submissions",
    tags=["submissions"],
    summary="This gateway's submissions, newest first (a municipality's credential sees its own only)",
    responses=_AUTH_RESPONSES,
)
async def list_submissions(
    request: Request,
    caller: Caller,
    municipality: Annotated[str | None, Query(pattern=r"^[0-9]{4}$")] = None,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> dict[str, Any]:
    if caller.municipality is not None:
        if municipality is not None and municipality != caller.municipality:
            return {"submissions": []}  # the same answer as for a municipality with no submissions
        municipality = caller.municipality
    rows = await run_in_threadpool(outbox.list_all, _ctx(request).engine, municipality, year)
    return {"submissions": rows}


@router.get(
    "/v1/submissions/{submission_id}",
    tags=["submissions"],
    summary="One submission, followed through the TPF to the registry's receipt",
    responses={**_AUTH_RESPONSES, 404: {"description": "No such submission (or not the caller's municipality's)"}},
)
async def get_submission(request: Request, submission_id: str, caller: Caller) -> dict[str, Any]:
    row = await run_in_threadpool(outbox.get, _ctx(request).engine, submission_id)
    if row is None or not caller.acts_for(row["municipality"]):
        raise _not_found()
    return row


@router.post(
    "/v1/submissions/{submission_id}/retry",
    tags=["submissions"],
    summary="Put a rejected or dead-lettered submission back in the delivery queue",
    responses={
        **_AUTH_RESPONSES,
        404: {"description": "No such submission (or not the caller's municipality's)"},
        409: {"description": "Not in a retryable state"},
    },
)
async def retry_submission(request: Request, submission_id: str, caller: Caller) -> dict[str, Any]:
    ctx = _ctx(request)
    # Whose it is, before anything changes (a submission's municipality never changes, so no race here).
    own = await run_in_threadpool(outbox.get, ctx.engine, submission_id)
    if own is None or not caller.acts_for(own["municipality"]):
        raise _not_found()
    row = await run_in_threadpool(outbox.requeue, ctx.engine, ctx.outbox_dir, submission_id, ctx.audit)
    if row is None:
        raise _not_found()
    ctx.metrics.message("requeued")
    ctx.worker.wake()
    log.info("submission requeued", message_id=submission_id, credential=caller.name)
    return row


@router.post(
    "/v1/submissions/{submission_id}/confirm-replacement",
    tags=["submissions"],
    summary="Confirm that a held submission replace the year's active one at the registry",
    responses={
        **_AUTH_RESPONSES,
        404: {"description": "No such submission (or not the caller's municipality's)"},
        409: {"description": "The submission is not held"},
        502: {"description": "The registry did not apply the confirmation (the submission stays held)"},
        503: {"description": "The registry could not be reached"},
    },
)
async def confirm_replacement(request: Request, submission_id: str, caller: Caller) -> dict[str, Any]:
    ctx = _ctx(request)
    row = await run_in_threadpool(outbox.get, ctx.engine, submission_id)
    if row is None or not caller.acts_for(row["municipality"]):
        raise _not_found()
    return await confirmation.confirm_for(ctx, row, caller.name)


@router.get(
    "/v1/submissions/{submission_id}/report",
    tags=["submissions"],
    summary="The registry's control report for a submission, with findings named by this municipality's brukerNr",
    responses={
        **_AUTH_RESPONSES,
        404: {"description": "No such submission (or not the caller's municipality's), or no report for it"},
        409: {"description": "The submission has not been stored by the registry (yet)"},
        502: {"description": "The registry's report could not be fetched, verified or opened"},
        503: {"description": "The registry could not be reached"},
    },
)
async def get_report(request: Request, submission_id: str, caller: Caller) -> dict[str, Any]:
    ctx = _ctx(request)
    row = await run_in_threadpool(feedback.submission_row, ctx.engine, submission_id)
    if row is None or not caller.acts_for(row.municipality):
        raise _not_found()
    return await feedback.report_of(ctx, row)


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()  # type: ignore[call-arg]  # from the environment

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # FULL: a submission answered 202 must survive a power loss, not only a process crash.
        engine = await open_service(
            "gateway",
            settings.state_dir,
            settings.effective_database_url,
            MIGRATIONS,
            settings.log_level,
            sqlite_synchronous="FULL",
        )
        async with httpx.AsyncClient(timeout=settings.delivery_timeout_s) as client:
            directory = PublicDirectory.load(settings.directory)
            served = load_served_keys(settings.key_dir)
            # The log is signed with the key of the (first) municipality served: a gateway belongs to a
            # municipality's secure zone, and an auditor finds that key in the public directory.
            signer = served[min(served)]
            audit = AuditLog(engine, models.audit, service="gateway", log_name=signer.party, signing_key=signer.signing)
            worker = outbox.OutboxWorker(
                engine,
                directory,
                settings.state_dir / "outbox",
                settings.tpf_url,
                client,
                max_attempts=settings.delivery_max_attempts,
                backoff_s=settings.delivery_backoff_s,
                backoff_max_s=settings.delivery_backoff_max_s,
                audit=audit,
                metrics=metrics,
            )
            metrics.watch_outbox(engine, models.submissions)
            app.state.readiness = monitoring.readiness(settings, engine, load_served_keys)
            credentials = load_credentials(settings.credentials_file)
            for credential in credentials:
                if credential.municipality is not None and credential.municipality not in served:
                    # Not fatal (the credential can do nothing here), but most likely a configuration mistake.
                    log.warning(
                        "credential bound to a municipality this gateway does not serve",
                        credential=credential.name,
                        municipality=credential.municipality,
                    )
            ctx = GatewayContext(settings, engine, directory, served, worker, client, credentials, audit, metrics)
            if settings.registry_token_file is not None:
                ctx.registry_token = read_token_file(settings.registry_token_file)
            ctx.work_dir.mkdir(parents=True, exist_ok=True)
            await run_in_threadpool(outbox.cleanup, engine, ctx.work_dir, ctx.outbox_dir)
            app.state.gateway = ctx
            tasks = [
                asyncio.create_task(worker.run()),
                asyncio.create_task(audit.run_checkpoints(settings.audit_checkpoint_interval_s)),
            ]
            log.info("gateway ready", municipalities=sorted(ctx.keys))
            yield
            await stop_tasks(tasks)
        engine.dispose()

    app = FastAPI(title="IPLOS municipality gateway", version="1", lifespan=lifespan)
    app.state.upload_slots = UploadSlots(
        settings.max_uploads_per_caller, settings.max_uploads, settings.upload_retry_after_s
    )
    install_problem_handlers(app, body_limit=settings.max_body_bytes)
    metrics = monitoring.GatewayMetrics()
    metrics.install(app, credentials=lambda r: _ctx(r).credentials, token_required=settings.metrics_token_required)
    app.include_router(health.router)
    app.include_router(router)
    app.include_router(audit_router(_audit_log, _audit_reader))
    pages.install(app)
    return app


def _audit_log(request: Request) -> AuditLog:
    return _ctx(request).audit


def _audit_reader(request: Request) -> None:
    authenticate(request, _ctx(request).credentials, AUDIT_READERS)
