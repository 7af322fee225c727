"""The TPF's HTTP API: ``POST /v1/messages`` from municipality gateways."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import structlog
from fastapi import APIRouter, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from services.kit import health
from services.kit.bodies import read_small_field, read_upload, refuse_large, require_media_type
from services.kit.database import make_engine, upgrade_database
from services.kit.logging import configure_logging, prepare_state_dir
from services.kit.problems import Problem, install_problem_handlers
from services.tpf import service
from services.tpf.config import TpfSettings
from shared.envelope import transport as wire
from shared.keys import PublicDirectory
from shared.keys.tpf import load_tpf_keys

MIGRATIONS = Path(__file__).parent / "migrations"
log = structlog.get_logger("tpf")
router = APIRouter()


def _ctx(request: Request) -> service.TpfContext:
    ctx: service.TpfContext = request.app.state.tpf
    return ctx


@router.post(
    "/v1/messages",
    tags=["messages"],
    summary="Take a sealed message from a municipality, pseudonymise it and forward it to the registry",
    responses={
        200: {"description": "Forwarded; the registry's signed receipt"},
        400: {"description": "The sealed message could not be verified or opened"},
        403: {"description": "The signer is not a registered municipality, or does not match the header"},
        409: {"description": "The message id was processed before; the original receipt is included"},
        413: {"description": "The body is larger than the configured limit"},
        502: {"description": "The registry refused the delivery"},
        503: {"description": "The registry could not be reached; the sender should retry"},
    },
)
async def post_message(request: Request) -> JSONResponse:
    ctx = _ctx(request)
    refuse_large(request, request.app.state.settings.max_body_bytes)
    require_media_type(request, "multipart/form-data")
    async with request.form(max_files=4, max_fields=4, max_part_size=64 * 1024) as form:
        header_bytes = await read_small_field(form.get(wire.SUBMISSION_HEADER), wire.SUBMISSION_HEADER)
        signature = await read_small_field(form.get(wire.SUBMISSION_SIGNATURE), wire.SUBMISSION_SIGNATURE, 64)
        identity = await read_upload(form.get(wire.IDENTITY), wire.IDENTITY)
        payload = await read_upload(form.get(wire.PAYLOAD), wire.PAYLOAD)
        header = None
        try:
            header = await run_in_threadpool(service.check_submission, ctx, header_bytes, signature, identity, payload)
            previous = await run_in_threadpool(service.stored_receipt, ctx.engine, header.message_id)
            if previous is not None:
                receipt, receipt_signature = previous
                if receipt.get("submission_sha256") != hashlib.sha256(header_bytes).hexdigest():
                    raise Problem(
                        "message-id-conflict", 409, "This message id was used before for a different submission"
                    )
                raise Problem(
                    "replayed-message",
                    409,
                    "This message id was processed before; the original receipt is included",
                    receipt=receipt,
                    signature=receipt_signature,
                )
            done = await run_in_threadpool(service.pseudonymise, ctx, header, header_bytes, identity)
            try:
                receipt, receipt_signature = await service.forward(ctx, header_bytes, signature, done, payload)
            finally:
                done.pseudonyms.close()
        except Problem as problem:
            await run_in_threadpool(service.record_refusal, ctx.engine, problem, header)
            raise
    await run_in_threadpool(service.record_forwarded, ctx.engine, header, done, receipt, receipt_signature)
    log.info(
        "message forwarded",
        message_id=header.message_id,
        municipality=header.municipality,
        year=header.year,
        records=done.header.counts.records,
        refused=done.header.counts.refused,
        outcome=receipt.get("status"),
    )
    return JSONResponse({"receipt": receipt, "signature": receipt_signature})


def create_app(settings: TpfSettings | None = None) -> FastAPI:
    settings = settings or TpfSettings()  # type: ignore[call-arg]  # from the environment

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        prepare_state_dir(settings.state_dir)
        configure_logging("tpf", settings.state_dir / "logs" / "tpf.log", settings.log_level)
        engine = make_engine(settings.effective_database_url)
        await run_in_threadpool(upgrade_database, engine, MIGRATIONS)
        async with httpx.AsyncClient(timeout=settings.forward_timeout_s) as client:
            app.state.settings = settings
            keys = load_tpf_keys(settings.key_dir)
            if settings.pseudonym_key_version not in keys.pseudonym_keys:
                raise RuntimeError(
                    f"pseudonym key version {settings.pseudonym_key_version} is configured "
                    f"(IPLOS_TPF_PSEUDONYM_KEY_VERSION) but {settings.key_dir} has no pseudonym-v"
                    f"{settings.pseudonym_key_version}.key"
                )
            app.state.tpf = service.TpfContext(
                keys=keys,
                pseudonym_key_version=settings.pseudonym_key_version,
                accept_synthetic_numbers=settings.accept_synthetic_numbers,
                max_age=dt.timedelta(days=settings.max_message_age_days),
                max_skew=dt.timedelta(seconds=settings.max_clock_skew_s),
                directory=PublicDirectory.load(settings.directory),
                engine=engine,
                registry_url=settings.registry_url.rstrip("/"),
                tmp_dir=settings.state_dir / "tmp",
                client=client,
            )
            log.info("tpf ready", pseudonym_key_version=settings.pseudonym_key_version)
            yield
        engine.dispose()

    app = FastAPI(title="IPLOS trusted pseudonym manager (TPF)", version="1", lifespan=lifespan)
    install_problem_handlers(app, body_limit=settings.max_body_bytes)
    app.include_router(health.router)
    app.include_router(router)
    return app
