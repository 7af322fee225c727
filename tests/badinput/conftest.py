"""In-process fixtures for the bad-input matrix: the three apps on one tmp key folder, each with a small body
limit, and a snapshot of everything the chain stores so each case can show it changed nothing.

The gateway knows the operator's token and one token per municipality (0301, 1103), plus an auditor's, a role
it does not accept. Every client carries the operator's token unless a case says otherwise."""

from __future__ import annotations

import logging
import time
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

from iplos_testkit.generator import generate_export
from keys.generate import DIRECTORY_FILE, MUNICIPALITIES_FOLDER, init_keys
from services.kit.credentials import Credential, hash_token, new_token, write_credentials
from services.municipality_gateway.api import create_app as create_gateway
from services.municipality_gateway.config import GatewaySettings
from services.municipality_gateway.states import FINAL_STATES
from services.registry_intake.api import create_app as create_registry
from services.registry_intake.config import RegistrySettings
from services.tpf.api import create_app as create_tpf
from services.tpf.config import TpfSettings

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


AUDIT_TABLES = ("audit_log", "audit_checkpoints")
# The record of a refusal that is final for the message id (spec section 9): written with its "refused" audit
# entry, so the same message is answered again from it.
REFUSAL_TABLES = ("refused_messages",)


def snapshot(chain: Chain) -> dict[str, Any]:
    """What the chain stores, read through the APIs and the databases. The audit logs and the refusals kept
    with them are left out: they record refusals by design, and the logs sign checkpoints as they grow
    (checked by ``audit_events``)."""
    counts = {service: row_counts(engine) for service, engine in chain.engines().items()}
    for service_counts in counts.values():
        for table in AUDIT_TABLES + REFUSAL_TABLES:
            service_counts.pop(table, None)
    return {
        "gateway_api": chain.gateway.get("/v1/submissions").json(),
        "registry_api": chain.registry.get("/v1/submissions").json(),
        "rows": counts,
        "gateway_files": [f for f in _files(chain.state / "gateway") if not f.startswith("logs")],
    }


def audit_events(chain: Chain) -> dict[str, list[str]]:
    """Each service's audit log, as its list of events in order."""
    events = {}
    for service, engine in chain.engines().items():
        metadata = MetaData()
        metadata.reflect(engine, only=["audit_log"])
        table = metadata.tables["audit_log"]
        with engine.connect() as conn:
            events[service] = [row.event for row in conn.execute(select(table.c.event).order_by(table.c.idx))]
    return events


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
MUNICIPALITY_TOKENS = {nr: new_token() for nr in MUNICIPALITIES}
AUDITOR_TOKEN = new_token()
# The registry's credentials: the gateway's own (role gateway: it fetches reports), and a municipality credential
# that a registry has no use for (any endpoint refuses it: 403).
GATEWAY_REGISTRY_TOKEN = new_token()
REGISTRY_MUNICIPALITY_TOKEN = new_token()


def build_apps(state: Path, prefix: str = "") -> dict[str, FastAPI]:
    """The three apps from their factories, on the keys in ``state/keys``, each with its own state folder
    (``state/<prefix><service>``), a small body limit, no rate limit, no reachable peer, and plain HTTP (the bad
    inputs are about what a request holds, not which TLS peer sends it: tests/tls.py and the e2e tests check that).
    The gateway gives up on a submission after its first failed delivery (dead-letter), so one it accepted changes no
    more by itself."""
    keys = state / "keys"
    directory = keys / DIRECTORY_FILE
    credentials = state / f"{prefix}credentials.json"
    write_credentials(
        credentials,
        [
            Credential("test-operator", "operator", hash_token(OPERATOR_TOKEN)),
            Credential("test-auditor", "auditor", hash_token(AUDITOR_TOKEN)),
            Credential("test-gateway", "gateway", hash_token(GATEWAY_REGISTRY_TOKEN)),
            Credential(
                "test-municipality-at-registry",
                "municipality",
                hash_token(REGISTRY_MUNICIPALITY_TOKEN),
                municipality=MUNICIPALITY,
            ),
        ],
    )
    # Every test client is one caller (its address "testclient"): at the default rate limit, a fuzzing run's
    # hundreds of requests would mostly be refused at the door (429) and never reach the handlers they are meant
    # to try. The limits have tests of their own (tests/kit/test_guards.py, tests/e2e/test_slow_callers.py).
    unlimited = {"requests_per_s_per_caller": 1e9, "request_burst_per_caller": 10**9}
    gateway_credentials = state / f"{prefix}gateway-credentials.json"
    write_credentials(
        gateway_credentials,
        [
            Credential("test-operator", "operator", hash_token(OPERATOR_TOKEN)),
            Credential("test-auditor", "auditor", hash_token(AUDITOR_TOKEN)),
            *(
                Credential(f"test-municipality-{nr}", "municipality", hash_token(token), municipality=nr)
                for nr, token in MUNICIPALITY_TOKENS.items()
            ),
        ],
    )
    return {
        "registry": create_registry(
            RegistrySettings(
                plain_http=True,
                key_dir=keys / "registry",
                directory=directory,
                state_dir=state / f"{prefix}registry",
                max_body_bytes=BODY_LIMIT,
                credentials_file=credentials,
                **unlimited,
            )
        ),
        "tpf": create_tpf(
            TpfSettings(
                plain_http=True,
                key_dir=keys / "tpf",
                directory=directory,
                state_dir=state / f"{prefix}tpf",
                registry_url=UNREACHABLE,
                max_body_bytes=BODY_LIMIT,
                credentials_file=credentials,
                **unlimited,
            )
        ),
        "gateway": create_gateway(
            GatewaySettings(
                plain_http=True,
                key_dir=keys / MUNICIPALITIES_FOLDER,
                directory=directory,
                state_dir=state / f"{prefix}gateway",
                tpf_url=UNREACHABLE,
                registry_url=UNREACHABLE,
                max_body_bytes=BODY_LIMIT,
                delivery_max_attempts=1,
                delivery_backoff_s=3600,
                delivery_backoff_max_s=3600,
                credentials_file=gateway_credentials,
                **unlimited,
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
        context = tpf_app.state.outbox
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


@pytest.fixture(scope="session")
def gateway_submission(chain: Chain) -> str:
    """A submission of ``MUNICIPALITY``'s, accepted by the gateway with that municipality's token and
    dead-lettered after its one failed delivery: retryable, and from then on unchanging by itself."""
    headers = {"Content-Type": "application/xml", "Authorization": f"Bearer {MUNICIPALITY_TOKENS[MUNICIPALITY]}"}
    accepted = chain.gateway.post("/v1/submissions", content=chain.export.read_bytes(), headers=headers)
    assert accepted.status_code == 202, accepted.text
    submission_id: str = accepted.json()["submission_id"]
    deadline = time.monotonic() + 30
    while (state := chain.gateway.get(f"/v1/submissions/{submission_id}").json()["state"]) not in FINAL_STATES:
        assert time.monotonic() < deadline, f"the submission is still {state}"
        time.sleep(0.05)
    return submission_id


@pytest.fixture
def unchanged(chain: Chain) -> Iterator[None]:
    """Assert, after the test, that the chain stores exactly what it stored before (the audit logs may only
    have gained 'refused' entries)."""
    before = snapshot(chain)
    audit_before = audit_events(chain)
    yield
    assert snapshot(chain) == before
    for service, events in audit_events(chain).items():
        assert set(events[len(audit_before[service]) :]) <= {"refused"}, service
