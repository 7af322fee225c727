"""The guards' own arithmetic (services.kit.guards): the token buckets, who a caller is, which requests carry a
body. What they do to real connections is in tests/e2e/test_slow_callers.py."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from services.kit.guards import AdmissionMiddleware, TokenBuckets, TrafficLimits, caller_of
from services.kit.guards._admission import _has_body
from services.kit.tls import tls_extension


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_gives_its_burst_then_its_rate_and_says_how_long_to_wait() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=2.0, burst=3, clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == 1.0  # half a second to the next token: Retry-After says a whole second
    clock.now += 0.5
    assert buckets.take("a") == 0.0
    assert buckets.take("a") == 1.0
    clock.now += 100
    assert [buckets.take("a") for _ in range(4)] == [0.0, 0.0, 0.0, 1.0]  # never more than the burst


def test_a_slow_rate_asks_for_a_longer_wait() -> None:
    buckets = TokenBuckets(rate=0.1, burst=1, clock=Clock())
    assert buckets.take("a") == 0.0
    assert buckets.take("a") == 10.0


def test_callers_have_buckets_of_their_own_in_a_table_of_bounded_size() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=1.0, burst=1, max_callers=100, clock=clock)
    assert buckets.take("a") == 0.0
    assert buckets.take("a") == 1.0
    assert buckets.take("b") == 0.0
    for n in range(1000):
        buckets.take(f"addr:{n}")
    assert len(buckets) == 100
    assert buckets.take("a") == 0.0  # forgotten, so full again: the price of the bound


def test_a_rate_limit_needs_a_rate_and_a_burst() -> None:
    with pytest.raises(ValueError, match="positive rate"):
        TokenBuckets(rate=0, burst=1)
    with pytest.raises(ValueError, match="positive rate"):
        TokenBuckets(rate=1, burst=0)


def test_a_caller_is_its_certificate_else_its_address() -> None:
    with_cert = {"client": ("10.0.0.1", 5000), "extensions": {"tls": tls_extension(["-----PEM A-----"])}}
    same_cert_elsewhere = {"client": ("10.0.0.2", 6000), "extensions": {"tls": tls_extension(["-----PEM A-----"])}}
    other_cert = {"client": ("10.0.0.1", 5000), "extensions": {"tls": tls_extension(["-----PEM B-----"])}}
    assert caller_of(with_cert) == caller_of(same_cert_elsewhere) != caller_of(other_cert)
    assert caller_of(with_cert).startswith("cert:")
    assert "PEM" not in caller_of(with_cert)
    assert caller_of({"client": ("10.0.0.1", 5000), "extensions": {"tls": tls_extension([])}}) == "addr:10.0.0.1"
    assert caller_of({"client": None}) == "addr:unknown"


@pytest.mark.parametrize(
    ("headers", "has_body"),
    [
        ([], False),
        ([(b"content-length", b"0")], False),
        ([(b"content-length", b"12")], True),
        ([(b"transfer-encoding", b"chunked")], True),
    ],
)
def test_a_request_has_a_body_when_it_declares_one(headers: list[tuple[bytes, bytes]], has_body: bool) -> None:
    assert _has_body({"headers": headers}) is has_body


def test_an_ipv6_caller_is_its_64_and_an_ipv4_caller_its_address() -> None:
    one = caller_of({"client": ("2001:db8:1:2:aaaa::1", 5000)})
    assert one == caller_of({"client": ("2001:db8:1:2:ffff::9", 6000)}) == "addr:2001:db8:1:2::/64"
    assert one != caller_of({"client": ("2001:db8:1:3::1", 5000)})
    assert caller_of({"client": ("192.0.2.7", 5000)}) == "addr:192.0.2.7"


def test_callers_without_a_certificate_cannot_take_the_parties_body_slots() -> None:
    """Bodies in flight come from two pools: anonymous callers (many addresses, each under its own limit) fill
    theirs and are refused 503, while a party with a certificate is still admitted."""
    limits = TrafficLimits(max_bodies=4, max_bodies_without_certificate=2, max_bodies_per_caller=4)
    release = asyncio.Event()
    statuses: dict[str, int] = {}

    async def holding(scope: Scope, receive: Receive, send: Send) -> None:
        await release.wait()
        await send({"type": "http.response.start", "status": 202, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def call(name: str, scope: dict[str, Any]) -> None:
        async def receive() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                statuses[name] = message["status"]

        await admission(scope, receive, send)

    def upload(client: str, cert: str | None = None) -> dict[str, Any]:
        extensions = {"tls": tls_extension([cert] if cert else [])}
        return {"type": "http", "headers": [(b"content-length", b"9")], "client": (client, 1), "extensions": extensions}

    admission = AdmissionMiddleware(holding, limits)

    async def scenario() -> None:
        held = [asyncio.create_task(call(f"anon-{n}", upload(f"198.51.100.{n}"))) for n in range(2)]
        await asyncio.sleep(0.01)
        await call("anon-3", upload("198.51.100.3"))  # refused at once: its pool is full
        party = asyncio.create_task(call("party", upload("198.51.100.9", cert="-----PEM TPF-----")))
        await asyncio.sleep(0.01)
        assert "party" not in statuses  # admitted: waiting in the app like the anonymous two
        release.set()
        await asyncio.gather(*held, party)

    asyncio.run(scenario())
    assert statuses == {"anon-3": 503, "anon-0": 202, "anon-1": 202, "party": 202}
