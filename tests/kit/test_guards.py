"""The guards' own arithmetic (services.kit.guards): the token buckets, who a caller is, which requests carry a
body. What they do to real connections is in tests/e2e/test_slow_callers.py."""

from __future__ import annotations

import pytest

from services.kit.guards import TokenBuckets, caller_of
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
