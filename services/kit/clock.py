"""Time windows for signed timestamps.

A message id is unique per receiver (a database constraint), which stops replays of what was received; the
window stops a captured message from being played to a receiver long after (for example to a registry whose
database was restored from an old backup), and a header from the future from a sender with a broken clock.
"""

from __future__ import annotations

import datetime as dt

from services.kit.problems import Problem, invalid_envelope

_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def require_fresh(
    created_at: str, *, max_age: dt.timedelta, max_skew: dt.timedelta, now: dt.datetime | None = None
) -> None:
    """Raise ``timestamp-out-of-window`` (400) unless ``created_at`` lies in [now - max_age, now + max_skew]."""
    try:
        moment = dt.datetime.strptime(created_at, _FORMAT).replace(tzinfo=dt.UTC)
    except ValueError:
        # Verified headers only hold real instants (shared.envelope.headers.Timestamp); anything else here is
        # a malformed header, answered like one rather than with a 500.
        raise invalid_envelope() from None
    now = now or dt.datetime.now(dt.UTC)
    if moment > now + max_skew or moment < now - max_age:
        raise Problem(
            "timestamp-out-of-window",
            400,
            "The message's signed timestamp is outside the window this service accepts",
            max_age_s=int(max_age.total_seconds()),
            max_skew_s=int(max_skew.total_seconds()),
        )
