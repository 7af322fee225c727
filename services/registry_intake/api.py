"""The registry intake's HTTP API: deliveries from the TPF, a municipality's confirmation of its held submission,
the control reports for the gateways' credentials, and the submission list for operators."""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from services.kit import health
from services.kit.audit_log import AuditLog, audit_router
from services.kit.bodies import (
    Upload,
    body_too_large,
    read_header_field,
    read_signature_field,
    read_upload,
    refuse_large,
    require_media_type,
)
from services.kit.credentials import AUDIT_READERS, REPORT_FETCHERS, authenticate, load_credentials
from services.kit.lifespan import open_service, stop_tasks
from services.kit.problems import Problem, install_problem_handlers
from services.kit.refusals import Recorded, RefusalMemory, StoredAnswer, is_final
from services.registry_intake import dashboard, models, monitoring, service
from services.registry_intake.config import RegistrySettings
from services.registry_intake.repository import (
    ReplayedMessage,
    StaleSubmission,
    StoredSubmission,
    SubmissionRepository,
)
from shared.envelope import transport as wire
from shared.keys import PublicDirectory
from shared.keys.registry import load_registry_keys

MIGRATIONS = Path(__file__).parent / "migrations"
#: A confirmation is one small signed header: anything larger is not one.
CONFIRMATION_MAX_BYTES = 8 * 1024
log = structlog.get_logger("registry")
router = APIRouter()


def _ctx(request: Request) -> service.RegistryContext:
    ctx: service.RegistryContext = request.app.state.registry
    return ctx


@router.post(
    "/v1/deliveries",
    tags=["deliveries"],
    summary="Take a pseudonymised delivery from the TPF, store it, and answer with a signed receipt",
    status_code=201,
    responses={
        201: {"description": "Stored; the signed receipt"},
        400: {"description": "The delivery could not be verified or opened"},
        403: {"description": "A signer is not registered for its role, or does not match its header"},
        409: {"description": "Replayed message id, or a sequence not newer than the active one (receipt included)"},
        413: {"description": "The body is larger than the configured limit"},
        422: {"description": "A part is not for this registry, or its content is malformed"},
    },
)
async def post_delivery(request: Request) -> JSONResponse:
    ctx = _ctx(request)
    refuse_large(request, request.app.state.settings.max_body_bytes)
    require_media_type(request, "multipart/form-data")
    async with request.form(max_files=6, max_fields=6, max_part_size=64 * 1024) as form:
        submission_bytes = await read_header_field(
            form.get(wire.DELIVERY_SUBMISSION_HEADER), wire.DELIVERY_SUBMISSION_HEADER
        )
        submission_sig = await read_signature_field(
            form.get(wire.DELIVERY_SUBMISSION_SIGNATURE), wire.DELIVERY_SUBMISSION_SIGNATURE
        )
        delivery_bytes = await read_header_field(form.get(wire.DELIVERY_HEADER), wire.DELIVERY_HEADER)
        delivery_sig = await read_signature_field(form.get(wire.DELIVERY_SIGNATURE), wire.DELIVERY_SIGNATURE)
        pseudonyms = await read_upload(form.get(wire.PSEUDONYMS), wire.PSEUDONYMS)
        payload = await read_upload(form.get(wire.PAYLOAD), wire.PAYLOAD)
        verified: list[service.VerifiedDelivery] = []  # filled once the signatures hold
        try:
            stored = await _check_and_store(
                ctx, submission_bytes, submission_sig, delivery_bytes, delivery_sig, pseudonyms, payload, verified
            )
        except StoredAnswer as answer:
            ctx.metrics.replay(answer.answer)
            raise
        except Problem as problem:
            if problem.slug != "stale-sequence":  # recorded with the decision, in its transaction
                await run_in_threadpool(_refused, ctx, problem, verified[0] if verified else None)
            else:
                ctx.metrics.message("refused")
            raise
    log.info(
        "delivery held" if stored.status == "held" else "delivery stored",
        message_id=stored.message_id,
        municipality=stored.municipality,
        year=stored.year,
        sequence=stored.sequence,
        records=stored.record_count,
        supersedes=stored.supersedes,
    )
    return JSONResponse(service.receipt_for(ctx, stored), status_code=201)


def _refused(ctx: service.RegistryContext, problem: Problem, verified: service.VerifiedDelivery | None) -> None:
    """Put a refusal on record. Only verified facts go into the signed log: until the signatures hold and the
    parts are the ones they name (``verified`` None), the refusal is recorded under "unknown", so no caller can
    have the registry sign what it claims. A refusal final for the message id (spec section 9) is remembered
    with its audit entry, once per message."""
    header = verified.submission if verified else None
    if verified is not None and header is not None and is_final(problem):
        recorded = ctx.refusals.refuse(problem, header, verified.submission_sha256)
        if recorded is Recorded.SAME:  # the same message refused at the same moment: one record
            ctx.metrics.replay("refusal")
            return
        if recorded is Recorded.NEW:
            ctx.metrics.message("refused")
            return
    ctx.audit.record_refusal(problem.slug, header)
    ctx.metrics.message("refused")


async def _check_and_store(
    ctx: service.RegistryContext,
    submission_bytes: bytes,
    submission_sig: bytes,
    delivery_bytes: bytes,
    delivery_sig: bytes,
    pseudonyms: Upload,
    payload: Upload,
    verified_out: list[service.VerifiedDelivery],
) -> StoredSubmission:
    with ctx.metrics.stage("verify"):
        verified = await run_in_threadpool(
            service.verify_delivery, ctx, submission_bytes, submission_sig, delivery_bytes, delivery_sig
        )
        # A message decided before is answered as it was, before its parts are judged again: after a key rotation
        # a re-delivered message must get its receipt, not a new (final) refusal against today's key (spec 10.2
        # step 8).
        message_id = verified.submission.message_id
        known = await run_in_threadpool(ctx.repository.get, message_id)
        remembered = None if known is not None else await run_in_threadpool(ctx.refusals.lookup, message_id)
        decided = known.header_sha256 if known is not None else remembered.submission_sha256 if remembered else None
        if decided is not None and not hmac.compare_digest(decided.encode(), verified.submission_sha256.encode()):
            verified_out.append(verified)  # a reused id is about the verified headers alone: on record by id
            raise _conflict()
        if known is not None:
            raise _replayed(ctx, known)
        if remembered is not None:
            raise remembered.answer()  # refused for good before: the same answer, from what is stored
        try:
            service.check_parts(ctx, verified, pseudonyms, payload)
        except Problem as problem:
            if is_final(problem):
                verified_out.append(verified)
            raise
    # From here on a refusal is on record by message id, with the verified headers' facts.
    verified_out.append(verified)
    service.check_fresh(ctx, verified)
    service.require_reportable(verified.submission)
    try:
        with ctx.metrics.stage("store"):
            stored = await run_in_threadpool(service.store_delivery, ctx, verified, pseudonyms, payload)
    except ReplayedMessage as exc:  # stored by a concurrent delivery of the same id since the lookup above
        if not hmac.compare_digest(exc.original.header_sha256.encode(), verified.submission_sha256.encode()):
            raise _conflict() from None
        raise _replayed(ctx, exc.original) from None
    except StaleSubmission as exc:
        log.info(
            "delivery refused",
            message_id=message_id,
            problem="stale-sequence",
            municipality=exc.refused.municipality,
            year=exc.refused.year,
        )
        raise Problem(
            "stale-sequence",
            409,
            "A submission with the same or a newer sequence is already active for this municipality and year",
            active_sequence=exc.active_sequence,
            **service.receipt_for(ctx, exc.refused),
        ) from None
    return stored


def _replayed(ctx: service.RegistryContext, original: StoredSubmission) -> Problem:
    """The answer for a re-delivery of the very submission stored under its id (the caller compared the digests:
    the same id with another signed header is a conflict, answered without a receipt)."""
    return StoredAnswer(
        "receipt",
        Problem(
            "replayed-message",
            409,
            "This message id was received before; the original receipt is included",
            **service.receipt_for(ctx, original),
        ).document(),
    )


def _conflict() -> Problem:
    return Problem("message-id-conflict", 409, "This message id was used before for a different submission")


@router.post(
    "/v1/submissions/{submission_id}/confirmation",
    tags=["submissions"],
    summary="Apply a held submission: the municipality's signed confirmation that it replace the active one",
    responses={
        200: {"description": "Applied: the held submission is the active one; its new signed receipt"},
        400: {"description": "The confirmation could not be verified"},
        403: {"description": "Not signed by the submitting municipality"},
        404: {"description": "No such submission"},
        409: {"description": "The submission is not held (receipt included), or a newer one became active"},
        422: {"description": "The confirmation names another submission"},
    },
)
async def post_confirmation(request: Request, submission_id: str) -> JSONResponse:
    ctx = _ctx(request)
    refuse_large(request, CONFIRMATION_MAX_BYTES)
    require_media_type(request, "application/json")
    body = bytearray()
    async for chunk in request.stream():  # bounded as it arrives, whatever Content-Length said
        body += chunk
        if len(body) > CONFIRMATION_MAX_BYTES:
            raise body_too_large(CONFIRMATION_MAX_BYTES)
    with ctx.metrics.stage("confirm"):
        stored = await run_in_threadpool(service.confirm_held, ctx, submission_id, bytes(body))
    ctx.metrics.stored(stored, await run_in_threadpool(ctx.repository.finding_counts, stored.message_id))
    log.info(
        "held submission confirmed",
        message_id=stored.message_id,
        municipality=stored.municipality,
        year=stored.year,
        records=stored.record_count,
        supersedes=stored.supersedes,
    )
    return JSONResponse(service.receipt_for(ctx, stored))


def _operator(request: Request) -> None:
    authenticate(request, request.app.state.credentials, AUDIT_READERS)


@router.get(
    "/v1/submissions",
    tags=["submissions"],
    summary="Submissions with status and record counts (operators and auditors)",
    responses={401: {"description": "No or unknown bearer token"}},
)
async def list_submissions(
    request: Request,
    municipality: Annotated[str | None, Query(pattern=r"^[0-9]{4}$")] = None,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> dict[str, Any]:
    _operator(request)
    rows = await run_in_threadpool(_ctx(request).repository.list, municipality, year)
    return {"submissions": [service.submission_view(row) for row in rows]}


@router.get(
    "/v1/submissions/{submission_id}",
    tags=["submissions"],
    summary="One submission (operators and auditors)",
    responses={401: {"description": "No or unknown bearer token"}},
)
async def get_submission(request: Request, submission_id: str) -> dict[str, Any]:
    _operator(request)
    row = await run_in_threadpool(_ctx(request).repository.get, submission_id)
    if row is None:
        raise Problem("not-found", 404, "No submission with this id")
    return service.submission_view(row)


@router.get(
    "/v1/submissions/{submission_id}/report",
    tags=["submissions"],
    summary="The control report of a stored submission, sealed for the submitting municipality only"
    " (a municipality gateway's own credential)",
    response_class=Response,
    responses={
        200: {"description": "The report: {header, signature, part}", "content": {"application/json": {}}},
        401: {"description": "No bearer token, or one the registry does not know"},
        403: {"description": "The credential is not a gateway's"},
        404: {"description": "No such submission, or it was refused (no records, no report)"},
        410: {"description": "The submission was superseded: the replacing submission's report applies"},
    },
)
async def get_report(request: Request, submission_id: str) -> Response:
    # Only a gateway fetches reports (it alone can open them and map them back): first, before the id is
    # looked at, so a caller without the credential learns nothing about it.
    authenticate(request, request.app.state.credentials, REPORT_FETCHERS)
    ctx = _ctx(request)
    stored = await run_in_threadpool(ctx.repository.get, submission_id)
    if stored is None or stored.status == "refused":
        raise Problem("not-found", 404, "No stored submission with this id")
    if stored.status == "superseded":
        raise Problem(
            "superseded",
            410,
            "This submission was replaced; the replacing submission's report applies",
            superseded_by=stored.superseded_by,
        )
    # Sealed and signed once, then served as stored.
    return Response(await run_in_threadpool(service.report_answer, ctx, stored), media_type="application/json")


def create_app(settings: RegistrySettings | None = None) -> FastAPI:
    settings = settings or RegistrySettings()  # type: ignore[call-arg]  # from the environment

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = await open_service(
            "registry", settings.state_dir, settings.effective_database_url, MIGRATIONS, settings.log_level
        )
        app.state.settings = settings
        app.state.credentials = load_credentials(settings.credentials_file)
        keys = load_registry_keys(settings.key_dir)
        audit = AuditLog(engine, models.audit, service="registry", log_name=keys.party, signing_key=keys.signing)
        app.state.registry = service.RegistryContext(
            keys=keys,
            directory=PublicDirectory.load(settings.directory),
            engine=engine,
            repository=SubmissionRepository(engine, audit=audit),
            max_age=dt.timedelta(days=settings.max_message_age_days),
            max_skew=dt.timedelta(seconds=settings.max_clock_skew_s),
            audit=audit,
            refusals=RefusalMemory(engine, models.refused_messages, audit),
            metrics=metrics,
            hold_below=settings.hold_below_ratio,
        )
        app.state.readiness = monitoring.readiness(settings, engine)
        checkpoints = asyncio.create_task(audit.run_checkpoints(settings.audit_checkpoint_interval_s))
        log.info("registry ready")
        yield
        await stop_tasks([checkpoints])
        engine.dispose()

    app = FastAPI(title="IPLOS registry intake", version="1", lifespan=lifespan)
    install_problem_handlers(app, body_limit=settings.max_body_bytes)
    metrics = monitoring.RegistryMetrics()
    metrics.install(app, credentials=lambda r: r.app.state.credentials, token_required=settings.metrics_token_required)
    app.include_router(health.router)
    app.include_router(router)
    app.include_router(audit_router(_audit_log, _operator))
    dashboard.install(app, settings)  # the operator pages and /v1/operator (read-only)
    return app


def _audit_log(request: Request) -> AuditLog:
    return _ctx(request).audit
