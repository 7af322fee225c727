"""The TPF's metrics and readiness, in process: the real TPF and registry apps with a switchable wire between
them (tests/tpf/test_outbox.py), so each outcome happens for real and the counters are read from the app.

The counts follow the TPF's audit log: ``pseudonymised`` when a message is taken, one of ``forwarded``,
``rejected`` or ``dead-lettered`` when the outbox settles it, ``refused`` for each message of a proven sender
refused; a message refused before its sender was proven is on no audit entry and counted in
``iplos_unproven_refusals_total`` instead.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from iplos_chain import ensure_keys
from services.tpf.monitoring import TpfMetrics
from tests.badinput.conftest import TestClient
from tests.tpf.test_outbox import PROBLEM, _chain, _message, _wait_for


@pytest.fixture
def state(tmp_path: Path) -> Path:
    ensure_keys(tmp_path, ["0301"])
    return tmp_path


def value(client: TestClient, name: str, **labels: str) -> float:
    metrics: TpfMetrics = client.app.state.metrics  # type: ignore[attr-defined]
    found = metrics.registry.get_sample_value(name, {"service": metrics.service, **labels})
    assert found is not None, (name, labels)
    return found


def messages(client: TestClient) -> dict[str, float]:
    outcomes = ("pseudonymised", "forwarded", "rejected", "refused", "dead-lettered")
    return {outcome: value(client, "iplos_messages_total", outcome=outcome) for outcome in outcomes}


def stages(client: TestClient) -> dict[str, float]:
    names = ("verify", "pseudonymise", "forward_attempt")
    return {stage: value(client, "iplos_stage_duration_seconds_count", stage=stage) for stage in names}


def test_a_delivered_message_is_counted_once_per_outcome_and_stage(state: Path) -> None:
    message = _message(state, 1)
    with _chain(state) as (tpf, _registry, wire):
        wire.up = True
        assert tpf.post("/v1/messages", files=message.files()).status_code == 200
        assert messages(tpf) == {"pseudonymised": 1, "forwarded": 1, "rejected": 0, "refused": 0, "dead-lettered": 0}
        assert value(tpf, "iplos_records_total", outcome="pseudonymised") == message.parsed.record_count
        assert value(tpf, "iplos_records_total", outcome="refused") == 0
        assert stages(tpf) == {"verify": 1, "pseudonymise": 1, "forward_attempt": 1}
        assert value(tpf, "iplos_outbox_depth", state="queued") == 0
        route = {"method": "POST", "route": "/v1/messages", "status": "200"}
        assert value(tpf, "iplos_http_request_duration_seconds_count", **route) == 1

        # Sent again after delivery: answered with the original receipt (409) from what is stored; a replay, not
        # a new refusal on the audit record.
        assert tpf.post("/v1/messages", files=message.files()).status_code == 409
        assert value(tpf, "iplos_messages_total", outcome="refused") == 0
        assert value(tpf, "iplos_replays_total", answer="receipt") == 1
        assert value(tpf, "iplos_replays_total", answer="refusal") == 0
        assert value(tpf, "iplos_refusals_total", problem="replayed-message") == 1
        assert value(tpf, "iplos_messages_total", outcome="pseudonymised") == 1


def test_a_message_that_does_not_verify_is_counted_as_unproven_by_its_problem_type_and_peer(state: Path) -> None:
    message = _message(state, 1)
    message.signature = bytes(64)
    with _chain(state) as (tpf, _registry, wire):
        wire.up = True
        response = tpf.post("/v1/messages", files=message.files())
        assert (response.status_code, response.json()["type"]) == (400, PROBLEM + "invalid-envelope")
        # Not a refused message on the audit record: its sender never proved itself.
        assert messages(tpf)["refused"] == 0
        assert messages(tpf)["pseudonymised"] == 0
        assert value(tpf, "iplos_refusals_total", problem="invalid-envelope") == 1
        # By the connection's party (the TLS peer: 0301's gateway), never by what the header claims.
        unproven = {"problem": "invalid-envelope", "peer": "kommune-0301"}
        assert value(tpf, "iplos_unproven_refusals_total", **unproven) == 1
        assert stages(tpf) == {"verify": 1, "pseudonymise": 0, "forward_attempt": 0}


def test_the_outbox_depth_shows_what_waits_while_the_registry_is_down(state: Path) -> None:
    message = _message(state, 1)
    with _chain(state) as (tpf, _registry, wire):
        assert tpf.post("/v1/messages", files=message.files()).status_code == 202
        assert value(tpf, "iplos_outbox_depth", state="queued") == 1
        assert value(tpf, "iplos_outbox_oldest_age_seconds") > 0
        assert messages(tpf)["forwarded"] == 0
        wire.up = True
        _wait_for(tpf, message.parsed.message_id, "delivered")
        assert messages(tpf)["forwarded"] == 1
        assert stages(tpf)["forward_attempt"] >= 2
        _until(lambda: value(tpf, "iplos_outbox_depth", state="queued") == 0)  # the gauges' answer lasts 1 s
        assert value(tpf, "iplos_outbox_oldest_age_seconds") == 0


def test_a_permanent_refusal_by_the_registry_is_counted_as_rejected(state: Path) -> None:
    message = _message(state, 1)
    with _chain(state) as (tpf, _registry, wire):
        wire.refusal = {"type": PROBLEM + "invalid-payload", "title": "No", "status": 422}
        response = tpf.post("/v1/messages", files=message.files())
        assert (response.status_code, response.json()["type"]) == (502, PROBLEM + "registry-refused")
        assert messages(tpf) == {"pseudonymised": 1, "forwarded": 0, "rejected": 1, "refused": 0, "dead-lettered": 0}
        # The TPF's own answer is a problem document too, and counted as such.
        assert value(tpf, "iplos_refusals_total", problem="registry-refused") == 1


def test_a_dead_lettered_message_is_counted(state: Path) -> None:
    message = _message(state, 1)
    with _chain(state, delivery_max_attempts=1) as (tpf, _registry, _wire):
        assert tpf.post("/v1/messages", files=message.files()).status_code == 202
        assert messages(tpf)["dead-lettered"] == 1
        assert value(tpf, "iplos_outbox_depth", state="queued") == 0


def test_metrics_need_a_credential_the_tpf_knows(state: Path) -> None:
    with _chain(state) as (tpf, _registry, _wire):  # a TPF without a credentials file: nobody reads them
        assert tpf.get("/metrics").status_code == 401
        assert tpf.get("/metrics", headers={"Authorization": "Bearer iplos_unknown"}).status_code == 401


def test_readyz_names_a_missing_pseudonym_key_version_and_an_unreachable_database(state: Path) -> None:
    with _chain(state) as (tpf, _registry, _wire):
        ready = tpf.get("/readyz")
        assert (ready.status_code, ready.json()["checks"]) == (200, {"database": "ok", "keys": "ok", "outbox": "ok"})
        readiness = tpf.app.state.readiness  # type: ignore[attr-defined]
        readiness.key_cache_s = 0

        # Another version is there, the configured one (1) is not: the next start would fail.
        keys = state / "keys" / "tpf"
        shutil.copy2(keys / "pseudonym-v1.key", keys / "pseudonym-v2.key")
        (keys / "pseudonym-v1.key").rename(state / "pseudonym-v1.key")
        assert _failed(tpf) == {"keys": "the configured pseudonym key version is missing"}
        (keys / "signing.pem").rename(state / "signing.pem")
        assert _failed(tpf) == {"keys": "a key file is missing or does not load"}
        (state / "signing.pem").rename(keys / "signing.pem")
        (state / "pseudonym-v1.key").rename(keys / "pseudonym-v1.key")

        with unreachable_database(tpf.app.state.tpf.engine, state / "tpf" / "tpf.db"):  # type: ignore[attr-defined]
            assert _failed(tpf) == {"database": "unreachable"}
        assert tpf.get("/readyz").status_code == 200


def _failed(client: TestClient) -> dict[str, str]:
    """The checks that failed, from a 503 not-ready problem (which names no path)."""
    response = client.get("/readyz")
    assert response.status_code == 503, response.text
    body: dict[str, Any] = response.json()
    assert body["type"] == PROBLEM + "not-ready"
    assert "/" not in " ".join(body["checks"].values())
    return {name: result for name, result in body["checks"].items() if result != "ok"}


class unreachable_database:  # noqa: N801 - used as a context manager, named for what it does
    """The service's SQLite file replaced by a folder, with the engine's pooled connections closed, so that the
    next connection fails as for a database that cannot be reached; put back on exit."""

    def __init__(self, engine: Any, path: Path) -> None:
        self.engine, self.path, self.aside = engine, path, path.with_name(path.name + ".aside")

    def __enter__(self) -> None:
        self.engine.dispose()
        self.path.rename(self.aside)
        self.path.mkdir()

    def __exit__(self, *exc: object) -> None:
        self.path.rmdir()
        self.aside.rename(self.path)
        self.engine.dispose()


def _until(condition: Any, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)
