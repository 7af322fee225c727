"""The problem vocabulary: every problem type the services answer, each with its HTTP status and a title.

This is the one list. A new kind of answer is added here first, with its status; the slug is the ``type`` of its
problem documents (``urn:iplos-chain:problem:<slug>``), stable once published, so a member is never renamed.
The codes of the sealed-message format (docs/envelope-v1.md section 11) are here with the status the spec gives
them; ``tests/kit/test_problem_types.py`` checks that every problem type the product raises is a member.

The title is the usual one; a call site may say more in its own (``Problem(ProblemType.NOT_FOUND, "No
submission with this id")``).
"""

from __future__ import annotations

from enum import StrEnum


class ProblemType(StrEnum):
    """A problem type: its value is the slug, ``status`` the HTTP status it is answered with, ``default_title``
    the title when the call site gives none."""

    _value_: str
    status: int
    default_title: str

    def __new__(cls, slug: str, status: int = 0, default_title: str = "") -> ProblemType:
        # Defaults only so that a lookup by slug, ``ProblemType("not-found")``, type-checks: each member gives all.
        member = str.__new__(cls, slug)
        member._value_ = slug
        member.status = status
        member.default_title = default_title
        return member

    # -- the sealed-message format (docs/envelope-v1.md section 11) ---------------------------------------------
    INVALID_ENVELOPE = "invalid-envelope", 400, "The sealed message could not be verified or opened"
    UNKNOWN_KEY = "unknown-key", 403, "The signing key id is not registered"
    SENDER_MISMATCH = "sender-mismatch", 403, "The header's sender is not the party that signed it"
    SIGNER_NOT_AUTHORISED = "signer-not-authorised", 403, "The signing party's role may not send this message"
    MUNICIPALITY_MISMATCH = "municipality-mismatch", 403, "The header's municipality is not the signer's"
    WRONG_RECIPIENT = "wrong-recipient", 422, "A part is not sealed for this receiver's key"
    UNSUPPORTED_FORMAT = "unsupported-format", 422, "A part's content format is not supported"
    TIMESTAMP_OUT_OF_WINDOW = (
        "timestamp-out-of-window",
        400,
        "The message's signed timestamp is outside the window this service accepts",
    )
    SEQUENCE_OUT_OF_WINDOW = (
        "sequence-out-of-window",
        400,
        "The submission's sequence lies later than its signed timestamp and this service's clock allow",
    )
    HEADER_TOO_LARGE = "header-too-large", 413, "A signed header is larger than the format allows"
    UNMATCHED_RECORDS = (
        "unmatched-records",
        422,
        "The payload's records and the pseudonym lines do not match one to one",
    )
    REPLAYED_MESSAGE = "replayed-message", 409, "This message id was received before; the original receipt is included"
    MESSAGE_ID_CONFLICT = "message-id-conflict", 409, "This message id was used before for a different submission"
    STALE_SEQUENCE = "stale-sequence", 409, "A submission with the same or a newer sequence is already active"
    PAYLOAD_HEADER_MISMATCH = (
        "payload-header-mismatch",
        422,
        "The payload's municipality or year differs from the signed header",
    )
    INVALID_PAYLOAD = "invalid-payload", 422, "The payload does not follow its declared format"
    REPORTING_YEAR_OUT_OF_RANGE = "reporting-year-out-of-range", 422, "The reporting year is not one the register takes"
    EMPTY_SUBMISSION = "empty-submission", 422, "The submission has no persons; it would erase the year"
    NOT_HELD = "not-held", 409, "Only a submission the registry holds can be confirmed"
    CONFIRMATION_MISMATCH = "confirmation-mismatch", 422, "The confirmation names another submission than this one"
    SUPERSEDED = "superseded", 410, "This submission was replaced; the replacing submission's report applies"
    REGISTRY_UNAVAILABLE = "registry-unavailable", 503, "The registry could not be reached; try again later"
    REGISTRY_REFUSED = "registry-refused", 502, "The registry refused the delivery"
    REPORT_NOT_READY = "report-not-ready", 409, "The registry has not stored this submission"
    REPORT_UNAVAILABLE = "report-unavailable", 502, "The registry did not hand out the control report"
    INVALID_REPORT = "invalid-report", 502, "The control report could not be verified or opened"

    # -- requests -----------------------------------------------------------------------------------------------
    INVALID_REQUEST = "invalid-request", 400, "The request does not match the API"
    """Also 422, for a request FastAPI finds not to match the API schema."""
    UNSUPPORTED_MEDIA_TYPE = "unsupported-media-type", 415, "The request body has an unsupported media type"
    BODY_TOO_LARGE = "body-too-large", 413, "The request body is larger than this service accepts"
    NOT_FOUND = "not-found", 404, "Not found"
    METHOD_NOT_ALLOWED = "method-not-allowed", 405, "Method not allowed"
    HTTP_ERROR = "http-error", 500, "The request could not be handled"
    """Any other status the web framework raised, answered with that status."""
    REQUEST_TIMEOUT = "request-timeout", 408, "The request's body did not arrive in time; send it again"
    RATE_LIMITED = "rate-limited", 429, "Too many requests from this client; wait as Retry-After says"
    TOO_MANY_BODIES = (
        "too-many-bodies",
        429,
        "This client already has as many request bodies in flight as the service takes; wait as Retry-After says",
    )
    SERVICE_BUSY = "service-busy", 503, "The service is taking as many request bodies as it can; try again shortly"
    UNAUTHENTICATED = "unauthenticated", 401, "This endpoint needs a bearer token (Authorization: Bearer ...)"
    FORBIDDEN = "forbidden", 403, "This credential's role may not use this endpoint"
    WRONG_PEER = (
        "wrong-peer",
        403,
        "The connection's TLS client certificate is not the party this request must come from",
    )
    INTERNAL_ERROR = "internal-error", 500, "The service could not handle the request"
    NOT_READY = "not-ready", 503, "The service is not ready"

    # -- the audit log's endpoints ------------------------------------------------------------------------------
    INVALID_RANGE = "invalid-range", 400, "The index, tree size or range lies outside the audit log"
    AUDIT_LOG_INCONSISTENT = "audit-log-inconsistent", 500, "The stored audit log failed its own consistency check"

    # -- the gateway's own API (the municipality's staff) ------------------------------------------------------
    TOO_MANY_UPLOADS = "too-many-uploads", 429, "This credential already has as many uploads in progress as allowed"
    GATEWAY_BUSY = "gateway-busy", 503, "The gateway is taking as many uploads as it can; try again shortly"
    MUNICIPALITY_NOT_PERMITTED = (
        "municipality-not-permitted",
        403,
        "This credential may not submit for the export's municipality; nothing was accepted",
    )
    MUNICIPALITY_NOT_SERVED = (
        "municipality-not-served",
        422,
        "This gateway holds no signing key for the export's municipality",
    )
    SCHEMA_INVALID = (
        "schema-invalid",
        422,
        "The export does not validate against the IPLOS export schema; nothing was accepted",
    )
    INVALID_EXTRACT = (
        "invalid-extract",
        422,
        "The population register extract does not follow iplos-folkeregister/1; nothing was accepted",
    )
    INVALID_BUSINESS_FILE = (
        "invalid-business-register-file",
        422,
        "The file is not a bulk file of Enhetsregisteret the registry takes; nothing was loaded",
    )
    STALE_BUSINESS_FILE = (
        "stale-business-register-file",
        409,
        "A file of this kind taken on a later day is already loaded; nothing was loaded",
    )
    EMPTY_EXPORT = "empty-export", 422, "The export has no persons; it would erase the year's data"
    IDENTICAL_RESUBMISSION = "identical-resubmission", 409, "This export is the one already submitted"
    LIMIT_EXCEEDED = "limit-exceeded", 422, "The export is larger than a limit allows"
    CONFIRMATION_FAILED = "confirmation-failed", 502, "The registry did not apply the confirmation"
    NOT_RETRYABLE = "not-retryable", 409, "Only a rejected or dead-lettered submission can be retried"


_BY_SLUG: dict[str, ProblemType] = {str(member): member for member in ProblemType}


def known_type(slug: str) -> ProblemType | None:
    """The member whose slug this is, or None."""
    return _BY_SLUG.get(slug)
