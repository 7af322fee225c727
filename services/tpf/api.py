"""The TPF's HTTP API: ``POST /v1/messages`` from municipality gateways."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import structlog
from fastapi import APIRouter, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from services.kit import health
from services.kit.audit_log import AuditLog, audit_router
from services.kit.bodies import (
    read_header_field,
    read_signature_field,
    read_upload,
    refuse_large,
    require_media_type,
)
from services.kit.credentials import AUDIT_READERS, authenticate, load_credentials
from services.kit.lifespan import open_service, stop_tasks
from services.kit.problems import Problem, install_problem_handlers
from services.kit.refusals import Recorded, RefusalMemory, StoredAnswer, final, is_final
from services.tpf import models, monitoring, outbox, service
from services.tpf.config import TpfSettings
from shared.envelope import SubmissionHeader
from shared.envelope import transport as wire
from shared.keys import PublicDirectory
from shared.keys.tpf import load_tpf_keys

MIGRATIONS = Path(__file__).parent / "migrations"
log = structlog.get_logger("tpf")
router = APIRouter()


def _ctx(request: Request) -> service.TpfContext:
    ctx: service.TpfContext = request.app.state.tpf
    return ctx


def _outbox(request: Request) -> outbox.TpfOutbox:
    box: outbox.TpfOutbox = request.app.state.outbox
    return box


@router.post(
    "/v1/messages",
    tags=["messages"],
    summary="Take a sealed message from a municipality, pseudonymise it and deliver it to the registry",
    responses={
        200: {"description": "Delivered; the registry's signed receipt"},
        202: {"description": "Taken into the TPF's durable outbox; poll the status URL for the receipt"},
        400: {"description": "The sealed message could not be verified or opened"},
        403: {"description": "The signer is not a registered municipality, or does not match the header"},
        409: {"description": "The message id was processed before; the original receipt is included"},
        413: {"description": "The body is larger than the configured limit"},
        502: {"description": "The registry refused the delivery for good"},
    },
)
async def post_message(request: Request) -> JSONResponse:
    ctx = _ctx(request)
    box = _outbox(request)
    refuse_large(request, request.app.state.settings.max_body_bytes)
    require_media_type(request, "multipart/form-data")
    async with request.form(max_files=4, max_fields=4, max_part_size=64 * 1024) as form:
        header_bytes = await read_header_field(form.get(wire.SUBMISSION_HEADER), wire.SUBMISSION_HEADER)
        signature = await read_signature_field(form.get(wire.SUBMISSION_SIGNATURE), wire.SUBMISSION_SIGNATURE)
        identity = await read_upload(form.get(wire.IDENTITY), wire.IDENTITY)
        payload = await read_upload(form.get(wire.PAYLOAD), wire.PAYLOAD)
        header = None  # once the municipality's signature holds (spec 10.1 steps 1-3)
        checked = False  # once the parts are the ones the header names (step 5)
        try:
            with box.metrics.stage("verify"):
                header = await run_in_threadpool(service.verify_submission, ctx, header_bytes, signature)
                # A message decided before is answered as it was, before its parts are judged again: after a key
                # rotation a re-delivered message must get its receipt, not a new (final) refusal against today's
                # key (spec 10.1 step 6).
                answered = await run_in_threadpool(_earlier_answer, box, ctx, header.message_id, header_bytes)
                if answered is None:
                    with final():  # decided by what the municipality signed (spec section 9)
                        service.check_recipients(ctx, header)
                    service.check_digests(header, identity, payload)  # not final: damage in transit is possible
                    checked = True
            if answered is not None:
                return answered
            with final():
                service.check_fresh(ctx, header)
                with box.metrics.stage("pseudonymise"):
                    pseudonymise = functools.partial(service.pseudonymise, ctx, header, header_bytes, identity)
                    staged, done = await run_in_threadpool(box.stage, header_bytes, signature, payload, pseudonymise)
        except StoredAnswer as answer:
            box.metrics.replay(answer.answer)
            raise
        except Problem as problem:
            await run_in_threadpool(_refused, ctx, box, problem, header, header_bytes, checked)
            raise
    if not await run_in_threadpool(box.enqueue, staged, header, header_bytes, done):
        answered = await run_in_threadpool(_earlier_answer, box, ctx, header.message_id, header_bytes)
        assert answered is not None  # the concurrent request's row is committed
        return answered
    log.info(
        "message pseudonymised",
        message_id=header.message_id,
        municipality=header.municipality,
        year=header.year,
        records=done.header.counts.records,
        refused=done.header.counts.refused,
    )
    # The first attempt in this request: a healthy chain answers with the receipt at once. Anything that
    # does not settle it leaves the message to the worker, and the municipality polls the status URL.
    outcome = await box.deliver(header.message_id)
    if outcome.state == "delivered":
        return JSONResponse({"receipt": outcome.receipt, "signature": outcome.signature})
    if outcome.state == "rejected":
        raise outcome.problem()
    box.wake()
    status = await run_in_threadpool(box.status, header.message_id)
    assert status is not None
    return _accepted(status)


@router.get(
    "/v1/messages/{message_id}",
    tags=["messages"],
    summary="Where a message taken by the TPF is: queued, delivered (with the registry's receipt), rejected",
    responses={404: {"description": "No message with this id is held or was delivered here"}},
)
async def get_message(request: Request, message_id: str) -> dict[str, Any]:
    # The id is 122 random bits known to the sender; the answer holds only what the receipt holds (ids,
    # counts, digests), never a number, a pseudonym or payload content.
    box = _outbox(request)
    status = await run_in_threadpool(box.status, message_id)
    receipt = await run_in_threadpool(outbox.stored_receipt, _ctx(request).engine, message_id)
    if status is None:
        if receipt is None:
            raise Problem("not-found", 404, "No message with this id")
        return {"message_id": message_id, "state": "delivered", "receipt": receipt[0], "signature": receipt[1]}
    return status.view(receipt)


def _refused(
    ctx: service.TpfContext,
    box: outbox.TpfOutbox,
    problem: Problem,
    header: SubmissionHeader | None,
    header_bytes: bytes,
    checked: bool,
) -> None:
    """Put a refusal on record: a final one (spec section 9) remembered with its audit entry, once per message;
    any other with an audit entry by message id once the municipality's header and the parts it names held,
    else as ``unknown`` (so nobody can have the TPF sign what a message merely claims)."""
    if header is not None and is_final(problem):
        recorded = ctx.refusals.refuse(problem, header, hashlib.sha256(header_bytes).hexdigest())
        if recorded is Recorded.SAME:  # the same message, refused at the same moment or answered from here
            box.metrics.replay("refusal")
            return
        if recorded is Recorded.NEW:
            box.metrics.message("refused")
            return
    # A reused message id is about the municipality's verified header alone, not its parts: on record by id.
    attributable = checked or is_final(problem) or problem.slug == "message-id-conflict"
    ctx.audit.record_refusal(problem.slug, header if attributable else None)
    box.metrics.message("refused")


def _earlier_answer(
    box: outbox.TpfOutbox, ctx: service.TpfContext, message_id: str, header_bytes: bytes
) -> JSONResponse | None:
    """The answer for a message id seen before: its receipt (409), the refusal that was final for it, or 202
    while it is queued; answered from what is stored (a :class:`StoredAnswer`, no audit entry). None if it is
    new, or was rejected (not for good) or dead-lettered here: the municipality's re-delivery is then taken
    afresh."""
    digest = hashlib.sha256(header_bytes).hexdigest()
    previous = outbox.stored_receipt(ctx.engine, message_id)
    if previous is not None:
        receipt, receipt_signature = previous
        if receipt.get("submission_sha256") != digest:
            raise _conflict()
        raise StoredAnswer(
            "receipt",
            Problem(
                "replayed-message",
                409,
                "This message id was processed before; the original receipt is included",
                receipt=receipt,
                signature=receipt_signature,
            ).document(),
        )
    remembered = ctx.refusals.lookup(message_id)
    if remembered is not None:
        if remembered.submission_sha256 != digest:
            raise _conflict()
        raise remembered.answer()
    status = box.status(message_id)
    if status is None:
        return None
    if status.submission_sha256 != digest:
        raise _conflict()
    if status.state == "queued":
        return _accepted(status)
    box.forget(message_id)
    return None


def _conflict() -> Problem:
    return Problem("message-id-conflict", 409, "This message id was used before for a different submission")


def _accepted(status: outbox.Status) -> JSONResponse:
    body = status.view()
    return JSONResponse(body, status_code=202, headers={"Location": body["status_url"]})


def create_app(settings: TpfSettings | None = None) -> FastAPI:
    settings = settings or TpfSettings()  # type: ignore[call-arg]  # from the environment

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # FULL: a message answered 200 or 202 must survive a power loss, not only a process crash.
        engine = await open_service(
            "tpf",
            settings.state_dir,
            settings.effective_database_url,
            MIGRATIONS,
            settings.log_level,
            sqlite_synchronous="FULL",
        )
        async with httpx.AsyncClient(timeout=settings.forward_timeout_s) as client:
            app.state.settings = settings
            keys = load_tpf_keys(settings.key_dir)
            if settings.pseudonym_key_version not in keys.pseudonym_keys:
                raise RuntimeError(
                    f"pseudonym key version {settings.pseudonym_key_version} is configured "
                    f"(IPLOS_TPF_PSEUDONYM_KEY_VERSION) but {settings.key_dir} has no pseudonym-v"
                    f"{settings.pseudonym_key_version}.key"
                )
            audit = AuditLog(
                engine, models.audit, service="tpf", log_name=keys.party.party, signing_key=keys.party.signing
            )
            ctx = service.TpfContext(
                keys=keys,
                pseudonym_key_version=settings.pseudonym_key_version,
                accept_synthetic_numbers=settings.accept_synthetic_numbers,
                max_age=dt.timedelta(days=settings.max_message_age_days),
                max_skew=dt.timedelta(seconds=settings.max_clock_skew_s),
                directory=PublicDirectory.load(settings.directory),
                engine=engine,
                audit=audit,
                refusals=RefusalMemory(engine, models.refused_messages, audit),
            )
            box = outbox.TpfOutbox(
                engine,
                ctx,
                settings.state_dir / "outbox",
                settings.registry_url,
                client,
                max_attempts=settings.delivery_max_attempts,
                backoff_s=settings.delivery_backoff_s,
                backoff_max_s=settings.delivery_backoff_max_s,
                # An attempt cannot outlast the HTTP timeout; the margin covers recording its outcome.
                lease_s=settings.forward_timeout_s + 30,
                metrics=metrics,
                refusals=ctx.refusals,
            )
            await run_in_threadpool(box.sweep)
            metrics.watch_outbox(engine, models.outbox)
            app.state.readiness = monitoring.readiness(settings, engine)
            app.state.tpf = ctx
            app.state.outbox = box
            app.state.credentials = load_credentials(settings.credentials_file)
            tasks = [
                asyncio.create_task(box.run()),
                asyncio.create_task(audit.run_checkpoints(settings.audit_checkpoint_interval_s)),
            ]
            log.info("tpf ready", pseudonym_key_version=settings.pseudonym_key_version)
            yield
            await stop_tasks(tasks)
        engine.dispose()

    app = FastAPI(title="IPLOS trusted pseudonym manager (TPF)", version="1", lifespan=lifespan)
    install_problem_handlers(app, body_limit=settings.max_body_bytes)
    metrics = monitoring.TpfMetrics()
    metrics.install(app, credentials=lambda r: r.app.state.credentials, token_required=settings.metrics_token_required)
    app.include_router(health.router)
    app.include_router(router)
    app.include_router(audit_router(_audit_log, _audit_reader))
    return app


def _audit_log(request: Request) -> AuditLog:
    return _ctx(request).audit


def _audit_reader(request: Request) -> None:
    authenticate(request, request.app.state.credentials, AUDIT_READERS)
