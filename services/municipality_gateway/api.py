"""The gateway's application: ``create_app`` says what is the gateway's own (its keys, its outbox worker and the
HTTP client it delivers with, the start-up sweep, its routes, pages and upload slots); the kit's ``build_app``
(services.kit.app) puts it together as every service's app is.

What the gateway does is in ``service``; who the caller is, in ``dependencies``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable
from pathlib import Path

import httpx
import structlog
from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine

from services.kit.app import Opened, Running, build_app
from services.kit.audit_log import AuditLog
from services.kit.credentials import Credential, read_token_file
from services.kit.http import Clients, service_client
from services.municipality_gateway import models, monitoring, outbox, pages, service
from services.municipality_gateway.admission import UploadSlots
from services.municipality_gateway.config import GatewaySettings
from services.municipality_gateway.routes import router
from services.municipality_gateway.service import GatewayContext
from shared.iplos.municipalities import FIRST_YEAR, valid_municipalities
from shared.keys import POPULATION_REGISTER, PartyKeys, PublicDirectory, load_party_keys, tls_files
from shared.keys.municipality import load_municipality_keys

__all__ = ["MIGRATIONS", "create_app", "load_served_keys"]

MIGRATIONS = Path(__file__).parent / "migrations"
_PARTY_FOLDER = re.compile(r"^kommune-([0-9]{4})$")
log = structlog.get_logger("gateway")


def load_served_keys(key_dir: Path) -> dict[str, PartyKeys]:
    """The municipalities this gateway serves are the ``kommune-NNNN`` folders in its key folder; a key folder with
    the population register's ``folkeregister/`` makes it the register's gateway, whose extracts are about every
    municipality and are all signed with the register's key (issue 14)."""
    register = key_dir / POPULATION_REGISTER
    if register.is_dir():
        keys = load_party_keys(register, POPULATION_REGISTER)
        every = valid_municipalities(FIRST_YEAR) | valid_municipalities(dt.date.today().year)
        return dict.fromkeys(sorted(every), keys)
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

    async def start(opened: Opened) -> Running:
        directory = PublicDirectory.load(settings.directory)
        served = load_served_keys(settings.key_dir)
        clients = _clients(settings, directory, served)
        opened.resources.push_async_callback(clients.aclose)
        ctx = _context(settings, opened.engine, directory, served, clients, opened.credentials, metrics)
        readiness = monitoring.readiness(settings, opened.engine, load_served_keys)
        ctx.work_dir.mkdir(parents=True, exist_ok=True)
        await run_in_threadpool(service.sweep_unaccepted, opened.engine, ctx.work_dir, ctx.outbox_dir)
        opened.app.state.gateway = ctx
        return Running(ctx.audit, readiness, background=[ctx.worker.run], ready={"municipalities": sorted(ctx.keys)})

    app = build_app(
        "gateway",
        title="IPLOS municipality gateway",
        settings=settings,
        migrations=MIGRATIONS,
        metrics=metrics,
        start=start,
        routers=[router],
        pages=pages.install,
        sessions=models.web_sessions,
    )
    app.state.upload_slots = UploadSlots(
        settings.max_uploads_per_caller, settings.max_uploads, settings.upload_retry_after_s
    )
    return app


# Municipalities whose HTTP client is kept between requests: a submission's POST and its polls go out on one.
_CLIENTS_KEPT = 8


def _clients(settings: GatewaySettings, directory: PublicDirectory, served: dict[str, PartyKeys]) -> Clients:
    """One HTTP client per municipality served, presenting that municipality's TLS certificate
    (``kommune-NNNN/tls/``): the TPF and the registry take a municipality's messages, confirmations and report
    fetches only from its own party."""

    def client_of(kommune_nr: str) -> httpx.AsyncClient:
        # The party's own folder: kommune-NNNN/, or folkeregister/ at the register's gateway.
        cert_file, key_file = tls_files(settings.key_dir / served[kommune_nr].party)
        return service_client(
            directory,
            plain_http=settings.plain_http,
            cert_file=cert_file,
            key_file=key_file,
            timeout=settings.delivery_timeout_s,
            keep_alive=False,  # no idle connection per municipality at the TPF and the registry (service_client)
        )

    if not settings.plain_http:
        for party in sorted({keys.party for keys in served.values()}):
            # A missing certificate shows at start-up, as when every client was made there, not at a delivery.
            for file in tls_files(settings.key_dir / party):
                if not file.is_file():
                    raise RuntimeError(f"no TLS certificate or key for {party}: {file}")
    return _RecentClients(client_of, served, _CLIENTS_KEPT)


class _RecentClients(Clients):
    """The clients of the municipalities served, each made when it is first needed and kept while it is among the
    ``keep`` most recently used. Made all at start-up, each one's TLS context (its CA store, certificate and key)
    cost about 25 KB: 9 MB of the gateway's memory for 357 municipalities, most of them sending once a year.
    Making one again costs about a millisecond, next to the TLS handshake each request makes anyway (the clients
    keep no idle connection). A client dropped from the few kept is not closed: it holds no idle connection, and
    a request still under way on it keeps it (and its connection) until it is answered."""

    def __init__(self, make: Callable[[str], httpx.AsyncClient], served: Iterable[str], keep: int) -> None:
        super().__init__()
        self._make = make
        self._served = frozenset(served)
        self._keep = max(1, keep)
        self._recent: OrderedDict[str, httpx.AsyncClient] = OrderedDict()

    def for_party(self, party: str) -> httpx.AsyncClient:
        client = self._recent.get(party)
        if client is not None:
            self._recent.move_to_end(party)
            return client
        if party not in self._served:
            raise LookupError("no HTTP client presents this party's certificate")
        client = self._recent[party] = self._make(party)
        if len(self._recent) > self._keep:
            self._recent.popitem(last=False)
        return client

    async def aclose(self) -> None:
        while self._recent:
            _, client = self._recent.popitem(last=False)
            await client.aclose()


def _context(
    settings: GatewaySettings,
    engine: Engine,
    directory: PublicDirectory,
    served: dict[str, PartyKeys],
    clients: Clients,
    credentials: list[Credential],
    metrics: monitoring.GatewayMetrics,
) -> GatewayContext:
    """Keys, credentials, audit log and outbox worker, as the use cases find them."""
    # The log is signed with the key of the (first) municipality served: a gateway belongs to a
    # municipality's secure zone, and an auditor finds that key in the public directory.
    signer = served[min(served)]
    audit = AuditLog(engine, models.audit, service="gateway", log_name=signer.party, signing_key=signer.signing)
    worker = outbox.OutboxWorker(
        engine,
        directory,
        settings.state_dir / "outbox",
        settings.tpf_url,
        clients,
        max_attempts=settings.delivery_max_attempts,
        backoff_s=settings.delivery_backoff_s,
        backoff_max_s=settings.delivery_backoff_max_s,
        audit=audit,
        metrics=metrics,
    )
    metrics.watch_outbox(engine, models.submissions)
    for credential in credentials:
        if credential.municipality is not None and credential.municipality not in served:
            # Not fatal (the credential can do nothing here), but most likely a configuration mistake.
            log.warning(
                "credential bound to a municipality this gateway does not serve",
                credential=credential.name,
                municipality=credential.municipality,
            )
    ctx = GatewayContext(settings, engine, directory, served, worker, clients, credentials, audit, metrics)
    if settings.registry_token_file is not None:
        ctx.registry_token = read_token_file(settings.registry_token_file)
    return ctx
