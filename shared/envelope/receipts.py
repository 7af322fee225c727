"""Receipts, refusals and confirmations travel as JSON ``{"<member>": {...}, "signature": "<base64>"}`` (a refusal
inside the problem document it signs for: docs/envelope-v1.md 7.10).

Because headers have one canonical encoding, the verifier re-encodes the object and checks the signature over
those bytes: no need to carry the signed bytes separately.
"""

from __future__ import annotations

import base64
import hmac
from typing import Any

from nacl.signing import SigningKey

from shared.envelope._canonical import canonical_json, strict_b64decode
from shared.envelope.headers import Confirmation, HeaderT, Receipt, Refusal, sign_header, verify_header
from shared.errors import InvalidEnvelope, MessageRefused
from shared.keys import PartyInfo, PublicDirectory


def _verify_carried(
    directory: PublicDirectory, body: dict[str, Any], member: str, model: type[HeaderT]
) -> tuple[HeaderT, PartyInfo, bytes]:
    """Verify the header carried as ``body[member]`` with its ``signature``; return it, its signer and its
    canonical bytes."""
    carried, signature = body.get(member), body.get("signature")
    if not isinstance(carried, dict) or not isinstance(signature, str):
        raise InvalidEnvelope()
    raw_signature = strict_b64decode(signature)  # the canonical encoding only (section 1)
    try:
        # The object came through a JSON parser that accepts NaN and deep nesting: re-encoding such a value
        # fails, and that is an invalid header, not a crash.
        encoded = canonical_json(carried)
    except (ValueError, TypeError, RecursionError):
        raise InvalidEnvelope() from None
    verified, signer = verify_header(encoded, raw_signature, directory, model)
    return verified, signer, encoded


def carry(header: Receipt | Refusal | Confirmation, member: str, key: SigningKey) -> dict[str, Any]:
    """Sign ``header`` and wrap it for the wire as ``{member: header, "signature": base64}``."""
    _, signature = sign_header(header, key)
    return {member: header.model_dump(mode="json"), "signature": base64.b64encode(signature).decode("ascii")}


def verify_receipt(
    directory: PublicDirectory, body: dict[str, Any], message_id: str, submission_sha256: str
) -> Receipt:
    """Verify a receipt answer: signed by the registry, about this message id and this very submission header
    (its SHA-256), so a receipt for another submission under the same id is refused."""
    verified, signer, _ = _verify_carried(directory, body, "receipt", Receipt)
    if signer.role != "registry":
        raise MessageRefused("signer-not-authorised", "the receipt is not signed by the registry")
    if verified.message_id != message_id or not hmac.compare_digest(
        verified.submission_sha256.encode(), submission_sha256.encode()
    ):
        raise InvalidEnvelope()
    return verified


def verify_refusal(
    directory: PublicDirectory, body: dict[str, Any], message_id: str, submission_sha256: str, role: str
) -> Refusal:
    """Verify the signed refusal a problem document carries (spec 10.8): signed by a party of ``role`` (the hop
    the sender delivered to), about this message id and this very submission header (its SHA-256), so that a
    refusal of another message, or of another submission under the same id, is refused."""
    verified, signer, _ = _verify_carried(directory, body, "refusal", Refusal)
    if signer.role != role:
        raise MessageRefused("signer-not-authorised", f"the refusal is not signed by the {role}")
    if verified.message_id != message_id or not hmac.compare_digest(
        verified.submission_sha256.encode(), submission_sha256.encode()
    ):
        raise InvalidEnvelope()
    return verified


def verify_confirmation(directory: PublicDirectory, body: dict[str, Any]) -> tuple[Confirmation, bytes]:
    """Verify a confirmation (spec section 7.8): signed by a municipality, for its own municipality. Return it
    with its canonical bytes; the caller checks that it names the held submission it is asked to apply."""
    verified, signer, encoded = _verify_carried(directory, body, "confirmation", Confirmation)
    if signer.role != "municipality":
        raise MessageRefused("signer-not-authorised", "a confirmation must be signed by a municipality")
    if signer.municipality != verified.municipality:
        raise MessageRefused("municipality-mismatch", "the confirmation's municipality is not the signer's")
    return verified, encoded
