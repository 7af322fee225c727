"""services.kit.clock: the format's freshness window (shared.envelope.freshness) answered as a problem."""

from __future__ import annotations

import datetime as dt

import pytest

from services.kit.clock import require_fresh
from services.kit.problems import Problem

NOW = dt.datetime(2026, 3, 1, 12, 0, 0, tzinfo=dt.UTC)


def fresh(created_at: str) -> None:
    require_fresh(created_at, max_age=dt.timedelta(days=30), max_skew=dt.timedelta(minutes=5), now=NOW)


def test_a_fresh_timestamp_passes() -> None:
    fresh("2026-03-01T12:05:00Z")
    fresh("2026-01-30T12:00:00Z")


def test_a_stale_timestamp_is_answered_with_the_window() -> None:
    with pytest.raises(Problem) as raised:
        fresh("2026-01-30T11:59:59Z")
    assert raised.value.document() == {
        "type": "urn:iplos-chain:problem:timestamp-out-of-window",
        "title": "The message's signed timestamp is outside the window this service accepts",
        "status": 400,
        "max_age_s": 30 * 86400,
        "max_skew_s": 300,
    }


def test_what_is_no_timestamp_is_the_opaque_error() -> None:
    with pytest.raises(Problem) as raised:
        fresh("2026-02-30T00:00:00Z")
    assert (raised.value.slug, raised.value.status) == ("invalid-envelope", 400)
