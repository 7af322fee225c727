"""The TPF reads the registry's answer to a delivery while it streams and stops at 1 MiB (issue 10 point 3):
an answer of 1.5 GiB (the registry, or anything in the middle) is a failed attempt, retried later, not memory."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from iplos_chain import ensure_keys
from services.kit.http import MAX_ANSWER_BYTES
from tests.kit.test_http import CHUNK, Endless
from tests.tpf.test_outbox import _chain, _message, _rows


@pytest.fixture
def state(tmp_path: Path) -> Path:
    ensure_keys(tmp_path, ["0301"])
    return tmp_path


def test_an_endless_answer_from_the_registry_is_cut_off_and_the_delivery_stays_queued(state: Path) -> None:
    message = _message(state, 1)
    streams: list[Endless] = []

    def endless(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/deliveries"
        streams.append(Endless())
        return httpx.Response(200, stream=streams[-1])

    with _chain(state, delivery_backoff_s=3600, delivery_backoff_max_s=3600) as (tpf, _registry, _wire):
        box = tpf.app.state.outbox  # type: ignore[attr-defined]
        tpf.portal.call(box.client.aclose)
        box.client = httpx.AsyncClient(transport=httpx.MockTransport(endless))
        response = tpf.post("/v1/messages", files=message.files())
        assert response.status_code == 202, response.text
        status = tpf.get(f"/v1/messages/{message.parsed.message_id}").json()
        assert status["state"] == "queued"
        assert status["last_error"] == f"the registry's answer is larger than {MAX_ANSWER_BYTES} bytes"
    assert len(streams) == 1
    assert MAX_ANSWER_BYTES < streams[0].sent <= MAX_ANSWER_BYTES + CHUNK
    assert streams[0].closed
    _events, rows = _rows(state, message.parsed.message_id)
    assert [row.state for row in rows] == ["queued"]
