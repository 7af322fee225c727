"""Which answers the chain's client waits out (iplos_chain.client.refused_at_the_door): only a service's refusal
at its door, named by its problem type, with a Retry-After it can wait for. Anything else is the caller's to see
at once, however it looks."""

from __future__ import annotations

import httpx
import pytest

from iplos_chain import client


def _answer(status: int, problem: str, retry_after: str | None = "1") -> httpx.Response:
    headers = {} if retry_after is None else {"Retry-After": retry_after}
    return httpx.Response(status, json={"type": client.PROBLEM_PREFIX + problem, "title": "t"}, headers=headers)


@pytest.mark.parametrize(
    ("status", "problem", "retry_after", "wait_s"),
    [
        (429, "rate-limited", "1", 1.0),
        (429, "too-many-bodies", "2", 2.0),
        (503, "service-busy", "10", 10.0),
        (429, "rate-limited", "0", 1.0),  # never a tight loop, whatever the answer says
        (429, "rate-limited", "0.2", 1.0),
    ],
)
def test_refusals_at_the_door_are_waited_out(status: int, problem: str, retry_after: str, wait_s: float) -> None:
    assert client.refused_at_the_door(_answer(status, problem, retry_after)) == wait_s


@pytest.mark.parametrize(
    "response",
    [
        _answer(429, "rate-limited", None),  # no Retry-After: nothing says when
        _answer(429, "rate-limited", "Wed, 21 Oct 2026 07:28:00 GMT"),  # a date: not what the services send
        _answer(429, "rate-limited", "3600"),  # longer than a command should sit silent
        _answer(429, "rate-limited", "-1"),
        _answer(429, "rate-limited", "nan"),
        _answer(503, "not-ready", "1"),  # a service starting: said to the caller (the soak has its own patience)
        _answer(409, "stale-sequence", "1"),  # a verdict on the message, never asked again
        _answer(200, "rate-limited", "1"),
        httpx.Response(429, text="<html>too many</html>", headers={"Retry-After": "1"}),  # not a service's answer
        httpx.Response(429, json=["rate-limited"], headers={"Retry-After": "1"}),
    ],
)
def test_other_answers_are_not_waited_out(response: httpx.Response) -> None:
    assert client.refused_at_the_door(response) is None
