"""The kit's app builder (services.kit.app.build_app): a small service of its own built with it, and the three
services as they build theirs.

What it must do the same way for everyone: open the database durably, load the credentials before the
service's start-up, start the background work after it, log ``"<service> ready"``, and at shutdown stop the work
before closing what the start-up opened and before disposing of the engine (also when the start-up fails); serve
health, ``/metrics`` and the audit log's endpoints to the roles the kit names.
"""

from __future__ import annotations

import asyncio
import importlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from iplos_chain.apps import APPS
from iplos_chain.state import ensure_gateway_credentials, ensure_gateway_registry_token, ensure_keys
from iplos_chain.supervisor import service_env
from services.kit.app import Opened, Running, build_app
from services.kit.audit_log import AuditLog
from services.kit.credentials import Credential, hash_token, write_credentials
from services.kit.metrics import ServiceMetrics
from services.kit.readiness import Readiness
from services.kit.settings import ServiceSettings
from services.registry_intake import models as registry_models
from services.registry_intake.api import MIGRATIONS as REGISTRY_MIGRATIONS
from shared.keys import PartyKeys
from tests.badinput.conftest import close_log_files, closing_replaced_log_files

OPERATOR, AUDITOR, MUNICIPALITY = "operator-token", "auditor-token", "municipality-token"
FULL = 2  # PRAGMA synchronous: 0 OFF, 1 NORMAL, 2 FULL


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(autouse=True)
def _log_files(tmp_path: Path) -> Iterator[None]:
    """Each start-up points the root logger at its own file: close it again (tests/badinput/conftest.py)."""
    with closing_replaced_log_files():
        yield
    close_log_files(tmp_path)


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What happened, in order: the checkpoints' task and every engine's disposal are recorded here."""
    happened: list[str] = []

    async def checkpoints(self: AuditLog, interval_s: float, **_callbacks: Any) -> None:
        happened.append("checkpoints started")
        try:
            await asyncio.Event().wait()
        finally:
            happened.append("checkpoints stopped")

    dispose = Engine.dispose

    def disposing(self: Engine, close: bool = True) -> None:
        happened.append("engine disposed")
        dispose(self, close)

    monkeypatch.setattr(AuditLog, "run_checkpoints", checkpoints)
    monkeypatch.setattr(Engine, "dispose", disposing)
    return happened


def _settings(tmp_path: Path, key_dir: Path) -> ServiceSettings:
    credentials = tmp_path / "credentials.json"
    write_credentials(
        credentials,
        [
            Credential("an-operator", "operator", hash_token(OPERATOR)),
            Credential("an-auditor", "auditor", hash_token(AUDITOR)),
            Credential("a-municipality", "municipality", hash_token(MUNICIPALITY), municipality="0301"),
        ],
    )
    return ServiceSettings(
        key_dir=key_dir, directory=key_dir / "directory.json", state_dir=tmp_path / "toy", credentials_file=credentials
    )


def _toy(
    settings: ServiceSettings, keys: PartyKeys, events: list[str], *, fail: bool = False
) -> tuple[FastAPI, dict[str, Any]]:
    """A service with one route, one piece of background work and one resource its start-up opens."""
    seen: dict[str, Any] = {}
    router = APIRouter()

    @router.get("/v1/toy")
    async def toy() -> dict[str, str]:
        return {"toy": "yes"}

    async def work() -> None:
        events.append("work started")
        try:
            await asyncio.Event().wait()
        finally:
            events.append("work stopped")

    async def start(opened: Opened) -> Running:
        events.append("start")
        seen["credentials"] = [c.name for c in opened.credentials]
        seen["engine"] = opened.engine
        opened.resources.callback(events.append, "resources closed")
        if fail:
            raise RuntimeError("the toy's keys are missing")
        audit = AuditLog(
            opened.engine, registry_models.audit, service="registry", log_name="registry", signing_key=keys.signing
        )
        return Running(audit, Readiness(opened.engine, lambda: None), background=[work], ready={"answer": 42})

    app = build_app(
        "toy",
        title="A toy service",
        settings=settings,
        migrations=REGISTRY_MIGRATIONS,
        metrics=ServiceMetrics("toy", messages=["taken"]),
        start=start,
        routers=[router],
    )
    return app, seen


def test_a_service_built_by_the_kit_starts_serves_and_stops_in_order(
    tmp_path: Path, key_dir: Path, registry_keys: PartyKeys, events: list[str]
) -> None:
    settings = _settings(tmp_path, key_dir)
    app, seen = _toy(settings, registry_keys, events)
    with TestClient(app) as client:
        # The credentials were loaded before the start-up ran, and handed to it.
        assert seen["credentials"] == ["an-operator", "an-auditor", "a-municipality"]
        assert app.state.settings is settings
        with seen["engine"].connect() as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar_one() == FULL
        assert client.get("/v1/toy").json() == {"toy": "yes"}
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/readyz").json()["status"] == "ready"
        # The audit log's endpoints and /metrics: operators and auditors, nobody else.
        assert client.get("/v1/audit/checkpoint", headers=_bearer(AUDITOR)).status_code == 200
        assert client.get("/v1/audit/checkpoint", headers=_bearer(OPERATOR)).status_code == 200
        assert client.get("/v1/audit/checkpoint", headers=_bearer(MUNICIPALITY)).status_code == 403
        assert client.get("/v1/audit/checkpoint").status_code == 401
        assert client.get("/metrics", headers=_bearer(AUDITOR)).status_code == 200
        assert client.get("/metrics").status_code == 401
        # A problem is answered as one, and counted.
        missing = client.get("/v1/no-such-thing")
        assert (missing.status_code, missing.headers["content-type"]) == (404, "application/problem+json")
        assert (
            'iplos_refusals_total{problem="not-found",service="toy"} 1.0'
            in client.get("/metrics", headers=_bearer(OPERATOR)).text
        )
        started = list(events)
    assert started[0] == "start"
    assert sorted(started[1:]) == ["checkpoints started", "work started"]
    # The background work stops first, then what the start-up opened is closed, then the engine goes.
    assert sorted(events[3:5]) == ["checkpoints stopped", "work stopped"]
    assert events[5:] == ["resources closed", "engine disposed"]
    ready = [line for line in _log_lines(settings.state_dir / "logs" / "toy.log") if line["event"] == "toy ready"]
    assert [(line["logger"], line["answer"]) for line in ready] == [("toy", 42)]


def test_a_failed_start_up_closes_what_it_opened_and_disposes_of_the_engine(
    tmp_path: Path, key_dir: Path, registry_keys: PartyKeys, events: list[str]
) -> None:
    app, _ = _toy(_settings(tmp_path, key_dir), registry_keys, events, fail=True)
    with pytest.raises(RuntimeError, match="keys are missing"), TestClient(app):
        pass
    assert events == ["start", "resources closed", "engine disposed"]


def _log_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# --- the three services -----------------------------------------------------------------------------------------

ENGINES: dict[str, Callable[[FastAPI], Engine]] = {
    "gateway": lambda app: app.state.gateway.engine,
    "tpf": lambda app: app.state.tpf.engine,
    "registry": lambda app: app.state.registry.engine,
}


@pytest.mark.parametrize("service", sorted(APPS))
def test_every_service_commits_durably_and_says_it_is_ready(
    service: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, events: list[str]
) -> None:
    """Each one answers for what it committed (the gateway's and the TPF's 202, the registry's signed receipt):
    on SQLite every commit is synced (``synchronous=FULL``), so no answer outlives a power loss of its commit."""
    ensure_keys(tmp_path, ["0301"])
    ensure_gateway_credentials(tmp_path)
    ensure_gateway_registry_token(tmp_path)
    for name, value in service_env(service, tmp_path, {"gateway": 1, "tpf": 2, "registry": 3}).items():
        monkeypatch.setenv(name, value)
    module, _, factory = APPS[service].partition(":")
    app: FastAPI = getattr(importlib.import_module(module), factory)()
    with TestClient(app) as client:
        with ENGINES[service](app).connect() as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar_one() == FULL
        assert client.get("/readyz").json()["status"] == "ready"
        assert client.get("/v1/audit/checkpoint").status_code == 401
    assert "checkpoints started" in events
    assert events[-1] == "engine disposed"
    lines = _log_lines(tmp_path / service / "logs" / f"{service}.log")
    assert [line["logger"] for line in lines if line["event"] == f"{service} ready"] == [service]
