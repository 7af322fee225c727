"""A signed timestamp's freshness as an answer: the window is the sealed-message format's rule
(``shared.envelope.freshness``); here it becomes ``timestamp-out-of-window`` (400), naming the window, and a
submission's sequence beyond it ``sequence-out-of-window`` (400)."""

from __future__ import annotations

import datetime as dt

from services.kit.problems import Problem, ProblemType, invalid_envelope
from shared.envelope.freshness import FreshnessWindow
from shared.errors import InvalidEnvelope, MessageRefused


def require_fresh(
    created_at: str, *, max_age: dt.timedelta, max_skew: dt.timedelta, now: dt.datetime | None = None
) -> None:
    """Raise ``timestamp-out-of-window`` (400) unless ``created_at`` lies in [now - max_age, now + max_skew]."""
    try:
        FreshnessWindow(max_age, max_skew).require(created_at, now)
    except InvalidEnvelope:
        # Verified headers only hold real instants; anything else here is a malformed header, answered like one
        # rather than with a 500.
        raise invalid_envelope() from None
    except MessageRefused:
        raise Problem(
            ProblemType.TIMESTAMP_OUT_OF_WINDOW,
            max_age_s=int(max_age.total_seconds()),
            max_skew_s=int(max_skew.total_seconds()),
        ) from None


def require_sequence_in_window(
    sequence: int, created_at: str, *, max_skew: dt.timedelta, now: dt.datetime | None = None
) -> None:
    """Raise ``sequence-out-of-window`` (400) unless ``sequence``, read as milliseconds since the epoch, lies no
    later than the earlier of ``created_at`` and ``now``, plus ``max_skew`` (docs/envelope-v1.md 7.3). The answer
    names the skew, never the sequence (it is the sender's number, and may have any shape)."""
    try:
        FreshnessWindow(max_skew=max_skew).require_sequence(sequence, created_at, now)
    except InvalidEnvelope:
        raise invalid_envelope() from None
    except MessageRefused:
        raise Problem(ProblemType.SEQUENCE_OUT_OF_WINDOW, max_skew_s=int(max_skew.total_seconds())) from None
