"""In-process fixtures for the bad-input matrix: the three apps on one tmp key folder, each with a small body
limit, and a snapshot of everything the chain stores so each case can show it changed nothing."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, MetaData, func, select

from keys.generate import DIRECTORY_FILE, MUNICIPALITIES_FOLDER, init_keys
from services.kit.credentials import Credential, hash_token, new_token, write_credentials
from services.municipality_gateway.api import create_app as create_gateway
from services.municipality_gateway.config import GatewaySettings
from services.registry_intake.api import create_app as create_registry
from services.registry_intake.config import RegistrySettings
from services.tpf.api import create_app as create_tpf
from services.tpf.config import TpfSettings
from shared.iplos.generator import generate_export

with warnings.catch_warnings():
    # Starlette 1.x deprecates its httpx-based test client in favour of httpx2; the services themselves use
    # httpx, and the client's behaviour is the same.
    warnings.filterwarnings("ignore", message=".*starlette.testclient.*is deprecated")
    from starlette.testclient import TestClient

MUNICIPALITIES = ["0301", "1103"]
CANARY = "PAYLOADCANARY-9b27e4"  # written into the export; must never appear in an answer
MUNICIPALITY = "1103"
YEAR = 2025
BODY_LIMIT = 256 * 1024  # small, so a case can exceed it cheaply; the exports here are a few kB
UNREACHABLE = "http://127.0.0.1:9"  # discard port: nothing listens, a connection is refused at once


@dataclass
class Chain:
    state: Path
    export: Path
    gateway: TestClient
    tpf: TestClient
    registry: TestClient

    def engines(self) -> dict[str, Engine]:
        return {
            "gateway": self.gateway.app.state.gateway.engine,  # type: ignore[attr-defined]
            "tpf": self.tpf.app.state.tpf.engine,  # type: ignore[attr-defined]
            "registry": self.registry.app.state.registry.engine,  # type: ignore[attr-defined]
        }


def row_counts(engine: Engine) -> dict[str, int]:
    metadata = MetaData()
    metadata.reflect(engine)
    with engine.connect() as conn:
        return {
            name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for name, table in metadata.tables.items()
        }


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def snapshot(chain: Chain) -> dict[str, Any]:
    """What the chain stores, read through the APIs and the databases. The TPF's audit log is left out: it
    records every refusal by design (checked separately by ``refusals_only``)."""
    counts = {service: row_counts(engine) for service, engine in chain.engines().items()}
    audit = counts["tpf"].pop("audit_entries", None)
    return {
        "gateway_api": chain.gateway.get("/v1/submissions").json(),
        "registry_api": chain.registry.get("/v1/submissions").json(),
        "rows": counts,
        "tpf_audit_total": audit,
        "gateway_files": [f for f in _files(chain.state / "gateway") if not f.startswith("logs")],
    }


def tpf_audit_events(chain: Chain) -> list[str]:
    engine = chain.engines()["tpf"]
    metadata = MetaData()
    metadata.reflect(engine, only=["audit_entries"])
    table = metadata.tables["audit_entries"]
    with engine.connect() as conn:
        return [row.event for row in conn.execute(select(table.c.event).order_by(table.c.id))]


@pytest.fixture(scope="session")
def chain_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    state = tmp_path_factory.mktemp("badinput")
    init_keys(state / "keys", MUNICIPALITIES)
    return state


@pytest.fixture(scope="session")
def export(chain_state: Path) -> Path:
    path = chain_state / "exports" / f"{MUNICIPALITY}-{YEAR}.xml"
    path.parent.mkdir()
    with path.open("wb") as handle:
        generate_export(MUNICIPALITY, YEAR, 6, 5, handle)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("<navn>", f"<navn>{CANARY} ", 1), encoding="utf-8")
    return path


OPERATOR_TOKEN = new_token()


def build_apps(state: Path, prefix: str = "") -> dict[str, FastAPI]:
    """The three apps from their factories, on the keys in ``state/keys``, each with its own state folder
    (``state/<prefix><service>``), a small body limit, and no reachable peer."""
    keys = state / "keys"
    directory = keys / DIRECTORY_FILE
    credentials = state / f"{prefix}credentials.json"
    write_credentials(credentials, [Credential("test-operator", "operator", hash_token(OPERATOR_TOKEN))])
    return {
        "registry": create_registry(
            RegistrySettings(
                key_dir=keys / "registry",
                directory=directory,
                state_dir=state / f"{prefix}registry",
                max_body_bytes=BODY_LIMIT,
                credentials_file=credentials,
            )
        ),
        "tpf": create_tpf(
            TpfSettings(
                key_dir=keys / "tpf",
                directory=directory,
                state_dir=state / f"{prefix}tpf",
                registry_url=UNREACHABLE,
                max_body_bytes=BODY_LIMIT,
            )
        ),
        "gateway": create_gateway(
            GatewaySettings(
                key_dir=keys / MUNICIPALITIES_FOLDER,
                directory=directory,
                state_dir=state / f"{prefix}gateway",
                tpf_url=UNREACHABLE,
                registry_url=UNREACHABLE,
                max_body_bytes=BODY_LIMIT,
                delivery_backoff_s=3600,
                delivery_backoff_max_s=3600,
            )
        ),
    }


@pytest.fixture(scope="session")
def chain(chain_state: Path, export: Path) -> Iterator[Chain]:
    apps = build_apps(chain_state)
    registry_app, tpf_app, gateway_app = apps["registry"], apps["tpf"], apps["gateway"]
    with ExitStack() as stack:
        clients = []
        for app in (registry_app, tpf_app, gateway_app):
            with closing_replaced_log_files():
                # Every client carries the operator's token (only the registry's read endpoints look at it).
                headers = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
                clients.append(stack.enter_context(TestClient(app, headers=headers)))
        registry, tpf, gateway = clients
        # The TPF forwards to the in-process registry app (no socket): a case that wrongly got as far as
        # forwarding would store something there, and the snapshot would show it.
        forward = httpx.AsyncClient(transport=httpx.ASGITransport(app=registry_app), timeout=60)
        context = tpf_app.state.tpf
        original, context.client = context.client, forward
        try:
            yield Chain(chain_state, export, gateway, tpf, registry)
        finally:
            context.client = original
            tpf.portal.call(forward.aclose)  # type: ignore[union-attr]
    close_log_files(chain_state)


@contextmanager
def closing_replaced_log_files() -> Iterator[None]:
    """Each service's start-up points the process-wide root logger at its own log file and drops the previous
    handlers without closing them: harmless with one service per process, as in production, but several in
    one test process would leave open files for the collector (a ResourceWarning, an error under this
    project's warning filter, in whichever test runs the collector). Close what a start-up replaced."""
    root = logging.getLogger()
    before = list(root.handlers)
    yield
    for handler in before:
        if handler not in root.handlers and isinstance(handler, logging.FileHandler):
            handler.close()


def close_log_files(state: Path) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, logging.FileHandler) and Path(handler.baseFilename).is_relative_to(state):
            root.removeHandler(handler)
            handler.close()


@pytest.fixture
def unchanged(chain: Chain) -> Iterator[None]:
    """Assert, after the test, that the chain stores exactly what it stored before (the TPF's audit log may
    only have gained 'refused' entries)."""
    before = snapshot(chain)
    audit_before = len(tpf_audit_events(chain))
    yield
    assert snapshot(chain) | {"tpf_audit_total": None} == before | {"tpf_audit_total": None}
    assert set(tpf_audit_events(chain)[audit_before:]) <= {"refused"}
