"""The window a verified header's ``created_at`` must lie in (docs/envelope-v1.md 7.2, 10.1 step 6, 10.2 step 8).

A message id is unique per receiver (a database constraint), which stops replays of what was received; the
window stops a captured message from being played to a receiver long after (for example to a registry whose
database was restored from an old backup), and a header from the future from a sender with a broken clock.

The TPF checks the submission header's timestamp, the registry the delivery header's (the TPF signs it when it
forwards, so a message waiting in the TPF's outbox stays fresh) and a confirmation's. Both do so only once the
signature holds, and only for a message not decided before: a decided message is answered as it was decided,
even from outside the window (section 9).

The same window bounds a submission header's ``sequence`` from above (7.3): read as a time in milliseconds (what
the reference gateway signs), it may not lie later than the header's ``created_at`` nor the receiver's clock, each
plus the allowed skew. A higher sequence replaces a lower one for good, so without this bound one header numbered
2^53 - 1 (a compromised key, a buggy or fast-clocked gateway) would make every later real export of its
municipality and year stale. There is no lower bound: a low sequence only ever loses to newer ones.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

from shared.envelope.headers import TIMESTAMP_FORMAT
from shared.errors import InvalidEnvelope, MessageRefused

__all__ = ["DEFAULT_MAX_AGE", "DEFAULT_MAX_SKEW", "OUT_OF_WINDOW", "SEQUENCE_OUT_OF_WINDOW", "FreshnessWindow"]

#: The spec's defaults (configurable per receiver): at most 30 days in the past, 5 minutes in the future.
DEFAULT_MAX_AGE: Final = dt.timedelta(days=30)
DEFAULT_MAX_SKEW: Final = dt.timedelta(minutes=5)
#: The refusal code of a timestamp outside the window (section 11).
OUT_OF_WINDOW: Final = "timestamp-out-of-window"
#: The refusal code of a submission header whose sequence lies later than the window allows (section 11).
SEQUENCE_OUT_OF_WINDOW: Final = "sequence-out-of-window"


@dataclass(frozen=True)
class FreshnessWindow:
    """[now - ``max_age``, now + ``max_skew``], both ends included."""

    max_age: dt.timedelta = DEFAULT_MAX_AGE
    max_skew: dt.timedelta = DEFAULT_MAX_SKEW

    def require(self, created_at: str, now: dt.datetime | None = None) -> None:
        """Return if ``created_at`` (a Timestamp) lies in the window at ``now`` (default: the clock); else raise
        ``MessageRefused`` with code ``timestamp-out-of-window``, or ``InvalidEnvelope`` if it is no Timestamp."""
        moment = _moment(created_at)
        now = now or dt.datetime.now(dt.UTC)
        if moment > now + self.max_skew or moment < now - self.max_age:
            raise MessageRefused(OUT_OF_WINDOW, "the message's signed timestamp is outside the window")

    def latest_sequence(self, created_at: str, now: dt.datetime | None = None) -> int:
        """The highest sequence a submission header signed at ``created_at`` may carry at ``now``: the earlier of
        ``created_at`` (to the end of its second: the gateway numbers in milliseconds, the timestamp is to the
        second) and ``now``, plus ``max_skew``, in milliseconds since the epoch."""
        now = now or dt.datetime.now(dt.UTC)
        latest = min(_moment(created_at) + dt.timedelta(milliseconds=999), now) + self.max_skew
        return int(latest.timestamp() * 1000)

    def require_sequence(self, sequence: int, created_at: str, now: dt.datetime | None = None) -> None:
        """Return if ``sequence`` is at most :meth:`latest_sequence`; else raise ``MessageRefused`` with code
        ``sequence-out-of-window`` (``InvalidEnvelope`` if ``created_at`` is no Timestamp)."""
        if sequence > self.latest_sequence(created_at, now):
            raise MessageRefused(SEQUENCE_OUT_OF_WINDOW, "the submission's sequence lies beyond the signed window")


def _moment(created_at: str) -> dt.datetime:
    try:
        return dt.datetime.strptime(created_at, TIMESTAMP_FORMAT).replace(tzinfo=dt.UTC)
    except ValueError:
        # Verified headers only hold real instants (shared.envelope.headers.Timestamp); anything else here is
        # a malformed header, answered like one.
        raise InvalidEnvelope() from None
