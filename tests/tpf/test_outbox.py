"""The TPF's durable outbox: what it answered for is delivered later, once, whatever happens to the registry.

The TPF and the registry are the real apps; only the wire between them is a switch (up, or refusing to
connect), so the registry's outage is real to the TPF.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select
from starlette.types import ASGIApp

from iplos_chain import ensure_keys
from iplos_testkit.exports import write_synthetic_export
from services.kit.credentials import Credential, hash_token, new_token, write_credentials
from services.kit.database import make_engine
from services.registry_intake.api import create_app as create_registry
from services.registry_intake.config import RegistrySettings
from services.tpf.api import create_app as create_tpf
from services.tpf.config import TpfSettings
from services.tpf.models import audit, outbox
from services.tpf.outbox import FILES, STAGING_PREFIX, TpfOutbox
from shared.envelope import transport
from tests.badinput.conftest import close_log_files, closing_replaced_log_files
from tests.e2e.messages import Message, build_message
from tests.postgres import DATABASES, service_databases
from tests.tls import AsPeer

PROBLEM = "urn:iplos-chain:problem:"
TOKEN = new_token()  # the registry's operator
AUDITOR_TOKEN = new_token()  # the registry's auditor
GATEWAY_TOKEN = new_token()  # a gateway's own credential at the registry (it fetches reports)


class Wire(httpx.AsyncBaseTransport):
    """The TPF's connection to the registry: up, or refusing connections like a registry that is down."""

    def __init__(self, registry: ASGIApp) -> None:
        self.up = False
        self.refusal: dict[str, Any] | None = None  # a problem document the "registry" answers with instead
        self.refusal_headers: dict[str, str] = {}
        self.calls = 0
        self.gate: threading.Event | None = None  # when set: each call waits for it (a slow registry)
        self.entered = threading.Event()
        # The TPF's connection: the registry sees the TPF's certificate (tests/tls.py).
        self._inner = httpx.ASGITransport(app=registry)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        self.entered.set()
        if self.gate is not None:
            await asyncio.to_thread(self.gate.wait, 30)
        if self.refusal is not None:
            return httpx.Response(
                self.refusal["status"], json=self.refusal, headers=self.refusal_headers, request=request
            )
        if not self.up:
            raise httpx.ConnectError("connection refused", request=request)
        return await self._inner.handle_async_request(request)


@pytest.fixture(params=DATABASES)
def state(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Keys in ``tmp_path``; the TPF and the registry on each backend (PostgreSQL: a fresh database each, handed
    to both apps through their settings' environment, as a deployment would)."""
    ensure_keys(tmp_path, ["0301"])
    with service_databases(request.param, "iplos_test_tpf_outbox_") as databases:
        for service in ("tpf", "registry"):
            for name, value in databases.get(service, {}).items():
                monkeypatch.setenv(name, value)
        yield tmp_path


def _tpf_database(state: Path) -> str:
    """The TPF's database in this test: the one its settings read from the environment, or its SQLite file."""
    return os.environ.get("IPLOS_TPF_DATABASE_URL") or f"sqlite:///{state / 'tpf' / 'tpf.db'}"


def _message(state: Path, sequence: int, seed: int = 1) -> Message:
    export = state / f"export-{sequence}.xml"
    write_synthetic_export(export, "0301", 2025, 8, seed)
    return build_message(state, export, sequence, work=state / "work")


def _tpf_settings(state: Path, **changes: Any) -> TpfSettings:
    fields: dict[str, Any] = {
        "key_dir": state / "keys" / "tpf",
        "directory": state / "keys" / "directory.json",
        "state_dir": state / "tpf",
        "registry_url": "http://registry.invalid",
        "accept_synthetic_numbers": True,
        "delivery_backoff_s": 0.01,
        "delivery_backoff_max_s": 0.05,
    }
    return TpfSettings(**(fields | changes))


@contextmanager
def _chain(state: Path, **tpf_changes: Any) -> Iterator[tuple[TestClient, TestClient, Wire]]:
    credentials = state / "registry-credentials.json"
    write_credentials(
        credentials,
        [
            Credential("test-operator", "operator", hash_token(TOKEN)),
            Credential("test-auditor", "auditor", hash_token(AUDITOR_TOKEN)),
            Credential("test-gateway", "gateway", hash_token(GATEWAY_TOKEN)),
        ],
    )
    registry_app = create_registry(
        RegistrySettings(
            key_dir=state / "keys" / "registry",
            directory=state / "keys" / "directory.json",
            state_dir=state / "registry",
            credentials_file=credentials,
        )
    )
    tpf_app = create_tpf(_tpf_settings(state, **tpf_changes))
    keys = state / "keys"
    # Two services in one process: each start-up points the root logger at its own file; close what it replaced.
    # Over TLS as the chain runs (tests/tls.py): the TPF is called by municipality 0301's gateway, whose messages
    # these are; the registry by the TPF (a test switches to another party with tests.tls.acting_as).
    with (
        closing_replaced_log_files(),
        TestClient(AsPeer(registry_app, keys, "tpf")) as registry,
        closing_replaced_log_files(),
        TestClient(AsPeer(tpf_app, keys, "kommune-0301")) as tpf,
    ):
        wire = Wire(AsPeer(registry_app, keys, "tpf"))
        box = tpf_app.state.outbox
        original, box.client = box.client, httpx.AsyncClient(transport=wire)
        try:
            yield tpf, registry, wire
        finally:
            tpf.portal.call(box.client.aclose)  # type: ignore[union-attr]
            box.client = original
    close_log_files(state)


def _wait_for(tpf: TestClient, message_id: str, state: str, timeout_s: float = 15.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        body: dict[str, Any] = tpf.get(f"/v1/messages/{message_id}").json()
        if body.get("state") == state:
            return body
        assert time.monotonic() < deadline, f"still {body.get('state')} after {timeout_s} s"
        time.sleep(0.05)


def _rows(state: Path, message_id: str) -> tuple[list[str], list[Any]]:
    engine = create_engine(_tpf_database(state))
    try:
        with engine.connect() as conn:
            events = [
                row.event
                for row in conn.execute(
                    select(audit.log.c.event).where(audit.log.c.message_id == message_id).order_by(audit.log.c.idx)
                )
            ]
            rows = list(conn.execute(select(outbox).where(outbox.c.message_id == message_id)))
    finally:
        engine.dispose()
    return events, rows


def _stored(registry: TestClient, message_id: str) -> bool:
    response = registry.get(f"/v1/submissions/{message_id}", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code in (200, 404), response.text
    return response.status_code == 200


def test_a_healthy_registry_answers_within_the_request(state: Path) -> None:
    message = _message(state, 1)
    with _chain(state) as (tpf, _registry, wire):
        wire.up = True
        response = tpf.post("/v1/messages", files=message.files())
        assert response.status_code == 200, response.text
        assert response.json()["receipt"]["status"] == "stored"
        status = tpf.get(f"/v1/messages/{message.parsed.message_id}").json()
        assert status["state"] == "delivered"
        assert status["receipt"] == response.json()["receipt"]
    events, rows = _rows(state, message.parsed.message_id)
    assert events == ["pseudonymised", "forwarded"]
    assert [row.state for row in rows] == ["delivered"]
    # Settled: nothing of the message is left in the outbox.
    assert not (state / "tpf" / "outbox" / message.parsed.message_id).exists()


def test_a_message_that_could_not_reach_the_registry_goes_at_once_when_the_registry_answers_again(
    state: Path,
) -> None:
    """Its backoff paced the registry while it was down; once the registry answers for another message (here the
    next one's first attempt, within its request), it is sent now, not at the end of its backoff."""
    first, second = _message(state, 1), _message(state, 2, seed=2)
    with _chain(state, delivery_backoff_s=30.0, delivery_backoff_max_s=60.0) as (tpf, registry, wire):
        assert tpf.post("/v1/messages", files=first.files()).status_code == 202
        engine = make_engine(_tpf_database(state))
        try:
            with engine.begin() as conn:  # deep in its backoff, whatever the jitter drew
                conn.execute(outbox.update().values(next_attempt_at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)))
        finally:
            engine.dispose()
        wire.up = True
        assert tpf.post("/v1/messages", files=second.files()).status_code == 200, "delivered within its request"
        _wait_for(tpf, first.parsed.message_id, "delivered", timeout_s=10)
        assert _stored(registry, first.parsed.message_id)


def test_a_message_taken_while_the_registry_is_down_is_delivered_once_it_is_back(state: Path) -> None:
    message = _message(state, 1)
    message_id = message.parsed.message_id
    with _chain(state) as (tpf, registry, wire):
        response = tpf.post("/v1/messages", files=message.files())
        assert response.status_code == 202, response.text
        assert response.headers["location"] == f"/v1/messages/{message_id}"
        assert response.json()["state"] == "queued"
        folder = state / "tpf" / "outbox" / message_id
        assert sorted(p.name for p in folder.iterdir()) == sorted(FILES.values())
        sealed = (folder / FILES[transport.PSEUDONYMS]).read_bytes()
        # The payload waits as the bytes that arrived.
        assert (folder / "payload.part").read_bytes() == message.payload

        # The municipality sends it again while it waits: the same answer, and it is not processed again.
        again = tpf.post("/v1/messages", files=message.files())
        assert again.status_code == 202
        assert again.json()["message_id"] == message_id
        assert (folder / FILES[transport.PSEUDONYMS]).read_bytes() == sealed
        queued = tpf.get(f"/v1/messages/{message_id}").json()
        assert queued["state"] == "queued"
        assert queued["last_error"].startswith("registry unreachable")
        assert not _stored(registry, message_id)

        wire.up = True
        delivered = _wait_for(tpf, message_id, "delivered")
        assert delivered["receipt"]["status"] == "stored"
        assert delivered["receipt"]["message_id"] == message_id
        assert _stored(registry, message_id)
        # The worker removes the folder once the delivered state is committed: a reader can see the state first.
        deadline = time.monotonic() + 10
        while folder.exists():
            assert time.monotonic() < deadline, "the delivered message's folder was not removed"
            time.sleep(0.02)

        # After delivery a re-delivery gets the original receipt, with no new processing.
        replay = tpf.post("/v1/messages", files=message.files())
        assert replay.status_code == 409
        assert replay.json()["type"] == PROBLEM + "replayed-message"
        assert replay.json()["receipt"] == delivered["receipt"]
    events, rows = _rows(state, message_id)
    # Pseudonymised once; the replay after delivery was answered from what is stored, with no new audit entry.
    assert events == ["pseudonymised", "forwarded"]
    assert rows[0].state == "delivered"
    assert rows[0].attempts >= 2


def test_a_queued_message_survives_a_restart_and_crash_leftovers_are_swept(state: Path) -> None:
    message = _message(state, 1)
    message_id = message.parsed.message_id
    # The worker waits an hour between attempts: only the restart can bring the message on.
    with _chain(state, delivery_backoff_s=3600, delivery_backoff_max_s=3600) as (tpf, _registry, _wire):
        assert tpf.post("/v1/messages", files=message.files()).status_code == 202
    outbox_dir = state / "tpf" / "outbox"
    staging = outbox_dir / f"{STAGING_PREFIX}deadbeef"  # a crash while pseudonymising
    staging.mkdir()
    (staging / "pseudonyms.part").write_bytes(b"half")
    orphan = outbox_dir / "00000000-0000-4000-8000-000000000000"  # a crash between rename and commit
    orphan.mkdir()
    with _chain(state) as (tpf, registry, wire):
        wire.up = True
        delivered = _wait_for(tpf, message_id, "delivered")
        assert delivered["receipt"]["status"] == "stored"
        assert _stored(registry, message_id)
        assert not staging.exists()
        assert not orphan.exists()
    events, _ = _rows(state, message_id)
    assert events == ["pseudonymised", "forwarded"]


def test_the_same_message_id_with_another_header_is_a_conflict_while_queued(state: Path) -> None:
    first = _message(state, 1)
    other = _message(state, 2)
    with _chain(state) as (tpf, _registry, _wire):
        assert tpf.post("/v1/messages", files=first.files()).status_code == 202
        forged = build_message(
            state,
            state / "export-2.xml",
            2,
            header_changes={"message_id": first.parsed.message_id},
            work=state / "work",
        )
        assert other.parsed.message_id != first.parsed.message_id
        response = tpf.post("/v1/messages", files=forged.files())
        assert response.status_code == 409
        assert response.json()["type"] == PROBLEM + "message-id-conflict"
        assert "receipt" not in response.json()
    _, rows = _rows(state, first.parsed.message_id)
    assert [row.state for row in rows] == ["queued"]


def test_a_message_that_keeps_failing_is_dead_lettered_and_a_redelivery_takes_it_afresh(state: Path) -> None:
    message = _message(state, 1)
    message_id = message.parsed.message_id
    with _chain(state, delivery_max_attempts=3) as (tpf, registry, wire):
        assert tpf.post("/v1/messages", files=message.files()).status_code == 202
        dead = _wait_for(tpf, message_id, "dead-letter")
        assert dead["attempts"] == 3
        assert wire.calls == 3
        wire.up = True
        response = tpf.post("/v1/messages", files=message.files())
        assert response.status_code == 200, response.text
        assert response.json()["receipt"]["status"] == "stored"
        assert _stored(registry, message_id)
    events, rows = _rows(state, message_id)
    assert events == ["pseudonymised", "dead-lettered", "pseudonymised", "forwarded"]
    assert [row.state for row in rows] == ["delivered"]


def test_a_registry_that_refuses_at_its_door_costs_no_attempt_and_the_message_goes_once_it_takes_it(
    state: Path,
) -> None:
    """A busy registry (or the TPF over its rate there) answers before reading anything, with Retry-After: the
    TPF waits as told (here at most its 0.05 s longest backoff) and never dead-letters the message for it."""
    message = _message(state, 1)
    message_id = message.parsed.message_id
    with _chain(state, delivery_max_attempts=2) as (tpf, registry, wire):
        wire.refusal = {"type": PROBLEM + "service-busy", "status": 503, "title": "busy"}
        wire.refusal_headers = {"Retry-After": "5"}
        assert tpf.post("/v1/messages", files=message.files()).status_code == 202
        deadline = time.monotonic() + 15
        while wire.calls < 6:
            assert time.monotonic() < deadline, f"only {wire.calls} attempts"
            time.sleep(0.02)
        waiting = tpf.get(f"/v1/messages/{message_id}").json()
        assert (waiting["state"], waiting["attempts"]) == ("queued", 0)
        assert waiting["last_error"] == "service-busy"
        wire.refusal, wire.up = None, True
        assert _wait_for(tpf, message_id, "delivered")["attempts"] == 1
        assert _stored(registry, message_id)
    events, _ = _rows(state, message_id)
    assert events == ["pseudonymised", "forwarded"]


def test_a_permanent_refusal_by_the_registry_is_final_and_leaves_nothing_behind(state: Path) -> None:
    message = _message(state, 1)
    message_id = message.parsed.message_id
    with _chain(state) as (tpf, _registry, wire):
        wire.refusal = {"type": PROBLEM + "invalid-payload", "status": 422, "title": "The payload is malformed"}
        response = tpf.post("/v1/messages", files=message.files())
        assert response.status_code == 502, response.text
        assert response.json()["type"] == PROBLEM + "registry-refused"
        assert response.json()["upstream_type"] == PROBLEM + "invalid-payload"
        status = tpf.get(f"/v1/messages/{message_id}").json()
        assert status["state"] == "rejected"
        assert status["last_error"] == "registry: invalid-payload"
        assert wire.calls == 1  # not retried
    events, _ = _rows(state, message_id)
    assert events == ["pseudonymised", "forwarded"]
    assert not (state / "tpf" / "outbox" / message_id).exists()


def test_an_unknown_message_is_not_found(state: Path) -> None:
    with _chain(state) as (tpf, _registry, _wire):
        response = tpf.get("/v1/messages/00000000-0000-4000-8000-000000000000")
    assert response.status_code == 404
    assert response.json()["type"] == PROBLEM + "not-found"


def test_a_message_the_request_is_delivering_is_left_alone_by_another_worker(state: Path) -> None:
    message = _message(state, 1)
    message_id = message.parsed.message_id
    answers: list[httpx.Response] = []
    with _chain(state) as (tpf, _registry, wire):
        wire.up = True
        wire.gate = threading.Event()
        poster = threading.Thread(target=lambda: answers.append(tpf.post("/v1/messages", files=message.files())))
        poster.start()
        engine = make_engine(_tpf_database(state))  # another TPF process on the same database
        try:
            assert wire.entered.wait(30)  # the request's own attempt is on its way to the registry
            box = tpf.app.state.outbox  # type: ignore[attr-defined]
            ctx = tpf.app.state.tpf  # type: ignore[attr-defined]
            other = TpfOutbox(
                engine,
                box.folder,
                "http://registry.invalid",
                httpx.AsyncClient(transport=wire),
                audit=ctx.audit,
                directory=ctx.directory,
                max_attempts=5,
                backoff_s=0.01,
                backoff_max_s=0.05,
                lease_s=60,
            )
            assert asyncio.run(other.deliver_due()) is False
            assert asyncio.run(other.deliver(message_id)).state == "queued"
            assert wire.calls == 1
        finally:
            wire.gate.set()
            poster.join(30)
            engine.dispose()
        assert answers[0].status_code == 200, answers[0].text
    events, rows = _rows(state, message_id)
    assert events == ["pseudonymised", "forwarded"]
    assert [(row.state, row.attempts, row.lease_owner) for row in rows] == [("delivered", 1, None)]
