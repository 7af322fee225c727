"""The gateway's HTTP API: exports in, submission status out."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import httpx
import structlog
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from services.kit import health
from services.kit.bodies import require_media_type, spool_body
from services.kit.database import make_engine, upgrade_database
from services.kit.logging import configure_logging, prepare_state_dir
from services.kit.problems import Problem, install_problem_handlers
from services.municipality_gateway import feedback, outbox
from services.municipality_gateway.config import GatewaySettings
from services.municipality_gateway.sealing import seal_export
from shared.keys import PartyKeys, PublicDirectory
from shared.keys.municipality import load_municipality_keys

MIGRATIONS = Path(__file__).parent / "migrations"
XML_TYPES = ("application/xml", "text/xml")
_PARTY_FOLDER = re.compile(r"^kommune-([0-9]{4})$")
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

    @property
    def work_dir(self) -> Path:
        return self.settings.state_dir / "work"

    @property
    def outbox_dir(self) -> Path:
        return self.settings.state_dir / "outbox"


def _ctx(request: Request) -> GatewayContext:
    ctx: GatewayContext = request.app.state.gateway
    return ctx


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
        413: {"description": "The export is larger than the configured limit"},
        415: {"description": "The body is not XML"},
        422: {"description": "The export does not validate (with line and element), or its municipality is not served"},
    },
)
async def post_submission(request: Request) -> JSONResponse:
    ctx = _ctx(request)
    require_media_type(request, *XML_TYPES)
    body = await spool_body(request, ctx.settings.max_body_bytes, ctx.work_dir)
    try:
        sealed = await run_in_threadpool(seal_export, body, ctx.keys, ctx.directory, ctx.work_dir)
    finally:
        body.close()
    accepted = await run_in_threadpool(
        outbox.accept, ctx.engine, sealed, ctx.keys[sealed.header.kommune_nr], ctx.outbox_dir
    )
    ctx.worker.wake()
    log.info(
        "submission accepted",
        message_id=accepted["submission_id"],
        municipality=accepted["municipality"],
        year=accepted["year"],
        sequence=accepted["sequence"],
        records=accepted["records"],
    )
    accepted["status_url"] = f"/v1/submissions/{accepted['submission_id']}"
    return JSONResponse(accepted, status_code=202, headers={"Location": accepted["status_url"]})


@router.get("/v1/submissions", tags=["submissions"], summary="This gateway's submissions, newest first")
async def list_submissions(
    request: Request,
    municipality: Annotated[str | None, Query(pattern=r"^[0-9]{4}$")] = None,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> dict[str, Any]:
    rows = await run_in_threadpool(outbox.list_all, _ctx(request).engine, municipality, year)
    return {"submissions": rows}


@router.get(
    "/v1/submissions/{submission_id}",
    tags=["submissions"],
    summary="One submission, followed through the TPF to the registry's receipt",
)
async def get_submission(request: Request, submission_id: str) -> dict[str, Any]:
    row = await run_in_threadpool(outbox.get, _ctx(request).engine, submission_id)
    if row is None:
        raise Problem("not-found", 404, "No submission with this id")
    return row


@router.post(
    "/v1/submissions/{submission_id}/retry",
    tags=["submissions"],
    summary="Put a rejected or dead-lettered submission back in the delivery queue",
    responses={404: {"description": "No such submission"}, 409: {"description": "Not in a retryable state"}},
)
async def retry_submission(request: Request, submission_id: str) -> dict[str, Any]:
    ctx = _ctx(request)
    row = await run_in_threadpool(outbox.requeue, ctx.engine, ctx.outbox_dir, submission_id)
    if row is None:
        raise Problem("not-found", 404, "No submission with this id")
    ctx.worker.wake()
    log.info("submission requeued", message_id=submission_id)
    return row


@router.get(
    "/v1/submissions/{submission_id}/report",
    tags=["submissions"],
    summary="The registry's control report for a submission, with findings named by this municipality's brukerNr",
    responses={
        404: {"description": "No such submission, or the registry made no report for it"},
        409: {"description": "The submission has not been stored by the registry (yet)"},
        502: {"description": "The registry's report could not be fetched, verified or opened"},
        503: {"description": "The registry could not be reached"},
    },
)
async def get_report(request: Request, submission_id: str) -> dict[str, Any]:
    ctx = _ctx(request)
    row = await run_in_threadpool(feedback.submission_row, ctx.engine, submission_id)
    if row is None:
        raise Problem("not-found", 404, "No submission with this id")
    report = await run_in_threadpool(feedback.cached, ctx.engine, submission_id)
    if report is not None:
        return report
    if row.state != "stored":
        raise Problem("report-not-ready", 409, "The registry has not stored this submission", state=row.state)
    path = json.loads(row.receipt).get("report_path")
    if not path:
        raise Problem("not-found", 404, "The registry's receipt names no control report")
    body = await feedback.fetch_report(ctx.client, ctx.settings.registry_url, path)
    header_bytes = (ctx.outbox_dir / submission_id / outbox.HEADER_FILE).read_bytes()
    try:
        return await run_in_threadpool(
            feedback.open_and_map, ctx.engine, ctx.directory, ctx.keys[row.municipality], row, body, header_bytes
        )
    except IntegrityError:  # fetched twice at once: the other request stored it
        cached = await run_in_threadpool(feedback.cached, ctx.engine, submission_id)
        assert cached is not None
        return cached


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()  # type: ignore[call-arg]  # from the environment

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        prepare_state_dir(settings.state_dir)
        configure_logging("gateway", settings.state_dir / "logs" / "gateway.log", settings.log_level)
        # FULL: a submission answered 202 must survive a power loss, not only a process crash.
        engine = make_engine(settings.effective_database_url, sqlite_synchronous="FULL")
        await run_in_threadpool(upgrade_database, engine, MIGRATIONS)
        async with httpx.AsyncClient(timeout=settings.delivery_timeout_s) as client:
            directory = PublicDirectory.load(settings.directory)
            worker = outbox.OutboxWorker(
                engine,
                directory,
                settings.state_dir / "outbox",
                settings.tpf_url,
                client,
                max_attempts=settings.delivery_max_attempts,
                backoff_s=settings.delivery_backoff_s,
                backoff_max_s=settings.delivery_backoff_max_s,
            )
            ctx = GatewayContext(settings, engine, directory, load_served_keys(settings.key_dir), worker, client)
            ctx.work_dir.mkdir(parents=True, exist_ok=True)
            await run_in_threadpool(outbox.cleanup, engine, ctx.work_dir, ctx.outbox_dir)
            app.state.gateway = ctx
            task = asyncio.create_task(worker.run())
            log.info("gateway ready", municipalities=sorted(ctx.keys))
            yield
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        engine.dispose()

    app = FastAPI(title="IPLOS municipality gateway", version="1", lifespan=lifespan)
    install_problem_handlers(app, body_limit=settings.max_body_bytes)
    app.include_router(health.router)
    app.include_router(router)
    return app
