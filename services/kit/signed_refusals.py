"""Signed refusals (docs/envelope-v1.md 7.10): the receiver's signature on a refusal that is final for a message.

A problem document is unsigned. Between two services over mutual TLS (ADR 0010) anything on the path that can
read and write the stream (a TLS terminator, a compromised element inside the TLS zone, a bug) can write one, and
a sender that ended a message on it would let that element turn a pending message into a refusal for good. So a
receiver that refuses a message for good (section 9.1: decided by what the municipality signed, so no re-sending
of the same bytes can change it) signs that refusal, bound to the message id and the submission header's digest,
and carries it in the problem document as ``{"refusal": {...}, "signature": "<base64>"}``; a sender ends a message
only on one it verified (``shared.envelope.receipts.verify_refusal``), and treats every other refusal as no answer.

Only final refusals are signed. A refusal that is not final (a part whose digest differs, a signature that does
not verify) is one that tampering on the path can provoke with the receiver's honest help: signed, it would be a
way to end a message as good as a forged one.
"""

from __future__ import annotations

from typing import Final

from services.kit.problems import Problem, problem_slug
from services.kit.refusals import is_final
from shared.envelope import Refusal, utc_timestamp
from shared.envelope.receipts import carry
from shared.keys import PartyKeys

__all__ = ["REFUSAL", "signed_if_final"]

#: The problem document's member that carries the signed refusal (its signature is in ``signature``).
REFUSAL: Final = "refusal"


def signed_if_final(keys: PartyKeys, problem: Problem, message_id: str, submission_sha256: str) -> Problem:
    """``problem`` with this party's signed refusal of the message if it is final for it (``"final": true``), and
    not signed already (a document stored with its signature is answered again as stored, section 9); any other
    problem unchanged. ``submission_sha256``: the digest of the verified submission header it refuses."""
    if not is_final(problem) or REFUSAL in problem.extensions:
        return problem
    upstream = problem_slug(str(problem.extensions.get("upstream_type") or "")) or None
    refusal = Refusal(
        message_id=message_id,
        sender=keys.party,
        signer_kid=keys.signing_kid,
        submission_sha256=submission_sha256,
        problem=problem.slug,
        upstream=upstream,
        created_at=utc_timestamp(),
    )
    return problem.extended(**carry(refusal, REFUSAL, keys.signing))
