"""One service's FastAPI app, put together the same way for every service: :func:`build_app`.

What every service's app has, in this order: its problem answers (RFC 9457, the body limit, the access log),
``/metrics``, health, the service's own routes, its audit log's read-only endpoints, and its pages if it has
any. Its lifespan, at start-up:

1. open the service (:func:`~services.kit.lifespan.open_service`: the state folder, the log file, the database
   with its migrations applied; SQLite with ``synchronous=FULL``: an answer must not outlive a power loss of the
   commit it answers for);
2. load the bearer credentials (``credentials_file``; none: every protected endpoint refuses);
3. run the service's own start-up (a :data:`StartUp`): keys, context, sweeps, whatever it must do before it
   serves; it returns what now runs (:class:`Running`);
4. start the background work it names (an outbox worker, say), then the audit log's checkpoints, and log
   ``"<service> ready"``.

At shutdown the background tasks are stopped and awaited, the resources the start-up entered (an HTTP client)
closed, and the engine disposed, in that order: nothing runs on a closed client or a disposed engine.

Who may read the audit log, and who may scrape ``/metrics``, is the same in every service: an operator's or an
auditor's bearer token (``services.kit.credentials``), from the credentials loaded at start-up
(``app.state.credentials``).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from fastapi import APIRouter, FastAPI, Request
from sqlalchemy import Engine, Table

from services.kit import health
from services.kit.api_docs import install_api_docs
from services.kit.audit_log import AuditLog, audit_router
from services.kit.credentials import AUDIT_READERS, Credential, authenticate, load_credentials
from services.kit.guards import install_guards
from services.kit.lifespan import open_service, stop_tasks
from services.kit.metrics import ServiceMetrics
from services.kit.problems import install_problem_handlers
from services.kit.readiness import Readiness
from services.kit.settings import ServiceSettings
from services.kit.tls import Peers
from services.kit.web import SessionPolicy, SessionStore
from shared.keys import PublicDirectory

__all__ = ["Opened", "Running", "StartUp", "build_app", "credentials_of"]


@dataclass(frozen=True)
class Opened:
    """What a service's start-up is handed: the app, its migrated database, the credentials, and an exit stack
    for what must stay open while the app runs (closed after the background work has stopped)."""

    app: FastAPI
    engine: Engine
    credentials: list[Credential]
    resources: contextlib.AsyncExitStack


@dataclass(frozen=True)
class Running:
    """What a service's start-up hands back: its audit log (whose checkpoints the app signs while it runs and
    whose endpoints it serves), its readiness checks (``/readyz``), the work to run in the background, started
    in this order once the start-up is done (each a coroutine function: nothing is created before it runs), and
    the fields of its ``ready`` log line."""

    audit: AuditLog
    readiness: Readiness
    background: Sequence[Callable[[], Coroutine[Any, Any, None]]] = ()
    ready: Mapping[str, Any] = field(default_factory=dict)


StartUp = Callable[[Opened], Coroutine[Any, Any, Running]]
"""A service's own start-up (an ``async def``): builds its context from its settings and keys, puts what its
requests need on ``app.state``, does what must be done before it serves (a sweep of what a previous process
left), and returns what now runs."""


def credentials_of(request: Request) -> list[Credential]:
    """The bearer credentials the app loaded at start-up."""
    found: list[Credential] = request.app.state.credentials
    return found


def build_app(
    service: str,
    *,
    title: str,
    settings: ServiceSettings,
    migrations: Path,
    metrics: ServiceMetrics,
    start: StartUp,
    routers: Sequence[APIRouter],
    pages: Callable[[FastAPI], None] | None = None,
    sessions: Table | None = None,
) -> FastAPI:
    """The app of ``service`` (its name in log lines, its log file, its ``ready`` line): see the module
    docstring. ``routers`` are the service's own API, included after health and before the audit log's
    endpoints; ``pages`` adds its server-rendered pages last, and ``sessions`` is their sign-in sessions' table
    in the service's database (services.kit.web: ``app.state.web_sessions``)."""
    log = structlog.get_logger(service)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = await open_service(service, settings, migrations)
        try:
            async with contextlib.AsyncExitStack() as resources:
                credentials = load_credentials(settings.credentials_file)
                app.state.credentials = credentials
                app.state.peers = _peers(service, settings, log)
                if sessions is not None:
                    app.state.web_sessions = SessionStore(engine, sessions, _session_policy(settings))
                running = await start(Opened(app, engine, credentials, resources))
                # Every service's /readyz also says whether its schema is still at its migrations' head.
                app.state.readiness = running.readiness.expecting_schema(migrations)
                app.state.audit_log = running.audit
                tasks = [asyncio.create_task(work()) for work in running.background]
                checkpoints = running.audit.run_checkpoints(
                    settings.audit_checkpoint_interval_s,
                    signed=metrics.audit_checkpointed,
                    failed=metrics.audit_checkpoint_failed,
                )
                tasks.append(asyncio.create_task(checkpoints))
                log.info(f"{service} ready", **running.ready)
                try:
                    yield
                finally:
                    await stop_tasks(tasks)
        finally:
            engine.dispose()

    # /docs from the service's own files (services.kit.api_docs), no ReDoc: nothing loaded from a CDN.
    app = FastAPI(title=title, version="1", lifespan=lifespan, docs_url=None, redoc_url=None)
    install_api_docs(app)
    app.state.settings = settings
    # The guards first: the middleware added later wraps it, so the access log and the metrics see its answers.
    install_guards(app, settings.traffic_limits)
    install_problem_handlers(app, body_limit=settings.max_body_bytes)
    metrics.install(app, credentials=credentials_of, token_required=settings.metrics_token_required)
    app.include_router(health.router)
    for router in routers:
        app.include_router(router)
    app.include_router(audit_router(_audit_log, _audit_reader))
    if pages is not None:
        pages(app)
    return app


def _session_policy(settings: ServiceSettings) -> SessionPolicy:
    return SessionPolicy(
        idle=dt.timedelta(seconds=settings.session_idle_timeout_s),
        max_age=dt.timedelta(seconds=settings.session_max_age_s),
    )


def _peers(service: str, settings: ServiceSettings, log: Any) -> Peers:
    """Who is on the other end of a request, by its TLS certificate (services.kit.tls); none under plain_http."""
    directory = PublicDirectory.load(settings.directory)
    if settings.plain_http:
        log.warning(f"{service} runs with plain_http: no TLS, and no peer is checked (development only)")
    elif not directory.tls_ca:
        raise RuntimeError(
            f"{settings.directory} names no TLS CA (tls_ca): run 'iplos keys init' on the key folder to add the CA "
            "and certificates, or set PLAIN_HTTP=true for development"
        )
    return Peers(directory, enforced=not settings.plain_http)


def _audit_log(request: Request) -> AuditLog:
    audit: AuditLog = request.app.state.audit_log
    return audit


def _audit_reader(request: Request) -> None:
    """The audit log's readers: an operator or an auditor (services.kit.credentials.AUDIT_READERS)."""
    authenticate(request, credentials_of(request), AUDIT_READERS)
