"""A submission's states, listed once, and how one ends.

::

    queued -> [forwarded: the TPF holds it] -> stored | refused (by the registry, e.g. stale)
           | held (by the registry, until the municipality confirms: -> stored | refused)
           | rejected (a refusal on the way the TPF signed as final) | dead-letter (too many failed attempts)

Rejected and dead-lettered submissions keep their sealed parts and can be put back in the queue (``retry``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Final

from shared.audit import FactValue, sanitise_facts

__all__ = [
    "DONE_STATES",
    "FINAL_STATES",
    "HELD_DISCARDED",
    "IN_DELIVERY",
    "NOT_IN_EFFECT",
    "RETRYABLE",
    "SubmissionState",
    "settled_facts",
]


class SubmissionState(StrEnum):
    QUEUED = "queued"
    """In the gateway's outbox, waiting for its next delivery attempt."""
    FORWARDED = "forwarded"
    """The TPF took it into its own durable outbox (202); the gateway asks after it instead of sending it."""
    STORED = "stored"
    HELD = "held"
    """The registry keeps its records but waits for the municipality's confirmation (confirm_replacement)."""
    REFUSED = "refused"
    REJECTED = "rejected"
    DEAD_LETTER = "dead-letter"


# Where delivery ends. A held submission has been delivered (the registry keeps its records, waiting for the
# municipality's confirmation), so nothing is sent again.
FINAL_STATES: Final = frozenset(
    {
        SubmissionState.STORED,
        SubmissionState.HELD,
        SubmissionState.REFUSED,
        SubmissionState.REJECTED,
        SubmissionState.DEAD_LETTER,
    }
)
# Final and settled by the registry's signed receipt: the sealed parts can go.
DONE_STATES: Final = frozenset({SubmissionState.STORED, SubmissionState.HELD, SubmissionState.REFUSED})
# Ended on the way, its sealed parts kept: an operator (or the municipality) may put it back in the queue.
RETRYABLE: Final = frozenset({SubmissionState.REJECTED, SubmissionState.DEAD_LETTER})
# Not settled yet: the outbox delivers or polls these.
IN_DELIVERY: Final = (SubmissionState.QUEUED, SubmissionState.FORWARDED)
# Never reached the registry's data: sending the same file again is a retry, not an identical resubmission.
NOT_IN_EFFECT: Final = frozenset({SubmissionState.REFUSED, SubmissionState.REJECTED, SubmissionState.DEAD_LETTER})

# The registry's reason for a held submission that a newer one overtook before it was confirmed.
HELD_DISCARDED: Final = "held-discarded"


def settled_facts(state: str, receipt: dict[str, Any] | None, problem: str | None) -> dict[str, FactValue]:
    """The facts of a ``settled`` audit entry: how the submission ended and what the registry's receipt said.
    ``problem`` is a problem slug or the registry's reason; free text is dropped (``sanitise_facts``)."""
    receipt = receipt or {}
    stored = receipt.get("records_stored")
    return sanitise_facts(
        {
            "outcome": str(state),
            "receipt_status": receipt.get("status"),
            "stored": stored if isinstance(stored, int) else None,
            "problem": problem,
        }
    )
