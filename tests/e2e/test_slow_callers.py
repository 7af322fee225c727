"""Slow and many callers against a real TPF process (uvicorn on loopback, mutual TLS): what issue 17 saw it hold
(3,000 slow uploads, 3,024 file descriptors after 70 s) it now lets go.

The TPF runs alone with its guards' numbers turned down, so that each runs out within seconds
(services.kit.guards): headers within 5 s, no pause in a body over 3 s and 2 KiB/s on average after that,
two bodies in flight per caller and three in all, 5 requests a second after a burst of 20. Callers are told
apart by their TLS certificates (two municipalities and the registry's, from the chain's own key folder) or,
without one, by their address. The process's file descriptors are counted from /proc.
"""

from __future__ import annotations

import json
import os
import select
import socket
import ssl
import time
from collections.abc import Iterator
from contextlib import suppress

import httpx
import pytest

from iplos_chain import Chain, client, ensure_keys, free_port
from tests.tls import tls_as, trust_chain

pytestmark = pytest.mark.e2e

A, B = "kommune-0301", "kommune-4601"
# Long enough that a loaded machine opens all 201 connections of the header test (one TLS handshake after another)
# and makes the bodies test's checks while the first ones are still waiting; short enough for a quick test.
HEADER_TIMEOUT_S = 5.0
BODY_IDLE_TIMEOUT_S = 3.0
BURST = 20
PROBLEM = "urn:iplos-chain:problem:"


@pytest.fixture(scope="module")
def tpf(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    state = tmp_path_factory.mktemp("slow-callers")
    ensure_keys(state, ["0301", "4601"])
    settings = {
        "IPLOS_TPF_HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S),
        "IPLOS_TPF_BODY_IDLE_TIMEOUT_S": str(BODY_IDLE_TIMEOUT_S),
        "IPLOS_TPF_BODY_MIN_RATE_BYTES_S": "2048",
        "IPLOS_TPF_MAX_BODIES_PER_CALLER": "2",
        "IPLOS_TPF_MAX_BODIES": "3",
        "IPLOS_TPF_REQUESTS_PER_S_PER_CALLER": "5",
        "IPLOS_TPF_REQUEST_BURST_PER_CALLER": str(BURST),
    }
    chain = Chain(state, ports={s: free_port() for s in ("gateway", "tpf", "registry")}, extra_env={"tpf": settings})
    chain.start("tpf")
    trust_chain(chain)
    try:
        yield chain
    finally:
        chain.stop_all()


def _connect(chain: Chain, party: str | None) -> ssl.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", chain.ports["tpf"]), timeout=30)
    return tls_as(chain, party).wrap_socket(raw, server_hostname="127.0.0.1")


def _until_closed(sock: ssl.SSLSocket, timeout_s: float = 20.0) -> bytes:
    """Everything the server sends until it closes the connection (a test failure if it does not in time)."""
    sock.settimeout(timeout_s)
    data = b""
    with suppress(ssl.SSLEOFError, ConnectionResetError, BrokenPipeError):
        while chunk := sock.recv(65536):
            data += chunk
    sock.close()
    return data


def _answer(data: bytes) -> tuple[int, dict[str, str], dict[str, object]]:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, json.loads(body) if body else {}


def _upload_head(length: int = 1_000_000) -> bytes:
    return (
        "POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: multipart/form-data; boundary=x\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode() + b"--x\r\n"


def _open_fds(chain: Chain) -> int:
    return len(os.listdir(f"/proc/{chain.processes['tpf'].pid}/fd"))


def test_connections_that_never_finish_their_headers_are_answered_408_and_closed(tpf: Chain) -> None:
    before = _open_fds(tpf)
    quiet = [_connect(tpf, None) for _ in range(100)]  # TLS done, not a byte of HTTP
    partial = [_connect(tpf, None) for _ in range(100)]
    for sock in partial:
        sock.sendall(b"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    dribbling = _connect(tpf, None)
    dribbling.sendall(b"GET /healthz HTTP/1.1\r\n")
    held = _open_fds(tpf)
    started = time.monotonic()
    for _ in range(4):  # a header line every half second: each byte keeps it alive no longer
        time.sleep(0.5)
        with suppress(OSError):
            dribbling.sendall(b"X-Slow: 1\r\n")
    answers = [_until_closed(sock) for sock in [dribbling, *quiet, *partial]]
    assert held >= before + 150, "the connections were not all open at once: the test proves nothing"
    for data in answers:
        status, headers, problem = _answer(data)
        assert (status, headers["connection"], problem["type"]) == (408, "close", PROBLEM + "request-timeout")
    assert time.monotonic() - started < HEADER_TIMEOUT_S + 10
    deadline = time.monotonic() + 10
    while _open_fds(tpf) > before + 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _open_fds(tpf) <= before + 2


def test_a_body_that_stalls_or_trickles_is_answered_408_and_the_connection_closed(tpf: Chain) -> None:
    stalled = _connect(tpf, A)
    stalled.sendall(_upload_head())
    trickling = _connect(tpf, B)
    trickling.sendall(_upload_head())
    started = time.monotonic()
    while time.monotonic() - started < 4 * BODY_IDLE_TIMEOUT_S:  # 20 bytes a second, well under the floor
        if select.select([trickling], [], [], 0)[0]:
            break  # the server has answered (its 408): a send may still succeed into the closing connection
        try:
            trickling.sendall(b"x" * 10)
        except OSError:
            break
        time.sleep(0.5)
    for sock in (stalled, trickling):
        status, headers, problem = _answer(_until_closed(sock))
        assert (status, headers["connection"], problem["type"]) == (408, "close", PROBLEM + "request-timeout")
    # The trickle never paused as long as the idle timeout: the mean rate cut it off.
    assert time.monotonic() - started < 4 * BODY_IDLE_TIMEOUT_S


def test_bodies_in_flight_are_bounded_per_caller_and_in_all(tpf: Chain) -> None:
    held = [_connect(tpf, A), _connect(tpf, A), _connect(tpf, B)]
    for sock in held:
        sock.sendall(_upload_head())
    time.sleep(0.3)  # all three admitted, each waiting for its body

    third_of_a = _connect(tpf, A)
    third_of_a.sendall(_upload_head())
    status, headers, problem = _answer(_until_closed(third_of_a))
    assert (status, problem["type"], headers["connection"]) == (429, PROBLEM + "too-many-bodies", "close")
    assert int(headers["retry-after"]) >= 1

    second_of_b = _connect(tpf, B)
    second_of_b.sendall(_upload_head())
    status, headers, problem = _answer(_until_closed(second_of_b))
    assert (status, problem["type"]) == (503, PROBLEM + "service-busy")
    assert int(headers["retry-after"]) >= 1

    # Requests without a body are not held back by the bodies in flight.
    assert httpx.get(f"{tpf.url('tpf')}/healthz", verify=tls_as(tpf, A), timeout=10).status_code == 200

    for sock in held:  # they time out, and give their slots back
        assert _answer(_until_closed(sock))[0] == 408
    retry = _connect(tpf, A)
    retry.sendall(_upload_head(length=8) + b"--x--\r\n")
    status, _, problem = _answer(_until_closed(retry))
    assert status not in (408, 429, 503), problem  # admitted: refused for what it is, not for the bound


def test_one_caller_over_its_rate_gets_429_with_retry_after_and_others_go_on(tpf: Chain) -> None:
    url = f"{tpf.url('tpf')}/healthz"
    with httpx.Client(verify=tls_as(tpf, "registry"), timeout=10) as caller:
        statuses = [caller.get(url) for _ in range(BURST + 10)]
    refused = [r for r in statuses if r.status_code == 429]
    assert [r.status_code for r in statuses[:BURST]] == [200] * BURST
    assert refused, "the burst was not limited"
    assert refused[0].json()["type"] == PROBLEM + "rate-limited"
    wait_s = int(refused[0].headers["retry-after"])
    assert 1 <= wait_s <= 5

    assert httpx.get(url, verify=tls_as(tpf, B), timeout=10).status_code == 200  # another caller is not held back

    time.sleep(wait_s)
    with httpx.Client(verify=tls_as(tpf, "registry"), timeout=10) as caller:
        assert caller.get(url).status_code == 200

    metrics = httpx.get(
        f"{tpf.url('tpf')}/metrics", headers={"Authorization": f"Bearer {tpf.operator_token}"}, timeout=10
    ).text
    counted = [
        line for line in metrics.splitlines() if line.startswith("iplos_refusals_total") and "rate-limited" in line
    ]
    assert counted
    assert float(counted[0].rsplit(" ", 1)[1]) >= len(refused)


def test_the_chain_client_waits_as_retry_after_says_and_then_is_answered(
    tpf: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command line's and the soak's calls (iplos_chain.client) ask again after a refusal at the door, as
    Retry-After says, instead of failing: what broke a soak run whose watcher had used up the shared allowance.

    The waits the client takes are recorded (its own decision, wrapped, not replaced). The bucket refills while a
    refused call reconnects (a 429 closes the connection), so the client's first call may find a token again:
    the caller's allowance is used up and the client asked until one of its calls was refused."""
    waits: list[float] = []
    decide = client.refused_at_the_door

    def recorded(response: httpx.Response) -> float | None:
        wait_s = decide(response)
        if wait_s is not None:
            waits.append(wait_s)
        return wait_s

    monkeypatch.setattr(client, "refused_at_the_door", recorded)
    url = f"{tpf.url('tpf')}/healthz"
    verify = tls_as(tpf, "registry")
    for _ in range(5):
        with httpx.Client(verify=verify, timeout=10) as caller:
            while caller.get(url).status_code != 429:
                pass  # the burst used up
        answer = client.get_json(url, verify=verify)
        assert answer["status"] == "ok", answer  # answered in the end, never the 429
        if waits:
            break
    assert waits, "no call of the client was refused: the test proves nothing"
    assert waits[0] >= 1
