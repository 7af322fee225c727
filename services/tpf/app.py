"""The TPF's app: :func:`create_app` builds it from :class:`~services.tpf.config.TpfSettings`, and its lifespan
opens the database (migrations applied), loads the keys, builds the use cases' context with the outbox, and runs
the outbox's worker and the audit log's checkpoints while the app runs."""

from __future__ import annotations

import asyncio
import datetime as dt
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
from services.kit.credentials import load_credentials
from services.kit.lifespan import open_service, stop_tasks
from services.kit.problems import install_problem_handlers
from services.kit.refusals import RefusalMemory
from services.tpf import api, models, monitoring, outbox
from services.tpf.config import TpfSettings
from services.tpf.dependencies import audit_log, audit_reader
from services.tpf.pseudonymising import Pseudonymisation
from services.tpf.repository import TpfRepository
from services.tpf.service import TpfContext
from shared.keys import PublicDirectory
from shared.keys.tpf import load_tpf_keys

__all__ = ["MIGRATIONS", "create_app"]

MIGRATIONS = Path(__file__).parent / "migrations"
log = structlog.get_logger("tpf")


def create_app(settings: TpfSettings | None = None) -> FastAPI:
    settings = settings or TpfSettings()  # from the environment
    metrics = monitoring.TpfMetrics()

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
            ctx = _context(settings, engine, metrics)
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
            ctx.attach(box, TpfRepository(engine, box, ctx.refusals, ctx.audit))
            await run_in_threadpool(box.sweep)
            metrics.watch_outbox(engine, models.outbox)
            app.state.readiness = monitoring.readiness(settings, engine)
            app.state.tpf = ctx
            app.state.outbox = box
            app.state.credentials = load_credentials(settings.credentials_file)
            tasks = [
                asyncio.create_task(box.run()),
                asyncio.create_task(ctx.audit.run_checkpoints(settings.audit_checkpoint_interval_s)),
            ]
            log.info("tpf ready", pseudonym_key_version=settings.pseudonym_key_version)
            yield
            await stop_tasks(tasks)
        engine.dispose()

    app = FastAPI(title="IPLOS trusted pseudonym manager (TPF)", version="1", lifespan=lifespan)
    install_problem_handlers(app, body_limit=settings.max_body_bytes)
    metrics.install(app, credentials=lambda r: r.app.state.credentials, token_required=settings.metrics_token_required)
    app.include_router(health.router)
    app.include_router(api.router)
    app.include_router(audit_router(audit_log, audit_reader))
    return app


def _context(settings: TpfSettings, engine: Engine, metrics: monitoring.TpfMetrics) -> TpfContext:
    """The use cases' context from the settings and the key files; refuses to start without the configured
    pseudonym key (never one picked from whatever key files are present)."""
    keys = load_tpf_keys(settings.key_dir)
    if settings.pseudonym_key_version not in keys.pseudonym_keys:
        raise RuntimeError(
            f"pseudonym key version {settings.pseudonym_key_version} is configured "
            f"(IPLOS_TPF_PSEUDONYM_KEY_VERSION) but {settings.key_dir} has no pseudonym-v"
            f"{settings.pseudonym_key_version}.key"
        )
    audit = AuditLog(engine, models.audit, service="tpf", log_name=keys.party.party, signing_key=keys.party.signing)
    return TpfContext(
        pseudonymisation=Pseudonymisation(
            keys=keys,
            directory=PublicDirectory.load(settings.directory),
            key_version=settings.pseudonym_key_version,
            accept_synthetic_numbers=settings.accept_synthetic_numbers,
        ),
        max_age=dt.timedelta(days=settings.max_message_age_days),
        max_skew=dt.timedelta(seconds=settings.max_clock_skew_s),
        engine=engine,
        audit=audit,
        refusals=RefusalMemory(engine, models.refused_messages, audit),
        metrics=metrics,
    )
