"""What uploads can cost a real gateway process (uvicorn on loopback), measured from outside it (issue 10 point 1).

The process's own counters are read from /proc: ``VmHWM`` (peak resident memory, reset through clear_refs
before a measurement) and ``wchar`` in /proc/<pid>/io (every byte it wrote: the spooled body, logs, database).
What the client got to send is counted as the body is made: it is what the gateway read plus what the
kernel's socket buffers took (a few MiB on loopback). The bounds asserted are wide: before the fix memory grew
with the input (the body held whole by libxml2); now no figure does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from iplos_chain import Chain, ensure_keys, free_port
from tests.tls import trust_chain

MiB = 1024 * 1024
BODY_LIMIT = 192 * MiB
CHUNK = 64 * 1024
A, B = "0301", "4601"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    state = tmp_path_factory.mktemp("upload-bounds")
    ensure_keys(state, [A, B])
    settings = {
        "IPLOS_GATEWAY_MAX_BODY_BYTES": str(BODY_LIMIT),
        "IPLOS_GATEWAY_MAX_UPLOADS_PER_CALLER": "1",
        "IPLOS_GATEWAY_MAX_UPLOADS": "2",
        "IPLOS_GATEWAY_UPLOAD_RETRY_AFTER_S": "11",
    }
    chain = Chain(
        state, ports={s: free_port() for s in ("gateway", "tpf", "registry")}, extra_env={"gateway": settings}
    )
    chain.start("gateway")
    trust_chain(chain)
    try:
        yield chain
    finally:
        chain.stop_all()


def pid(chain: Chain) -> int:
    return chain.processes["gateway"].pid


def status_kib(chain: Chain, field: str) -> int:
    for line in Path(f"/proc/{pid(chain)}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field}")


def io_counts(chain: Chain) -> dict[str, int]:
    lines = Path(f"/proc/{pid(chain)}/io").read_text().splitlines()
    return {name: int(value) for name, value in (line.split(": ") for line in lines)}


def token(chain: Chain, who: str) -> str:
    return chain.operator_token if who == "operator" else chain.municipality_token(who)


class Lt:
    """``size`` bytes of '<', the issue's malformed body, made as they are sent and counted."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.sent = 0

    def __iter__(self) -> Iterator[bytes]:
        block = b"<" * CHUNK
        while self.sent < self.size:
            self.sent += CHUNK
            yield block


def upload(chain: Chain, who: str, body: bytes | Iterator[bytes] | Lt) -> httpx.Response | httpx.HTTPError:
    headers = {"Authorization": f"Bearer {token(chain, who)}", "Content-Type": "application/xml"}
    try:
        content = iter(body) if isinstance(body, Lt) else body
        return httpx.post(chain.url("gateway") + "/v1/submissions", content=content, headers=headers, timeout=120)
    except httpx.HTTPError as exc:  # the server may close the connection on a body it refused mid-stream
        return exc


def test_two_concurrent_160_mib_malformed_uploads_cost_far_less_memory_than_their_size(gateway: Chain) -> None:
    Path(f"/proc/{pid(gateway)}/clear_refs").write_text("5")  # VmHWM := VmRSS
    before = status_kib(gateway, "VmRSS")
    answers: list[Any] = []
    threads = [threading.Thread(target=lambda w=w: answers.append(upload(gateway, w, Lt(160 * MiB)))) for w in (A, B)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    growth_mib = (status_kib(gateway, "VmHWM") - before) / 1024
    assert [(a.status_code, a.json()["type"].rsplit(":", 1)[1]) for a in answers] == [(422, "limit-exceeded")] * 2
    # 320 MiB went in; before the fix libxml2 held every byte of both. Measured now: about 40 MiB.
    assert growth_mib < 120, growth_mib


def test_an_upload_over_the_body_limit_is_cut_off_while_it_streams(gateway: Chain) -> None:
    before = io_counts(gateway)
    body = Lt(4 * BODY_LIMIT)  # chunked: no Content-Length to refuse it by
    answer = upload(gateway, A, body)
    written = io_counts(gateway)["wchar"] - before["wchar"]
    if isinstance(answer, httpx.Response):
        assert (answer.status_code, answer.json()["type"]) == (413, "urn:iplos-chain:problem:body-too-large")
    # Spooled up to the limit, less the chunk that crossed it (asyncio reads up to 256 KiB at a time), never
    # more (a few kB of log and database writes besides).
    assert BODY_LIMIT - 256 * 1024 <= written < BODY_LIMIT + MiB, written
    # Of 768 MiB offered, the client could send the limit and what the socket buffers took, then it was cut off.
    assert BODY_LIMIT < body.sent < BODY_LIMIT + 64 * MiB, body.sent


class HeldUpload:
    """An upload whose body stops after its first bytes until released: it holds its slot at the gateway."""

    def __init__(self, chain: Chain, who: str) -> None:
        self.release = threading.Event()
        self.started = threading.Event()
        self.answer: Any = None
        self._thread = threading.Thread(target=lambda: setattr(self, "answer", upload(chain, who, self._body())))
        self._thread.start()
        assert self.started.wait(10)

    def _body(self) -> Iterator[bytes]:
        yield b"<"
        self.started.set()
        self.release.wait(60)
        yield b"<"

    def end(self) -> Any:
        self.release.set()
        self._thread.join(60)
        return self.answer


def until_refused(chain: Chain, who: str, status: int) -> None:
    """Wait until the held upload has its slot (it is taken before the body is read, so it is quick)."""
    deadline = time.monotonic() + 10
    while (answer := upload(chain, who, b"<x/>")).status_code != status:  # type: ignore[union-attr]
        assert time.monotonic() < deadline, answer
        time.sleep(0.05)


def test_uploads_beyond_a_callers_share_get_429_and_beyond_the_gateways_503_before_a_byte_is_read(
    gateway: Chain,
) -> None:
    first = HeldUpload(gateway, A)
    try:
        until_refused(gateway, A, 429)
        before = io_counts(gateway)
        body = Lt(256 * MiB)
        busy = upload(gateway, A, body)
        written = io_counts(gateway)["wchar"] - before["wchar"]
        assert isinstance(busy, httpx.Response), busy
        assert (busy.status_code, busy.json()["type"]) == (429, "urn:iplos-chain:problem:too-many-uploads")
        assert busy.headers["retry-after"] == "11"
        # Nothing spooled, and the client was cut off after what the socket buffers took.
        assert written < MiB, written
        assert body.sent < 64 * MiB, body.sent

        second = HeldUpload(gateway, B)
        try:
            until_refused(gateway, "operator", 503)
            full = upload(gateway, "operator", Lt(256 * MiB))
            assert isinstance(full, httpx.Response), full
            assert (full.status_code, full.json()["type"]) == (503, "urn:iplos-chain:problem:gateway-busy")
            assert full.headers["retry-after"] == "11"
        finally:
            assert second.end().status_code == 422
    finally:
        assert first.end().status_code == 422
    # The slots are free again.
    assert upload(gateway, A, b"<x/>").status_code == 422  # type: ignore[union-attr]
