"""The gateway reads its peers' answers while they stream and stops at a limit (issue 10 point 3): the TPF's
answer to a delivery and to a status poll (1 MiB), and the registry's control report (the configured limit).
Each peer here offers 1.5 GiB (httpx.MockTransport with a body made as it is read)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from services.kit.http import MAX_ANSWER_BYTES
from services.kit.problems import Problem
from services.municipality_gateway.config import GatewaySettings
from services.municipality_gateway.service import reports
from tests.gateway.test_outbox import Setup
from tests.kit.test_http import CHUNK, Endless

MiB = 1024 * 1024


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    return Setup(tmp_path)


def test_an_endless_answer_to_a_delivery_is_cut_off_and_the_delivery_retried(setup: Setup) -> None:
    stream = Endless()
    state = setup.deliver(lambda request: httpx.Response(200, stream=stream))
    assert (state["state"], state["attempts"]) == ("queued", 1)
    assert state["last_error"] == f"the TPF's answer is larger than {MAX_ANSWER_BYTES} bytes"
    assert MAX_ANSWER_BYTES < stream.sent <= MAX_ANSWER_BYTES + CHUNK
    assert setup.parts_kept()


def test_an_endless_answer_to_a_status_poll_is_cut_off_and_polled_again(setup: Setup) -> None:
    assert setup.deliver(lambda request: httpx.Response(202, json={"state": "queued"}))["state"] == "forwarded"
    stream = Endless()
    state = setup.deliver(lambda request: httpx.Response(200, stream=stream))
    assert state["state"] == "forwarded"
    assert state["last_error"] == f"the TPF's answer is larger than {MAX_ANSWER_BYTES} bytes"
    assert MAX_ANSWER_BYTES < stream.sent <= MAX_ANSWER_BYTES + CHUNK


def report(stream: Endless | None, limit: int, body: bytes = b"") -> dict[str, object]:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/submissions/x/report"
        return httpx.Response(200, stream=stream) if stream else httpx.Response(200, content=body)

    async def run() -> dict[str, object]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            fetched = await reports.fetch_report(client, "http://registry.test", "/v1/submissions/x/report", limit)
            assert fetched is not None
            return fetched.body

    return asyncio.run(run())


def test_an_endless_report_is_cut_off_at_the_report_limit() -> None:
    stream = Endless()
    with pytest.raises(Problem) as caught:
        report(stream, 16 * MiB)
    assert (caught.value.slug, caught.value.status, caught.value.extensions["limit"]) == (
        "report-unavailable",
        502,
        16 * MiB,
    )
    assert 16 * MiB < stream.sent <= 16 * MiB + CHUNK
    assert stream.closed


def test_a_report_within_the_limit_is_read_and_the_default_limit_is_256_mib() -> None:
    assert report(None, 1024, b'{"header": {}}') == {"header": {}}
    with pytest.raises(Problem, match="report-unavailable"):
        report(None, 1024, b"[1, 2]")  # not a report object
    settings = GatewaySettings(key_dir=Path("k"), directory=Path("d"), state_dir=Path("s"))  # type: ignore[call-arg]
    assert settings.max_report_bytes == reports.MAX_REPORT_BYTES == 256 * MiB
