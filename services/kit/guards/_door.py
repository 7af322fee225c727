"""What a caller makes of a refusal at a service's door: how long to wait before asking again.

The guards (``_admission``) refuse a request from its headers, before a byte of its body is read or anything is
done: ``rate-limited``, ``too-many-bodies``, ``service-busy``, each with ``Retry-After`` in seconds. Such a
refusal says nothing about the request, so asking again later is right for every method, an upload and a
delivery included, and it is no failed attempt: an outbox waits as told instead of spending one of its attempts
(a busy TPF must not dead-letter a municipality's deliveries). Any other answer, with or without a Retry-After,
is the caller's to judge.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from services.kit.problems import PROBLEM_TYPE_PREFIX, ProblemType

__all__ = ["DOOR_PROBLEMS", "DOOR_STATUSES", "SHORTEST_DOOR_WAIT_S", "door_wait_s"]

#: The problem types of a refusal at the door (services.kit.guards._admission).
DOOR_PROBLEMS: Final = frozenset({ProblemType.RATE_LIMITED, ProblemType.TOO_MANY_BODIES, ProblemType.SERVICE_BUSY})
#: Their statuses: an answer with any other is no refusal at the door, and its body need not be read for it.
DOOR_STATUSES: Final = frozenset(kind.status for kind in DOOR_PROBLEMS)

#: A wait asked for is never taken as shorter than this: a peer (or anything on the path) answering
#: ``Retry-After: 0`` again and again would otherwise be asked in a tight loop, with no attempt counted.
SHORTEST_DOOR_WAIT_S: Final = 1.0


def door_wait_s(status: int, body: Mapping[str, Any], retry_after: str | None) -> float | None:
    """The seconds the service asked the caller to wait, when its answer (``status``, the problem document
    ``body``, the ``Retry-After`` header) is a refusal at its door, at least :data:`SHORTEST_DOOR_WAIT_S`; None
    for any other answer, and for one whose Retry-After is not a number of seconds (an HTTP date is not what the
    guards send)."""
    if status not in DOOR_STATUSES or retry_after is None:
        return None
    problem = body.get("type")
    if not isinstance(problem, str) or problem.removeprefix(PROBLEM_TYPE_PREFIX) not in DOOR_PROBLEMS:
        return None
    try:
        wait_s = float(retry_after)
    except ValueError:
        return None
    return max(SHORTEST_DOOR_WAIT_S, wait_s) if 0 <= wait_s < float("inf") else None
