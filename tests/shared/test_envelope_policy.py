"""The sealed-message format's policy on answers (shared.envelope.refusals) and on a signed timestamp's freshness
(shared.envelope.freshness): docs/envelope-v1.md sections 7.2, 9.1 and 11."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from shared.envelope.freshness import (
    DEFAULT_MAX_AGE,
    DEFAULT_MAX_SKEW,
    OUT_OF_WINDOW,
    SEQUENCE_OUT_OF_WINDOW,
    FreshnessWindow,
)
from shared.envelope.refusals import FINAL, PERMANENT, is_final, problem_code, problem_type
from shared.errors import InvalidEnvelope, MessageRefused

# Whitespace collapsed: a phrase may be broken across lines.
SPEC = " ".join((Path(__file__).resolve().parents[2] / "docs" / "envelope-v1.md").read_text(encoding="utf-8").split())
NOW = dt.datetime(2026, 3, 1, 12, 0, 0, tzinfo=dt.UTC)


def stamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_the_default_window_is_the_specs() -> None:
    assert "at most 30 days in the past and 5 minutes in the future by default" in SPEC
    assert (dt.timedelta(days=30), dt.timedelta(minutes=5)) == (DEFAULT_MAX_AGE, DEFAULT_MAX_SKEW)
    assert FreshnessWindow() == FreshnessWindow(DEFAULT_MAX_AGE, DEFAULT_MAX_SKEW)


@pytest.mark.parametrize(
    "offset",
    [dt.timedelta(0), -DEFAULT_MAX_AGE, DEFAULT_MAX_SKEW, dt.timedelta(days=-3)],
)
def test_a_timestamp_in_the_window_passes_both_ends_included(offset: dt.timedelta) -> None:
    FreshnessWindow().require(stamp(NOW + offset), NOW)


@pytest.mark.parametrize(
    "offset",
    [-DEFAULT_MAX_AGE - dt.timedelta(seconds=1), DEFAULT_MAX_SKEW + dt.timedelta(seconds=1), dt.timedelta(days=400)],
)
def test_a_timestamp_outside_the_window_is_refused(offset: dt.timedelta) -> None:
    with pytest.raises(MessageRefused) as refused:
        FreshnessWindow().require(stamp(NOW + offset), NOW)
    assert refused.value.code == OUT_OF_WINDOW == "timestamp-out-of-window"


def test_a_configured_window_is_the_one_checked() -> None:
    window = FreshnessWindow(max_age=dt.timedelta(hours=1), max_skew=dt.timedelta(0))
    window.require(stamp(NOW - dt.timedelta(hours=1)), NOW)
    with pytest.raises(MessageRefused):
        window.require(stamp(NOW - dt.timedelta(hours=1, seconds=1)), NOW)
    with pytest.raises(MessageRefused):
        window.require(stamp(NOW + dt.timedelta(seconds=1)), NOW)


def ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


def test_a_sequence_may_lie_up_to_the_skew_past_the_signed_second_and_the_clock() -> None:
    # The gateway numbers its acceptance time in milliseconds, the timestamp is to the second: the whole second
    # counts. The earlier of the signed time and the clock bounds it (a future created_at moves nothing).
    window = FreshnessWindow()
    latest = ms(NOW + dt.timedelta(milliseconds=999) + DEFAULT_MAX_SKEW)
    assert window.latest_sequence(stamp(NOW), NOW + dt.timedelta(hours=1)) == latest
    assert window.latest_sequence(stamp(NOW + dt.timedelta(hours=1)), NOW) == ms(NOW + DEFAULT_MAX_SKEW)
    for sequence in (1, 1_700_000_000, ms(NOW), latest):  # a counter, seconds, the reference gateway's
        window.require_sequence(sequence, stamp(NOW), NOW + dt.timedelta(seconds=1))


@pytest.mark.parametrize(
    "sequence",
    [
        ms(NOW + dt.timedelta(milliseconds=999) + DEFAULT_MAX_SKEW) + 1,
        ms(dt.datetime(2099, 1, 1, tzinfo=dt.UTC)),
        2**53 - 1,
    ],
    ids=["one past", "2099", "2^53-1"],
)
def test_a_sequence_beyond_the_window_is_refused(sequence: int) -> None:
    with pytest.raises(MessageRefused) as refused:
        FreshnessWindow().require_sequence(sequence, stamp(NOW), NOW + dt.timedelta(seconds=1))
    assert refused.value.code == SEQUENCE_OUT_OF_WINDOW == "sequence-out-of-window"
    assert (
        "MUST NOT lie later than the header's `created_at` (to the end of its second) nor the receiver's clock" in SPEC
    )


@pytest.mark.parametrize("value", ["2026-02-30T00:00:00Z", "2026-03-01 12:00:00", "", "2026-03-01T12:00:00+01:00"])
def test_what_is_not_a_timestamp_is_the_opaque_error(value: str) -> None:
    with pytest.raises(InvalidEnvelope):
        FreshnessWindow().require(value, NOW)


def test_the_window_reads_the_clock_by_default() -> None:
    FreshnessWindow().require(stamp(dt.datetime.now(dt.UTC)))


def test_problem_types_are_urns_of_their_code() -> None:
    assert problem_type("wrong-recipient") == "urn:iplos-chain:problem:wrong-recipient"
    assert problem_code(problem_type("wrong-recipient")) == "wrong-recipient"
    assert problem_code("about:blank") == ""
    assert problem_code("") == ""


def test_only_a_true_final_member_marks_a_refusal_final() -> None:
    assert '"final": true' in SPEC
    assert FINAL == "final"
    assert is_final({"type": problem_type("wrong-recipient"), FINAL: True})
    for value in (1, "true", False, None):
        assert not is_final({FINAL: value})
    assert not is_final({})


def test_the_permanent_answers_include_every_code_the_spec_says_a_sender_stops_on() -> None:
    errors = SPEC[SPEC.index("## 11. Errors") :]
    table = set(re.findall(r"\| `([a-z-]+)` \| \d{3} \|", errors[: errors.index("A sender SHOULD NOT")]))
    stop = errors[errors.index("A sender SHOULD NOT send a message again") :]
    named = set(re.findall(r"`([a-z]+(?:-[a-z]+)+)`", stop[: stop.index(":")]))
    policy = set(re.findall(r"\(`([a-z-]+)`, 422", SPEC[SPEC.index("### 10.6") :]))
    assert len(table) == 10
    assert len(named) == 5
    assert policy == {"reporting-year-out-of-range", "empty-submission"}
    assert table | named | policy == PERMANENT
