"""The submission states are listed once (``states.SubmissionState``); the database, the worker, the metrics and the
wire still speak plain strings, so a plain string must find its state in every set built from the enum."""

from __future__ import annotations

import json

from services.municipality_gateway.monitoring import FINAL_OUTCOMES
from services.municipality_gateway.states import (
    DONE_STATES,
    FINAL_STATES,
    IN_DELIVERY,
    NOT_IN_EFFECT,
    RETRYABLE,
    SubmissionState,
)


def test_the_states_and_their_sets() -> None:
    assert [state.value for state in SubmissionState] == [
        "queued",
        "forwarded",
        "stored",
        "held",
        "refused",
        "rejected",
        "dead-letter",
    ]
    assert FINAL_STATES == DONE_STATES | RETRYABLE
    assert not DONE_STATES & RETRYABLE
    assert set(IN_DELIVERY) == set(SubmissionState) - FINAL_STATES
    assert {*RETRYABLE, SubmissionState.REFUSED} == NOT_IN_EFFECT
    assert FINAL_OUTCOMES == ("stored", "held", "refused", "rejected", "dead-letter")


def test_a_plain_string_finds_its_state_and_a_state_is_sent_as_its_string() -> None:
    for value in ("stored", "held", "refused", "rejected", "dead-letter"):
        assert value in FINAL_STATES
    assert "queued" not in FINAL_STATES
    assert "forwarded" not in FINAL_STATES
    assert "dead-letter" in RETRYABLE
    assert json.dumps({"state": SubmissionState.DEAD_LETTER}) == '{"state": "dead-letter"}'
