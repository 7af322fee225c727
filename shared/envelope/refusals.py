"""How a receiver's answers are named, which of its refusals are final, and which a sender stops on
(docs/envelope-v1.md sections 9.1, 10.6 and 11).

* **Names.** An answer is an RFC 9457 problem document whose ``type`` is ``urn:iplos-chain:problem:`` followed
  by its code (:func:`problem_type`, :func:`problem_code`).
* **Final refusals** (section 9.1). A refusal is final for a message id when it is about what the municipality
  signed, so that no re-sending of the same bytes can change it: the submission header verifies as signed by
  the municipality it names, and what is refused is in what that municipality signed (a part sealed for the
  wrong key, a timestamp outside the window, an identity or payload part that does not open or does not agree
  with the header). A receiver marks such a problem document with ``"final": true`` (:data:`FINAL`) and no
  other; it keeps the decision and answers the same message again from it. Which of a receiver's refusals are
  final depends on the step where they happen (an ``invalid-envelope`` of a header is not final, one of the
  identity part is), so the receivers mark them where they decide (``services.kit.refusals.final``).
* **Permanent answers** (sections 10.6 and 11). A sender does not send a message again after one of
  :data:`PERMANENT`: the same message gets the same answer. It retries every other answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

__all__ = ["FINAL", "PERMANENT", "PROBLEM_TYPE_PREFIX", "is_final", "problem_code", "problem_type"]

PROBLEM_TYPE_PREFIX: Final = "urn:iplos-chain:problem:"
#: The problem document's member that marks a refusal as final for the message id (section 9.1).
FINAL: Final = "final"

#: Refusals no retry can fix: the message itself is wrong for the chain. A sender (the gateway to the TPF, the
#: TPF to the registry) stops on these and retries every other answer.
PERMANENT: Final = frozenset(
    {
        "invalid-envelope",
        "unknown-key",
        "sender-mismatch",
        "signer-not-authorised",
        "municipality-mismatch",
        "wrong-recipient",
        "unsupported-format",
        "message-id-conflict",
        "invalid-payload",
        "payload-header-mismatch",
        "body-too-large",
        "header-too-large",
        "timestamp-out-of-window",
        "sequence-out-of-window",
        "reporting-year-out-of-range",
        "empty-submission",
        "unmatched-records",
    }
)


def problem_type(code: str) -> str:
    """The ``type`` of a problem document with this code."""
    return PROBLEM_TYPE_PREFIX + code


def problem_code(type_: str) -> str:
    """The code in ``urn:iplos-chain:problem:<code>``, or "" for any other type (a proxy's, or none)."""
    return type_.removeprefix(PROBLEM_TYPE_PREFIX) if type_.startswith(PROBLEM_TYPE_PREFIX) else ""


def is_final(document: Mapping[str, object]) -> bool:
    """True if a problem document marks its refusal final (``"final": true``, nothing else counts)."""
    return document.get(FINAL) is True
