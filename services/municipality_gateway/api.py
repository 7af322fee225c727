"""The gateway's application: ``create_app`` wires settings, database, keys, the outbox worker, the audit log and
metrics into one FastAPI app with the API's routes (``routes``), the pages (``pages``) and the audit endpoints.

What the gateway does is in ``service``; who the caller is, in ``dependencies``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import structlog
from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine

from services.kit import health
from services.kit.audit_log import AuditLog, audit_router
from services.kit.credentials import load_credentials, read_token_file
from services.kit.lifespan import open_service, stop_tasks
from services.kit.problems import install_problem_handlers
from services.municipality_gateway import models, monitoring, outbox, pages, service
from services.municipality_gateway.admission import UploadSlots
from services.municipality_gateway.config import GatewaySettings
from services.municipality_gateway.dependencies import audit_log, audit_reader, gateway_context
from services.municipality_gateway.routes import router
from services.municipality_gateway.service import GatewayContext
from shared.keys import PartyKeys, PublicDirectory
from shared.keys.municipality import load_municipality_keys

MIGRATIONS = Path(__file__).parent / "migrations"
_PARTY_FOLDER = re.compile(r"^kommune-([0-9]{4})$")
log = structlog.get_logger("gateway")


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


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()  # from the environment
    metrics = monitoring.GatewayMetrics()

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
            ctx = _context(settings, engine, client, metrics)
            app.state.readiness = monitoring.readiness(settings, engine, load_served_keys)
            ctx.work_dir.mkdir(parents=True, exist_ok=True)
            await run_in_threadpool(service.sweep_unaccepted, engine, ctx.work_dir, ctx.outbox_dir)
            app.state.gateway = ctx
            tasks = [
                asyncio.create_task(ctx.worker.run()),
                asyncio.create_task(ctx.audit.run_checkpoints(settings.audit_checkpoint_interval_s)),
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
    metrics.install(
        app, credentials=lambda r: gateway_context(r).credentials, token_required=settings.metrics_token_required
    )
    app.include_router(health.router)
    app.include_router(router)
    app.include_router(audit_router(audit_log, audit_reader))
    pages.install(app)
    return app


def _context(
    settings: GatewaySettings, engine: Engine, client: httpx.AsyncClient, metrics: monitoring.GatewayMetrics
) -> GatewayContext:
    """Keys, credentials, audit log and outbox worker, as the use cases find them."""
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
    return ctx
