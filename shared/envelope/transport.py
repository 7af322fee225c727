"""Multipart field names of the two message hops (docs/envelope-v1.md, "Transport").

gateway -> TPF   POST /v1/messages    header, signature, identity, payload
TPF -> registry  POST /v1/deliveries  submission_header, submission_signature, delivery_header,
                                      delivery_signature, pseudonyms, payload
"""

from typing import Final

SUBMISSION_HEADER: Final = "header"
SUBMISSION_SIGNATURE: Final = "signature"
IDENTITY: Final = "identity"
PAYLOAD: Final = "payload"

DELIVERY_SUBMISSION_HEADER: Final = "submission_header"
DELIVERY_SUBMISSION_SIGNATURE: Final = "submission_signature"
DELIVERY_HEADER: Final = "delivery_header"
DELIVERY_SIGNATURE: Final = "delivery_signature"
PSEUDONYMS: Final = "pseudonyms"

# Every field of a delivery, in the order the TPF sends them.
DELIVERY_FIELDS: Final = (
    DELIVERY_SUBMISSION_HEADER,
    DELIVERY_SUBMISSION_SIGNATURE,
    DELIVERY_HEADER,
    DELIVERY_SIGNATURE,
    PSEUDONYMS,
    PAYLOAD,
)
