"""The registry intake's app, put together by the kit's ``build_app`` (services.kit.app); what is the registry's
own is its start-up (keys, storage and the use cases' context), its routes, its dashboard and its clock.

Deliveries from the TPF, a municipality's confirmation of its held submission, the control reports for the
gateways' credentials, the submission list and the operator API for operators and auditors, the audit log's
read-only endpoints, ``/metrics``, health, and the operator dashboard. Run it with
``uvicorn --factory services.registry_intake.api:create_app``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Final

from fastapi import FastAPI

from services.kit.app import Opened, Running, build_app
from services.kit.audit_log import AuditLog
from services.kit.refusals import RefusalMemory
from services.registry_intake import dashboard, models, monitoring, routes
from services.registry_intake.config import RegistrySettings
from services.registry_intake.read import SubmissionQueries
from services.registry_intake.read.probes import ProbeThresholds
from services.registry_intake.repository import SubmissionRepository
from services.registry_intake.repository.business_register import BusinessRegisterRepository
from services.registry_intake.repository.register import RegisterRepository
from services.registry_intake.service import RegistryContext
from shared.keys import PublicDirectory
from shared.keys.registry import load_registry_keys

__all__ = ["MIGRATIONS", "create_app"]

MIGRATIONS: Final = Path(__file__).parent / "migrations"


def create_app(settings: RegistrySettings | None = None) -> FastAPI:
    settings = settings or RegistrySettings()  # from the environment
    metrics = monitoring.RegistryMetrics()

    async def start(opened: Opened) -> Running:
        engine = opened.engine
        keys = load_registry_keys(settings.key_dir)
        audit = AuditLog(engine, models.audit, service="registry", log_name=keys.party, signing_key=keys.signing)
        opened.app.state.registry = RegistryContext(
            keys=keys,
            directory=PublicDirectory.load(settings.directory),
            engine=engine,
            repository=SubmissionRepository(engine, audit=audit),
            queries=SubmissionQueries(engine),
            max_age=dt.timedelta(days=settings.max_message_age_days),
            max_skew=dt.timedelta(seconds=settings.max_clock_skew_s),
            audit=audit,
            refusals=RefusalMemory(engine, models.refused_messages, audit),
            register=RegisterRepository(engine, audit=audit),
            business=BusinessRegisterRepository(engine, audit=audit),
            metrics=metrics,
            hold_below=settings.hold_below_ratio,
            probes=ProbeThresholds(
                below_persons=settings.probe_below_persons,
                below_register_share=settings.probe_below_register_share,
                below_previous_share=settings.probe_below_previous_share,
                above_previous_ratio=settings.probe_above_previous_ratio,
                never_resident_records=settings.probe_never_resident_records,
            ),
        )
        return Running(audit, monitoring.readiness(settings, engine))

    app = build_app(
        "registry",
        title="IPLOS registry intake",
        settings=settings,
        migrations=MIGRATIONS,
        metrics=metrics,
        start=start,
        routers=[
            routes.deliveries.router,
            routes.submissions.router,
            routes.operator.router,
            routes.registers.router,
            routes.sequence_blocks.router,
        ],
        pages=dashboard.install,
        sessions=models.web_sessions,
    )
    # "Now" for the deadline arithmetic of the operator views (tests replace it; the settings may fix it).
    app.state.clock = _clock(settings.dashboard_now)
    return app


def _clock(fixed: dt.datetime | None) -> Callable[[], dt.datetime]:
    if fixed is None:
        return lambda: dt.datetime.now(dt.UTC)
    moment = fixed if fixed.tzinfo is not None else fixed.replace(tzinfo=dt.UTC)
    return lambda: moment
