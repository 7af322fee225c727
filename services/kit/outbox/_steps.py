"""What one delivery attempt comes to, and the service's part of it (the :class:`Courier`)."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, Row


@dataclass(frozen=True)
class Claim:
    """A message this worker holds the lease of, for one attempt."""

    message_id: str
    row: Row[Any]
    """The message's row as claimed, the service's own columns included (nobody else changes it meanwhile)."""
    folder: Path
    """``<outbox>/<message id>/``: its files."""

    @property
    def state(self) -> str:
        state: str = self.row.state
        return state


@dataclass(frozen=True)
class Retry:
    """The attempt failed: it counts, the next one is due after a full-jitter backoff, and the message is
    dead-lettered once the attempts run out. ``state``: the state it waits in."""

    state: str
    error: str | None = None
    values: Mapping[str, Any] = field(default_factory=dict)
    """The service's own columns to write with it."""
    peer_down: bool = False
    """The peer could not be reached (nothing about this message): once it answers this worker again (a
    :class:`Settle` of another message), the message is due at once instead of at the end of its backoff."""


@dataclass(frozen=True)
class Wait:
    """Not a failure, not the end (the message was taken on, and is asked after): due again in ``after_s`` (never
    later than the policy's ``backoff_max_s``), never dead-lettered for it. ``counts``: whether it counts as an
    attempt."""

    state: str
    error: str | None
    after_s: float
    counts: bool = True
    values: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Settle:
    """Delivery has ended in ``state`` (delivered, or refused for good): no further attempt."""

    state: str
    error: str | None = None
    values: Mapping[str, Any] = field(default_factory=dict)


Step = Retry | Wait | Settle


@dataclass(frozen=True)
class Recorded:
    """What the outbox wrote for an attempt."""

    state: str
    attempts: int
    final: bool
    """No further attempt: settled, or dead-lettered."""
    dead_lettered: bool


R = TypeVar("R")


class Courier(Protocol[R]):
    """What delivering means for one service; ``R`` is the service's own outcome of an attempt."""

    async def attempt(self, claim: Claim) -> R:
        """One delivery attempt. An exception counts as a failed attempt (see :meth:`failed`)."""
        ...

    def failed(self, claim: Claim, error: Exception) -> R:
        """The outcome of an attempt that raised ``error`` (a bug, a full disk): it must back off (a
        :class:`Retry` in :meth:`step`), not be tried again every second."""
        ...

    def step(self, claim: Claim, outcome: R) -> Step:
        """How the outbox records ``outcome``."""
        ...

    def record(self, conn: Connection, claim: Claim, outcome: R, recorded: Recorded) -> R:
        """The service's part of recording, in the same transaction (receipts, audit entries: last): returns the
        outcome, with whatever :meth:`after` needs of what was found here."""
        ...

    def after(self, claim: Claim, outcome: R, recorded: Recorded) -> None:
        """Once committed (in a worker thread): files no longer needed, metrics."""
        ...


def full_jitter(attempts: int, base_s: float, max_s: float) -> float:
    """Seconds until the next attempt after ``attempts`` failed ones: uniform in [0, min(max, base * 2^attempts)],
    so that many queued messages (of many senders) do not all hit a recovering peer at once."""
    ceiling = min(max_s, base_s * 2 ** min(attempts, 64))  # the cap keeps 2^n a float
    return random.uniform(0, ceiling)  # noqa: S311 - spreading load, not a secret


def door_wait(state: str, error: str | None, wait_s: float) -> Wait:
    """The peer refused the attempt at its door (rate-limited, too many bodies, busy: services.kit.guards), asking
    for ``wait_s``: no failed attempt, since it said nothing about the message, so no step towards the dead
    letter. Due again once the wait has passed, plus up to half of it again so that messages refused together
    do not come back in one instant (and, as every wait, never later than the longest backoff)."""
    after_s = wait_s * random.uniform(1.0, 1.5)  # noqa: S311 - spreading load, not a secret
    return Wait(state, error, after_s, counts=False)


@dataclass(frozen=True)
class Policy:
    """How hard an outbox tries."""

    max_attempts: int
    """Failed attempts before a message is dead-lettered."""
    backoff_s: float
    backoff_max_s: float
    lease_s: float = 60.0
    """How long a claim holds without being renewed: a crashed worker's messages wait this long for another
    (a restarted one on the same host frees them at once). Renewed every third of it while an attempt runs."""
    batch: int = 20
    """Messages one round attempts (one claim each) before the loop looks at wake-ups again."""
    concurrency: int = 2
    """Attempts one worker has under way at once. Each mostly waits on its peer (and the peer on the next hop), so
    two overlap at little cost: a small message is not held back by a large one's whole way through the chain, and
    the next hop works on one message while this one's peer works on another. Not more by default: every attempt
    under way is a delivery the peers hold in memory at once."""
    idle_s: float = 1.0
    """How long an idle loop sleeps unless woken: the latency of a retry whose time has come."""
    drain_s: float = 5.0
    """At shutdown (the worker's task is cancelled), how long an attempt under way may still take to finish and be
    recorded; past it the attempt is cut short and its lease given back, so another worker takes it at once."""

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.lease_s <= 0 or self.batch < 1 or self.concurrency < 1 or self.drain_s < 0:
            raise ValueError(
                "max_attempts, batch and concurrency must be at least 1, lease_s positive, drain_s not negative"
            )
