"""The TPF's app: :func:`create_app` builds it from :class:`~services.tpf.config.TpfSettings` with the kit's
``build_app`` (services.kit.app), and says what is the TPF's own: its start-up loads the keys (refusing to start
without the configured pseudonym key), builds the use cases' context with the outbox and the HTTP client it
delivers with, and sweeps what a previous process left in the outbox before its worker starts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine

from services.kit.app import Opened, Running, build_app
from services.kit.audit_log import AuditLog
from services.kit.http import service_client
from services.kit.refusals import RefusalMemory
from services.tpf import models, monitoring, outbox, routes
from services.tpf.config import TpfSettings
from services.tpf.pseudonymising import Pseudonymisation
from services.tpf.repository import TpfRepository
from services.tpf.service import TpfContext
from shared.keys import PublicDirectory
from shared.keys.tpf import load_tpf_keys

__all__ = ["MIGRATIONS", "create_app"]

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: TpfSettings | None = None) -> FastAPI:
    settings = settings or TpfSettings()  # from the environment
    metrics = monitoring.TpfMetrics()

    async def start(opened: Opened) -> Running:
        # The TPF presents its own certificate: the registry takes deliveries only from the TPF's party.
        client = service_client(
            PublicDirectory.load(settings.directory),
            plain_http=settings.plain_http,
            cert_file=settings.tls_cert_path,
            key_file=settings.tls_key_path,
            timeout=settings.forward_timeout_s,
        )
        client = await opened.resources.enter_async_context(client)
        ctx = _context(settings, opened.engine, client, metrics)
        await run_in_threadpool(ctx.outbox.sweep)
        metrics.watch_outbox(opened.engine, models.outbox)
        readiness = monitoring.readiness(settings, opened.engine)
        opened.app.state.tpf = ctx
        opened.app.state.outbox = ctx.outbox
        ready = {"pseudonym_key_version": settings.pseudonym_key_version}
        return Running(ctx.audit, readiness, background=[ctx.outbox.run], ready=ready)

    return build_app(
        "tpf",
        title="IPLOS trusted pseudonym manager (TPF)",
        settings=settings,
        migrations=MIGRATIONS,
        metrics=metrics,
        start=start,
        routers=[routes.router],
    )


def _context(
    settings: TpfSettings, engine: Engine, client: httpx.AsyncClient, metrics: monitoring.TpfMetrics
) -> TpfContext:
    """The use cases' context from the settings and the key files; refuses to start without the configured
    pseudonym key (never one picked from whatever key files are present)."""
    keys = load_tpf_keys(settings.key_dir)
    if settings.pseudonym_key_version not in keys.pseudonym_keys:
        raise RuntimeError(
            f"pseudonym key version {settings.pseudonym_key_version} is configured "
            f"(IPLOS_TPF_PSEUDONYM_KEY_VERSION) but {settings.key_dir} has no pseudonym-v"
            f"{settings.pseudonym_key_version}.key"
        )
    directory = PublicDirectory.load(settings.directory)
    audit = AuditLog(engine, models.audit, service="tpf", log_name=keys.party.party, signing_key=keys.party.signing)
    refusals = RefusalMemory(engine, models.refused_messages, audit)
    box = outbox.TpfOutbox(
        engine,
        settings.state_dir / "outbox",
        settings.registry_url,
        client,
        audit=audit,
        directory=directory,
        max_attempts=settings.delivery_max_attempts,
        backoff_s=settings.delivery_backoff_s,
        backoff_max_s=settings.delivery_backoff_max_s,
        # An attempt cannot outlast the HTTP timeout; the margin covers recording its outcome.
        lease_s=settings.forward_timeout_s + 30,
        metrics=metrics,
        refusals=refusals,
        signing=keys.party,
    )
    return TpfContext(
        pseudonymisation=Pseudonymisation(
            keys=keys,
            directory=directory,
            key_version=settings.pseudonym_key_version,
            accept_synthetic_numbers=settings.accept_synthetic_numbers,
            accept_register_extracts=settings.accept_register_extracts,
        ),
        max_age=dt.timedelta(days=settings.max_message_age_days),
        max_skew=dt.timedelta(seconds=settings.max_clock_skew_s),
        engine=engine,
        audit=audit,
        refusals=refusals,
        metrics=metrics,
        outbox=box,
        repository=TpfRepository(engine, box, refusals, audit),
    )
