"""Signed headers: the submission (municipality), the delivery (TPF), the receipt (registry) and the others of
docs/envelope-v1.md section 7 (a report, comparison statistics, a confirmation, a refusal).

A header is a canonical JSON object (see ``_canonical``) signed with Ed25519 over
``"iplos/v1/signature" || 0x00 || header``. It names its sender, its signer's key id, and for every ciphertext
part the recipient, the recipient's key id, the size and the SHA-256 of the part's bytes: one signature covers
parts the verifier never receives (the registry verifies the municipality's signature over the identity part's
digest without seeing that part). Verification raises; it never returns a bool.
"""

from __future__ import annotations

import datetime as dt
import hmac
from typing import Annotated, Any, Final, Literal, TypeVar

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from shared.envelope._canonical import canonical_json, parse_canonical
from shared.errors import InvalidEnvelope, MessageRefused, UnknownKey
from shared.keys import PartyInfo, PublicDirectory
from shared.pseudonym import MAX_KEY_VERSION

FORMAT: Final = "iplos-envelope/1"
SIGN_LABEL: Final = b"iplos/v1/signature\x00"
SIGNATURE_SIZE: Final = 64

Hex64 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Kid = Annotated[str, Field(pattern=r"^[0-9a-f]{16}$")]
Party = Annotated[str, Field(pattern=r"^[a-z0-9-]{1,40}$")]
MessageId = Annotated[str, Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")]
TIMESTAMP_FORMAT: Final = "%Y-%m-%dT%H:%M:%SZ"


def _real_instant(value: str) -> str:
    """A Timestamp names a real UTC second: 2025-02-30, hour 24 or a leap second 60 match the pattern only."""
    try:
        dt.datetime.strptime(value, TIMESTAMP_FORMAT)
    except ValueError:
        raise ValueError("not a date and time that exists") from None
    return value


Timestamp = Annotated[
    str,
    Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"),
    AfterValidator(_real_instant),
]
KommuneNr = Annotated[str, Field(pattern=r"^[0-9]{4}$")]
# Norway has about 350,000 IPLOS recipients a year; a bound keeps a forged count from sizing memory.
Count = Annotated[int, Field(ge=0, le=1_000_000)]
# The pseudonym key's version: the registry stores it in a 32-bit integer column (spec 7.2, KeyVersion).
KeyVersion = Annotated[int, Field(ge=1, le=MAX_KEY_VERSION)]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class PartRef(_Strict):
    recipient: Party
    recipient_kid: Kid
    content: Annotated[str, Field(pattern=r"^[a-z-]+/[0-9]+$")]
    size: Annotated[int, Field(ge=0)]
    sha256: Hex64


class SubmissionParts(_Strict):
    identity: PartRef
    payload: PartRef


class SubmissionHeader(_Strict):
    format: Literal["iplos-envelope/1"] = FORMAT
    kind: Literal["submission"] = "submission"
    message_id: MessageId
    sender: Party
    signer_kid: Kid
    municipality: KommuneNr
    year: Annotated[int, Field(ge=2000, le=2100)]
    sequence: Annotated[int, Field(ge=1)]
    created_at: Timestamp
    record_count: Count
    parts: SubmissionParts


class DeliveryCounts(_Strict):
    records: Count
    pseudonymised: Count
    refused: Count


class DeliveryParts(_Strict):
    pseudonyms: PartRef


class DeliveryHeader(_Strict):
    format: Literal["iplos-envelope/1"] = FORMAT
    kind: Literal["delivery"] = "delivery"
    message_id: MessageId
    sender: Party
    signer_kid: Kid
    submission_sha256: Hex64
    created_at: Timestamp
    pseudonym_key_version: KeyVersion
    counts: DeliveryCounts
    parts: DeliveryParts


class Receipt(_Strict):
    format: Literal["iplos-envelope/1"] = FORMAT
    kind: Literal["receipt"] = "receipt"
    message_id: MessageId
    sender: Party
    signer_kid: Kid
    submission_sha256: Hex64
    municipality: KommuneNr
    year: int
    sequence: int
    status: Literal["stored", "held", "refused"]
    reason: str | None
    records_stored: Count
    identities_refused: Count
    supersedes: MessageId | None
    received_at: Timestamp
    report_path: Annotated[str, Field(pattern=r"^/[A-Za-z0-9/_-]{1,200}$")] | None
    """Where the registry serves the control report, sealed for the municipality (null: no report)."""


class ReportParts(_Strict):
    report: PartRef


class _AnswerHeader(_Strict):
    """What the registry signs about one stored submission for its municipality (a report, comparison statistics):
    whose submission, from whom, for whom, and when."""

    format: Literal["iplos-envelope/1"] = FORMAT
    message_id: MessageId
    sender: Party
    signer_kid: Kid
    recipient: Party
    submission_sha256: Hex64
    created_at: Timestamp


class ReportHeader(_AnswerHeader):
    """The registry's control report about one submission, sealed for the submitting municipality only."""

    kind: Literal["report"] = "report"
    finding_count: Count
    parts: ReportParts


class ComparisonParts(_Strict):
    comparison: PartRef


class ComparisonHeader(_AnswerHeader):
    """The registry's comparison statistics for the municipality of one submission (its year, the year before; the
    municipality, its county, the country), sealed for that municipality only (spec sections 6.6, 7.9, 10.7)."""

    kind: Literal["comparison"] = "comparison"
    year: Annotated[int, Field(ge=2000, le=2100)]
    area_count: Count
    parts: ComparisonParts


class Confirmation(_Strict):
    """A municipality's signed decision that its held submission replace the active one (spec section 7.8)."""

    format: Literal["iplos-envelope/1"] = FORMAT
    kind: Literal["confirmation"] = "confirmation"
    message_id: MessageId
    sender: Party
    signer_kid: Kid
    submission_sha256: Hex64
    municipality: KommuneNr
    year: Annotated[int, Field(ge=2000, le=2100)]
    created_at: Timestamp


# A refusal code of the sealed-message format (docs/envelope-v1.md section 11): ``invalid-envelope``.
ProblemCode = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,63}$")]


class Refusal(_Strict):
    """A receiver's signed word that it refused one message for good (spec sections 7.10, 9.1): the only refusal a
    sender may end a message on. A problem document is unsigned, and anything on the path can write one."""

    format: Literal["iplos-envelope/1"] = FORMAT
    kind: Literal["refusal"] = "refusal"
    message_id: MessageId
    sender: Party
    signer_kid: Kid
    submission_sha256: Hex64
    problem: ProblemCode
    upstream: ProblemCode | None
    """The next hop's refusal code when ``problem`` is ``registry-refused``; else null."""
    created_at: Timestamp


HeaderT = TypeVar(
    "HeaderT", SubmissionHeader, DeliveryHeader, Receipt, ReportHeader, ComparisonHeader, Confirmation, Refusal
)


def utc_timestamp(moment: dt.datetime | None = None) -> str:
    moment = moment or dt.datetime.now(dt.UTC)
    return moment.astimezone(dt.UTC).strftime(TIMESTAMP_FORMAT)


def encode_header(header: BaseModel) -> bytes:
    return canonical_json(header.model_dump(mode="json"))


def sign_header(header: BaseModel, key: SigningKey) -> tuple[bytes, bytes]:
    """Return the canonical header bytes and their Ed25519 signature."""
    encoded = encode_header(header)
    return encoded, key.sign(SIGN_LABEL + encoded).signature


def verify_header(
    encoded: bytes, signature: bytes, directory: PublicDirectory, model: type[HeaderT]
) -> tuple[HeaderT, PartyInfo]:
    """Check a signed header and return it with the party whose key signed it.

    Raises ``InvalidEnvelope`` for a malformed header or a bad signature, and ``MessageRefused`` ("unknown-key",
    "sender-mismatch") when the signer is not in the directory or is not the party the header names.
    """
    document: dict[str, Any] = parse_canonical(encoded)
    # What the bytes are comes before who signed them (docs/envelope-v1.md 7.7, step 2): the version marker and
    # the expected kind are required on the wire even though the models default them, and a header that is not
    # an iplos-envelope/1 header of this kind gets the opaque error, never the pre-signature "unknown-key".
    if document.get("format") != FORMAT or document.get("kind") != model.model_fields["kind"].default:
        raise InvalidEnvelope()
    kid = document.get("signer_kid")
    if not isinstance(kid, str):
        raise InvalidEnvelope()
    try:
        party, verify_key = directory.verify_key(kid)
    except UnknownKey:
        raise MessageRefused("unknown-key", "the signing key id is not registered") from None
    if len(signature) != SIGNATURE_SIZE:
        raise InvalidEnvelope()
    try:
        verify_key.verify(SIGN_LABEL + encoded, signature)
    except BadSignatureError:
        raise InvalidEnvelope() from None
    try:
        header = model.model_validate(document)
    except ValidationError:
        raise InvalidEnvelope() from None
    if not hmac.compare_digest(header.sender.encode(), party.name.encode()):
        raise MessageRefused("sender-mismatch", "the header's sender is not the party that signed it")
    return header, party
