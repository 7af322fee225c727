"""Receipts travel as JSON ``{"receipt": {...}, "signature": "<base64>"}``.

Because headers have one canonical encoding, the verifier re-encodes the receipt object and checks the
signature over those bytes: no need to carry the signed bytes separately.
"""

from __future__ import annotations

import hmac
from typing import Any

from shared.envelope._canonical import canonical_json, strict_b64decode
from shared.envelope.headers import Receipt, verify_header
from shared.errors import InvalidEnvelope, MessageRefused
from shared.keys import PublicDirectory


def verify_receipt(
    directory: PublicDirectory, body: dict[str, Any], message_id: str, submission_sha256: str
) -> Receipt:
    """Verify a receipt answer: signed by the registry, about this message id and this very submission header
    (its SHA-256), so a receipt for another submission under the same id is refused."""
    receipt, signature = body.get("receipt"), body.get("signature")
    if not isinstance(receipt, dict) or not isinstance(signature, str):
        raise InvalidEnvelope()
    raw_signature = strict_b64decode(signature)
    try:
        # The receipt object came through a JSON parser that accepts NaN and deep nesting: re-encoding such a
        # value fails, and that is an invalid receipt, not a crash.
        encoded = canonical_json(receipt)
    except (ValueError, TypeError, RecursionError):
        raise InvalidEnvelope() from None
    verified, signer = verify_header(encoded, raw_signature, directory, Receipt)
    if signer.role != "registry":
        raise MessageRefused("signer-not-authorised", "the receipt is not signed by the registry")
    if verified.message_id != message_id or not hmac.compare_digest(
        verified.submission_sha256.encode(), submission_sha256.encode()
    ):
        raise InvalidEnvelope()
    return verified
