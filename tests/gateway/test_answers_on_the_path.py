"""Issue 17: what the TPF answers the gateway (a problem document, the status of a message it holds) is unsigned,
and anything on the path between them (a TLS terminator, an element inside the TLS zone, a bug) can rewrite it.

The gateway's real outbox worker talks to the real TPF app (over the municipality's TLS identity, tests/tls.py),
and the TPF to the real registry (tests/tpf/test_outbox.py's wire), through a path element that rewrites the
TPF's answers. A refusal or a ``rejected`` written on the path leaves the submission pending and it is delivered
once the path is honest again; the TPF's own signed refusal still ends it (docs/envelope-v1.md 7.10, 10.8).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import update
from starlette.types import ASGIApp

from iplos_chain import ensure_keys
from services.kit.http import Clients
from services.municipality_gateway import outbox, service
from services.municipality_gateway.models import submissions
from tests.gateway.test_outbox import PROBLEM, Setup
from tests.tpf.test_outbox import Wire, _chain

Rewrite = Callable[[httpx.Request, int, dict[str, Any]], tuple[int, dict[str, Any]]]


class OnThePath(httpx.AsyncBaseTransport):
    """Between the gateway and the TPF: passes every request on, and rewrites the TPF's answer with ``rewrite``
    while one is set."""

    def __init__(self, tpf: ASGIApp) -> None:
        self.rewrite: Rewrite | None = None
        self._inner = httpx.ASGITransport(app=tpf)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if self.rewrite is None:
            return response
        await response.aread()
        status, body = self.rewrite(request, response.status_code, response.json())
        return httpx.Response(status, json=body, request=request)


class Chain:
    def __init__(self, setup: Setup, tpf: TestClient, wire: Wire) -> None:
        self.setup = setup
        self.tpf = tpf
        self.wire = wire
        self.path = OnThePath(tpf.app)
        self._client = httpx.AsyncClient(transport=self.path)
        self.worker = outbox.OutboxWorker(
            setup.engine,
            setup.directory,
            setup.outbox,
            "http://tpf.test",
            Clients(default=self._client),
            max_attempts=10,
            backoff_s=0.01,
            backoff_max_s=0.02,
        )

    def deliver(self) -> dict[str, Any]:
        """One attempt of the gateway's worker now (in the TPF app's event loop), and the submission after it."""
        with self.setup.engine.begin() as conn:
            conn.execute(update(submissions).values(next_attempt_at=None))
        self.tpf.portal.call(self.worker.deliver, self.setup.message_id)
        state = service.find_submission(self.setup.engine, self.setup.message_id)
        assert state is not None
        return state.model_dump(mode="json")

    def deliver_until_settled(self) -> dict[str, Any]:
        deadline = time.monotonic() + 15
        while True:
            state = self.deliver()
            if state["state"] not in ("queued", "forwarded"):
                return state
            assert time.monotonic() < deadline, f"still {state['state']}: {state['last_error']}"
            time.sleep(0.05)

    def close(self) -> None:
        self.tpf.portal.call(self._client.aclose)


@contextmanager
def chain(tmp_path: Path, **tpf_changes: Any) -> Iterator[Chain]:
    setup = Setup(tmp_path)  # the gateway (SQLite) with a sealed submission of 0301, keys in tmp_path/keys
    ensure_keys(tmp_path, ["0301"])  # and the TLS certificates the TPF and registry apps are reached with
    with _chain(tmp_path, **tpf_changes) as (tpf, _registry, wire):
        made = Chain(setup, tpf, wire)
        try:
            yield made
        finally:
            made.close()
            setup.engine.dispose()


def test_a_refusal_written_on_the_path_leaves_the_submission_pending_and_it_is_delivered(tmp_path: Path) -> None:
    forged = {"type": PROBLEM + "wrong-recipient", "title": "x", "status": 422, "final": True}
    with chain(tmp_path) as on:
        on.wire.up = True
        on.path.rewrite = lambda request, status, body: (422, forged)
        state = on.deliver()
        assert (state["state"], state["attempts"]) == ("queued", 1)
        assert state["last_error"].startswith("wrong-recipient; not signed as final by the TPF")
        on.path.rewrite = None
        assert on.deliver_until_settled()["state"] == "stored"


def test_a_rejected_status_written_on_the_path_leaves_the_submission_pending_and_it_is_delivered(
    tmp_path: Path,
) -> None:
    def rejected(request: httpx.Request, status: int, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if request.method != "GET":
            return status, body
        return 200, body | {"state": "rejected", "last_error": "registry: invalid-payload"}

    with chain(tmp_path) as on:
        assert on.deliver()["state"] == "forwarded"  # the registry is down: the TPF holds it (202)
        on.path.rewrite = rejected
        state = on.deliver()
        assert (state["state"], state["attempts"]) == ("queued", 2)
        assert state["last_error"].startswith("the TPF reports rejected (registry: invalid-payload)")
        on.path.rewrite, on.wire.up = None, True
        assert on.deliver_until_settled()["state"] == "stored"


def test_the_tpfs_signed_refusal_ends_the_submission_and_a_stripped_one_does_not(tmp_path: Path) -> None:
    def stripped(request: httpx.Request, status: int, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return status, {name: value for name, value in body.items() if name not in ("refusal", "signature")}

    # A TPF whose window is one second: the submission, signed when it was staged, is refused for good.
    with chain(tmp_path, max_message_age_days=1 / 86400) as on:
        time.sleep(2.1)
        on.wire.up = True
        on.path.rewrite = stripped
        state = on.deliver()
        assert (state["state"], state["attempts"]) == ("queued", 1)
        assert state["last_error"].startswith("timestamp-out-of-window; not signed as final by the TPF")
        on.path.rewrite = None
        state = on.deliver()
        assert (state["state"], state["last_error"]) == ("rejected", "timestamp-out-of-window")
        assert on.setup.parts_kept()
        assert on.wire.calls == 0  # nothing reached the registry
