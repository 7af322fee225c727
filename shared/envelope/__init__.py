"""The sealed-message format v1 (docs/envelope-v1.md).

Public surface: signed headers (``headers``), one module per part kind (``identity``, ``pseudonyms``,
``payload_seal``, ``payload_open``), the opaque ``InvalidEnvelope``, and the format's policy on answers
(``refusals``: problem types, final and permanent refusals) and on a signed timestamp's age (``freshness``).
The payload's seal and open halves are separate modules so that import contracts can say who may do which:
only the gateway seals payloads, only the registry opens them, and the TPF can do neither.
"""

from shared.envelope._canonical import MAX_SAFE_INTEGER, canonical_json, parse_canonical, strict_b64decode
from shared.envelope._digest import DigestWriter, require_digest
from shared.envelope._part import PartContext
from shared.envelope.headers import (
    ComparisonHeader,
    ComparisonParts,
    Confirmation,
    DeliveryCounts,
    DeliveryHeader,
    DeliveryParts,
    PartRef,
    Receipt,
    Refusal,
    ReportHeader,
    ReportParts,
    SubmissionHeader,
    SubmissionParts,
    encode_header,
    sign_header,
    utc_timestamp,
    verify_header,
)
from shared.errors import InvalidEnvelope, MessageRefused

__all__ = [
    "MAX_SAFE_INTEGER",
    "ComparisonHeader",
    "ComparisonParts",
    "Confirmation",
    "DeliveryCounts",
    "DeliveryHeader",
    "DeliveryParts",
    "DigestWriter",
    "InvalidEnvelope",
    "MessageRefused",
    "PartContext",
    "PartRef",
    "Receipt",
    "Refusal",
    "ReportHeader",
    "ReportParts",
    "SubmissionHeader",
    "SubmissionParts",
    "canonical_json",
    "encode_header",
    "parse_canonical",
    "require_digest",
    "sign_header",
    "strict_b64decode",
    "utc_timestamp",
    "verify_header",
]
