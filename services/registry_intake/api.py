"""The registry intake's app: settings, storage, keys and the use cases' context wired up, routes and pages added.

Deliveries from the TPF, a municipality's confirmation of its held submission, the control reports for the
gateways' credentials, the submission list and the operator API for operators and auditors, the audit log's
read-only endpoints, ``/metrics``, health, and the operator dashboard. Run it with
``uvicorn --factory services.registry_intake.api:create_app``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Final

import structlog
from fastapi import FastAPI, Request

from services.kit import health
from services.kit.audit_log import AuditLog, audit_router
from services.kit.credentials import load_credentials
from services.kit.lifespan import open_service, stop_tasks
from services.kit.problems import install_problem_handlers
from services.kit.refusals import RefusalMemory
from services.registry_intake import dashboard, models, monitoring, routes
from services.registry_intake.config import RegistrySettings
from services.registry_intake.dependencies import context, require_operator
from services.registry_intake.read import SubmissionQueries
from services.registry_intake.repository import SubmissionRepository
from services.registry_intake.service import RegistryContext
from shared.keys import PublicDirectory
from shared.keys.registry import load_registry_keys

__all__ = ["MIGRATIONS", "create_app"]

MIGRATIONS: Final = Path(__file__).parent / "migrations"
log = structlog.get_logger("registry")


def create_app(settings: RegistrySettings | None = None) -> FastAPI:
    settings = settings or RegistrySettings()  # from the environment

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = await open_service(
            "registry", settings.state_dir, settings.effective_database_url, MIGRATIONS, settings.log_level
        )
        app.state.settings = settings
        app.state.credentials = load_credentials(settings.credentials_file)
        keys = load_registry_keys(settings.key_dir)
        audit = AuditLog(engine, models.audit, service="registry", log_name=keys.party, signing_key=keys.signing)
        app.state.registry = RegistryContext(
            keys=keys,
            directory=PublicDirectory.load(settings.directory),
            engine=engine,
            repository=SubmissionRepository(engine, audit=audit),
            queries=SubmissionQueries(engine),
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
    # "Now" for the deadline arithmetic of the operator views (tests replace it; the settings may fix it).
    app.state.clock = _clock(settings.dashboard_now)
    app.include_router(health.router)
    app.include_router(routes.deliveries.router)
    app.include_router(routes.submissions.router)
    app.include_router(audit_router(_audit_log, require_operator))
    app.include_router(routes.operator.router)
    dashboard.install(app)
    return app


def _clock(fixed: dt.datetime | None) -> Callable[[], dt.datetime]:
    if fixed is None:
        return lambda: dt.datetime.now(dt.UTC)
    moment = fixed if fixed.tzinfo is not None else fixed.replace(tzinfo=dt.UTC)
    return lambda: moment


def _audit_log(request: Request) -> AuditLog:
    return context(request).audit
