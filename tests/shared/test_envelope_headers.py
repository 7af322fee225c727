"""Canonical JSON and signed headers (shared/envelope/_canonical.py, headers.py, receipts.py)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey
from pydantic import BaseModel

from shared.envelope import (
    DeliveryCounts,
    DeliveryHeader,
    DeliveryParts,
    PartRef,
    Receipt,
    Refusal,
    SubmissionHeader,
    SubmissionParts,
    encode_header,
    sign_header,
    utc_timestamp,
    verify_header,
)
from shared.envelope._canonical import canonical_json, parse_canonical
from shared.envelope.headers import SIGN_LABEL, SIGNATURE_SIZE
from shared.envelope.receipts import carry, verify_receipt, verify_refusal
from shared.errors import InvalidEnvelope, MessageRefused
from shared.keys import PartyKeys, PublicDirectory, key_id
from shared.keys.tpf import TpfKeys

OPAQUE = "the sealed message could not be verified or opened"
CREATED = utc_timestamp(dt.datetime(2025, 3, 1, 12, 30, tzinfo=dt.UTC))
MESSAGE_ID = str(uuid.UUID("6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b"))
SUBMISSION_SHA256 = "ef" * 32


def assert_opaque(error: BaseException) -> None:
    assert type(error) is InvalidEnvelope
    assert str(error) == OPAQUE


# --- canonical JSON ---------------------------------------------------------------------------------------------


def test_canonical_json_sorts_keys_and_has_no_spaces() -> None:
    value = {"b": 1, "a": [3, 1, {"z": None, "y": True}], "c": {"é": "x"}}
    assert canonical_json(value) == b'{"a":[3,1,{"y":true,"z":null}],"b":1,"c":{"\\u00e9":"x"}}'


def test_canonical_json_escapes_non_ascii() -> None:
    assert canonical_json({"navn": "Bærum"}) == b'{"navn":"B\\u00e6rum"}'
    assert canonical_json({"s": "\U0001f600"}) == b'{"s":"\\ud83d\\ude00"}'
    assert canonical_json({"s": '\n"\\'}) == b'{"s":"\\n\\"\\\\"}'


def test_canonical_json_refuses_nan() -> None:
    with pytest.raises(ValueError, match="JSON"):
        canonical_json({"a": float("nan")})


_json_scalars = st.none() | st.booleans() | st.integers(-(2**53 - 1), 2**53 - 1) | st.text(max_size=20)
_json_values = st.recursive(
    _json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.text(max_size=8), _json_values, max_size=6))
def test_canonical_round_trip(value: dict[str, Any]) -> None:
    encoded = canonical_json(value)
    assert encoded.isascii()
    assert parse_canonical(encoded) == value
    assert canonical_json(parse_canonical(encoded)) == encoded


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.text(max_size=8), _json_values, min_size=1, max_size=6))
def test_any_other_spelling_is_refused(value: dict[str, Any]) -> None:
    spaced = json.dumps(value, sort_keys=True, ensure_ascii=True, separators=(", ", ": ")).encode()
    if spaced != canonical_json(value):
        with pytest.raises(InvalidEnvelope):
            parse_canonical(spaced)
    pretty = json.dumps(value, sort_keys=True, ensure_ascii=True, indent=1).encode()
    if pretty != canonical_json(value):
        with pytest.raises(InvalidEnvelope):
            parse_canonical(pretty)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b'{"a":1.0}', id="float"),
        pytest.param(b'{"a":1e3}', id="exponent"),
        pytest.param(b'{"a":1.5}', id="fraction"),
        pytest.param(b'{"a":NaN}', id="nan"),
        pytest.param(b'{"a":Infinity}', id="infinity"),
        pytest.param(b'{"a":-Infinity}', id="minus-infinity"),
        pytest.param(b'{"a":1,"a":1}', id="duplicate-key"),
        pytest.param(b'{"a":{"b":1,"b":2}}', id="nested-duplicate-key"),
        pytest.param(b'{"a":1, "b":2}', id="space-after-comma"),
        pytest.param(b'{"a": 1}', id="space-after-colon"),
        pytest.param(b' {"a":1}', id="leading-space"),
        pytest.param(b'{"a":1}\n', id="trailing-newline"),
        pytest.param(b'{"b":1,"a":2}', id="unsorted"),
        pytest.param(b'{"a":-0}', id="minus-zero"),
        pytest.param(b'{"a":"\\u0041"}', id="escaped-ascii"),
        pytest.param(b'{"a":"\\u00E6"}', id="uppercase-escape"),
        pytest.param(b'{"a":"\\/"}', id="escaped-slash"),
        pytest.param(b'{"a":"\xc3\xa6"}', id="raw-utf8"),
        pytest.param(b'{"a":"\xff"}', id="invalid-utf8"),
        pytest.param(b'\xef\xbb\xbf{"a":1}', id="bom"),
        pytest.param(b"[1,2]", id="array"),
        pytest.param(b"1", id="number"),
        pytest.param(b'"s"', id="string"),
        pytest.param(b"null", id="null"),
        pytest.param(b"", id="empty"),
        pytest.param(b'{"a":1', id="unterminated"),
        pytest.param(b'{"a":1}{"a":1}', id="two-documents"),
    ],
)
def test_parse_canonical_refuses(data: bytes) -> None:
    with pytest.raises(InvalidEnvelope) as caught:
        parse_canonical(data)
    assert_opaque(caught.value)


def test_parse_canonical_accepts_escaped_non_ascii() -> None:
    assert parse_canonical(b'{"a":"\\u00e6"}') == {"a": "æ"}


def test_parse_canonical_refuses_deep_nesting() -> None:
    with pytest.raises(InvalidEnvelope):
        parse_canonical(b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}")


# --- headers ----------------------------------------------------------------------------------------------------


def _ref(recipient: PartyKeys, content: str) -> PartRef:
    return PartRef(
        recipient=recipient.party, recipient_kid=recipient.encryption_kid, content=content, size=1234, sha256="ab" * 32
    )


def submission(signer: PartyKeys, tpf: TpfKeys, registry: PartyKeys, **changes: Any) -> SubmissionHeader:
    fields: dict[str, Any] = {
        "message_id": MESSAGE_ID,
        "sender": signer.party,
        "signer_kid": signer.signing_kid,
        "municipality": signer.party.removeprefix("kommune-"),
        "year": 2025,
        "sequence": 1,
        "created_at": CREATED,
        "record_count": 2,
        "parts": SubmissionParts(
            identity=_ref(tpf.party, "iplos-identities/1"), payload=_ref(registry, "iplos-payload/1")
        ),
    }
    return SubmissionHeader(**(fields | changes))


def delivery(tpf: TpfKeys, registry: PartyKeys, **changes: Any) -> DeliveryHeader:
    fields: dict[str, Any] = {
        "message_id": MESSAGE_ID,
        "sender": tpf.party.party,
        "signer_kid": tpf.party.signing_kid,
        "submission_sha256": "cd" * 32,
        "created_at": CREATED,
        "pseudonym_key_version": 1,
        "counts": DeliveryCounts(records=2, pseudonymised=1, refused=1),
        "parts": DeliveryParts(pseudonyms=_ref(registry, "iplos-pseudonyms/1")),
    }
    return DeliveryHeader(**(fields | changes))


def receipt(signer: PartyKeys, **changes: Any) -> Receipt:
    fields: dict[str, Any] = {
        "message_id": MESSAGE_ID,
        "sender": signer.party,
        "signer_kid": signer.signing_kid,
        "submission_sha256": SUBMISSION_SHA256,
        "municipality": "0301",
        "year": 2025,
        "sequence": 1,
        "status": "stored",
        "reason": None,
        "records_stored": 2,
        "identities_refused": 0,
        "supersedes": None,
        "received_at": CREATED,
        "report_path": None,
    }
    return Receipt(**(fields | changes))


@pytest.fixture(scope="module")
def headers(
    oslo: PartyKeys, tpf: TpfKeys, registry: PartyKeys
) -> dict[str, tuple[BaseModel, PartyKeys, type[BaseModel]]]:
    return {
        "submission": (submission(oslo, tpf, registry), oslo, SubmissionHeader),
        "delivery": (delivery(tpf, registry), tpf.party, DeliveryHeader),
        "receipt": (receipt(registry), registry, Receipt),
    }


KINDS = ["submission", "delivery", "receipt"]


def _sign_document(document: dict[str, Any], key: SigningKey) -> tuple[bytes, bytes]:
    encoded = canonical_json(document)
    return encoded, key.sign(SIGN_LABEL + encoded).signature


@pytest.mark.parametrize("kind", KINDS)
def test_sign_verify_round_trip(kind: str, headers: dict[str, Any], directory: PublicDirectory) -> None:
    header, signer, model = headers[kind]
    encoded, signature = sign_header(header, signer.signing)
    assert encoded == encode_header(header)
    assert len(signature) == SIGNATURE_SIZE
    verified, party = verify_header(encoded, signature, directory, model)
    assert verified == header
    assert type(verified) is model
    assert party.name == signer.party
    assert verified.kind == kind


@pytest.mark.parametrize("kind", KINDS)
def test_every_flipped_header_byte_is_refused(kind: str, headers: dict[str, Any], directory: PublicDirectory) -> None:
    header, signer, model = headers[kind]
    encoded, signature = sign_header(header, signer.signing)
    marker = b'"signer_kid":"'
    kid_start = encoded.index(marker) + len(marker)
    kid_range = range(kid_start, kid_start + 16)
    assert encoded[kid_range.start : kid_range.stop].decode() == signer.signing_kid
    for offset in range(len(encoded)):
        for mask in (0x01, 0x80):
            tampered = bytearray(encoded)
            tampered[offset] ^= mask
            if offset in kid_range and mask == 0x01:
                # Still a canonical header, but now naming a key id nobody registered.
                with pytest.raises(MessageRefused) as refused:
                    verify_header(bytes(tampered), signature, directory, model)
                assert refused.value.code == "unknown-key", offset
            else:
                with pytest.raises(InvalidEnvelope) as caught:
                    verify_header(bytes(tampered), signature, directory, model)
                assert_opaque(caught.value)


@pytest.mark.parametrize("kind", KINDS)
def test_every_flipped_signature_byte_is_refused(
    kind: str, headers: dict[str, Any], directory: PublicDirectory
) -> None:
    header, signer, model = headers[kind]
    encoded, signature = sign_header(header, signer.signing)
    for offset in range(len(signature)):
        for mask in (0x01, 0x80):
            tampered = bytearray(signature)
            tampered[offset] ^= mask
            with pytest.raises(InvalidEnvelope) as caught:
                verify_header(encoded, bytes(tampered), directory, model)
            assert_opaque(caught.value)


@pytest.mark.parametrize("length", [0, 1, SIGNATURE_SIZE - 1, SIGNATURE_SIZE + 1, 2 * SIGNATURE_SIZE])
def test_signature_of_wrong_length(length: int, headers: dict[str, Any], directory: PublicDirectory) -> None:
    header, signer, model = headers["submission"]
    encoded, signature = sign_header(header, signer.signing)
    wrong = (signature * 2)[:length]
    with pytest.raises(InvalidEnvelope) as caught:
        verify_header(encoded, wrong, directory, model)
    assert_opaque(caught.value)


def test_signature_without_the_domain_label_is_refused(headers: dict[str, Any], directory: PublicDirectory) -> None:
    header, signer, model = headers["submission"]
    encoded = encode_header(header)
    bare = signer.signing.sign(encoded).signature
    with pytest.raises(InvalidEnvelope):
        verify_header(encoded, bare, directory, model)


def test_signature_by_another_party_over_the_same_header(
    headers: dict[str, Any], directory: PublicDirectory, bergen: PartyKeys
) -> None:
    header, _signer, model = headers["submission"]
    encoded = encode_header(header)
    forged = bergen.signing.sign(SIGN_LABEL + encoded).signature
    with pytest.raises(InvalidEnvelope):
        verify_header(encoded, forged, directory, model)


def test_unknown_signer_kid(oslo: PartyKeys, tpf: TpfKeys, registry: PartyKeys, directory: PublicDirectory) -> None:
    stranger = SigningKey.generate()
    header = submission(oslo, tpf, registry, signer_kid=key_id("Ed25519", bytes(stranger.verify_key)))
    encoded, signature = sign_header(header, stranger)
    with pytest.raises(MessageRefused) as refused:
        verify_header(encoded, signature, directory, SubmissionHeader)
    assert refused.value.code == "unknown-key"
    assert type(refused.value) is MessageRefused


def test_signer_kid_naming_an_encryption_key(
    oslo: PartyKeys, tpf: TpfKeys, registry: PartyKeys, directory: PublicDirectory
) -> None:
    header = submission(oslo, tpf, registry, signer_kid=oslo.encryption_kid)
    encoded, signature = sign_header(header, oslo.signing)
    with pytest.raises(MessageRefused) as refused:
        verify_header(encoded, signature, directory, SubmissionHeader)
    assert refused.value.code == "unknown-key"


def test_signer_kid_not_a_string(headers: dict[str, Any], directory: PublicDirectory) -> None:
    header, signer, model = headers["receipt"]
    document = header.model_dump(mode="json") | {"signer_kid": 12}
    encoded, signature = _sign_document(document, signer.signing)
    with pytest.raises(InvalidEnvelope):
        verify_header(encoded, signature, directory, model)


def test_sender_differs_from_signing_party(
    oslo: PartyKeys, bergen: PartyKeys, tpf: TpfKeys, registry: PartyKeys, directory: PublicDirectory
) -> None:
    # Bergen signs correctly with its own registered key, but the header claims to come from Oslo.
    header = submission(oslo, tpf, registry, signer_kid=bergen.signing_kid)
    encoded, signature = sign_header(header, bergen.signing)
    with pytest.raises(MessageRefused) as refused:
        verify_header(encoded, signature, directory, SubmissionHeader)
    assert refused.value.code == "sender-mismatch"


def _without_party_keys(directory: PublicDirectory, party: str, alg: str) -> PublicDirectory:
    document = directory.to_document()
    document["parties"][party]["keys"] = [k for k in document["parties"][party]["keys"] if k["alg"] != alg]
    return PublicDirectory.from_document(document)


def test_kid_absent_from_the_verifiers_directory(headers: dict[str, Any], directory: PublicDirectory) -> None:
    header, signer, model = headers["delivery"]
    encoded, signature = sign_header(header, signer.signing)
    verify_header(encoded, signature, directory, model)  # known in the full directory
    stale = _without_party_keys(directory, signer.party, "Ed25519")
    with pytest.raises(MessageRefused) as refused:
        verify_header(encoded, signature, stale, model)
    assert refused.value.code == "unknown-key"


def test_extra_field_is_refused(headers: dict[str, Any], directory: PublicDirectory) -> None:
    header, signer, model = headers["submission"]
    document = header.model_dump(mode="json")
    encoded, signature = _sign_document(document, signer.signing)
    verify_header(encoded, signature, directory, model)  # the hand-made path is right
    for extra in ({"extra": "x"}, {"parts": document["parts"] | {"extra": None}}):
        encoded, signature = _sign_document(document | extra, signer.signing)
        with pytest.raises(InvalidEnvelope):
            verify_header(encoded, signature, directory, model)


def test_missing_field_is_refused(headers: dict[str, Any], directory: PublicDirectory) -> None:
    header, signer, model = headers["receipt"]
    document = header.model_dump(mode="json")
    del document["reason"]
    encoded, signature = _sign_document(document, signer.signing)
    with pytest.raises(InvalidEnvelope):
        verify_header(encoded, signature, directory, model)


@pytest.mark.parametrize(
    ("kind", "model"),
    [
        ("submission", DeliveryHeader),
        ("submission", Receipt),
        ("delivery", SubmissionHeader),
        ("receipt", DeliveryHeader),
    ],
)
def test_header_verified_as_another_model(
    kind: str, model: type[BaseModel], headers: dict[str, Any], directory: PublicDirectory
) -> None:
    header, signer, _model = headers[kind]
    encoded, signature = sign_header(header, signer.signing)
    with pytest.raises(InvalidEnvelope):
        verify_header(encoded, signature, directory, model)  # type: ignore[type-var]


@pytest.mark.parametrize("value", ["delivery", "receipt", "Submission", ""])
def test_wrong_kind_in_a_signed_submission(value: str, headers: dict[str, Any], directory: PublicDirectory) -> None:
    header, signer, model = headers["submission"]
    encoded, signature = _sign_document(header.model_dump(mode="json") | {"kind": value}, signer.signing)
    with pytest.raises(InvalidEnvelope):
        verify_header(encoded, signature, directory, model)


@pytest.mark.parametrize(
    ("field", "value"),
    [("format", "iplos-envelope/2"), ("year", "2025"), ("record_count", -1), ("municipality", "301")],
)
def test_signed_but_invalid_field_is_refused(
    field: str, value: object, headers: dict[str, Any], directory: PublicDirectory
) -> None:
    header, signer, model = headers["submission"]
    encoded, signature = _sign_document(header.model_dump(mode="json") | {field: value}, signer.signing)
    with pytest.raises(InvalidEnvelope):
        verify_header(encoded, signature, directory, model)


# --- receipts ---------------------------------------------------------------------------------------------------


def _receipt_body(header: Receipt, key: SigningKey) -> dict[str, Any]:
    encoded, signature = sign_header(header, key)
    # As it travels: JSON text, parsed again by the gateway's HTTP client.
    body: dict[str, Any] = json.loads(
        json.dumps({"receipt": json.loads(encoded), "signature": base64.b64encode(signature).decode()})
    )
    return body


def test_verify_receipt(registry: PartyKeys, directory: PublicDirectory) -> None:
    header = receipt(registry)
    verified = verify_receipt(directory, _receipt_body(header, registry.signing), MESSAGE_ID, SUBMISSION_SHA256)
    assert verified == header


def test_receipt_for_another_submission_under_the_same_id(registry: PartyKeys, directory: PublicDirectory) -> None:
    body = _receipt_body(receipt(registry), registry.signing)
    with pytest.raises(InvalidEnvelope):
        verify_receipt(directory, body, MESSAGE_ID, "f" * 64)


def test_receipt_for_another_message(registry: PartyKeys, directory: PublicDirectory) -> None:
    body = _receipt_body(receipt(registry), registry.signing)
    with pytest.raises(InvalidEnvelope):
        verify_receipt(directory, body, str(uuid.UUID(int=1, version=4)), SUBMISSION_SHA256)


@pytest.mark.parametrize("signer_name", ["tpf", "oslo"])
def test_receipt_signed_by_a_non_registry_party(
    signer_name: str, tpf: TpfKeys, oslo: PartyKeys, directory: PublicDirectory
) -> None:
    signer = tpf.party if signer_name == "tpf" else oslo
    body = _receipt_body(receipt(signer), signer.signing)
    with pytest.raises(MessageRefused) as refused:
        verify_receipt(directory, body, MESSAGE_ID, SUBMISSION_SHA256)
    assert refused.value.code == "signer-not-authorised"


def _refusal_body(signer: PartyKeys, **changes: Any) -> dict[str, Any]:
    """A signed refusal (spec 7.10) as it travels: inside a problem document, parsed from JSON text."""
    fields: dict[str, Any] = {
        "message_id": MESSAGE_ID,
        "sender": signer.party,
        "signer_kid": signer.signing_kid,
        "submission_sha256": SUBMISSION_SHA256,
        "problem": "registry-refused",
        "upstream": "invalid-payload",
        "created_at": CREATED,
    } | changes
    body = carry(Refusal(**fields), "refusal", signer.signing)
    document = {"type": "urn:iplos-chain:problem:registry-refused", "final": True} | body
    parsed: dict[str, Any] = json.loads(json.dumps(document))
    return parsed


def test_a_refusal_verifies_for_its_message_and_submission(tpf: TpfKeys, directory: PublicDirectory) -> None:
    refusal = verify_refusal(directory, _refusal_body(tpf.party), MESSAGE_ID, SUBMISSION_SHA256, "tpf")
    assert (refusal.problem, refusal.upstream) == ("registry-refused", "invalid-payload")


@pytest.mark.parametrize(
    ("message_id", "digest"),
    [
        pytest.param(str(uuid.UUID(int=1, version=4)), SUBMISSION_SHA256, id="another-message"),
        pytest.param(MESSAGE_ID, "f" * 64, id="another-submission"),
    ],
)
def test_a_refusal_of_another_message_or_submission_is_refused(
    tpf: TpfKeys, directory: PublicDirectory, message_id: str, digest: str
) -> None:
    with pytest.raises(InvalidEnvelope):
        verify_refusal(directory, _refusal_body(tpf.party), message_id, digest, "tpf")


@pytest.mark.parametrize("signer_name", ["registry", "oslo"])
def test_a_refusal_signed_by_another_party_than_the_next_hop_is_refused(
    signer_name: str, registry: PartyKeys, oslo: PartyKeys, directory: PublicDirectory
) -> None:
    signer = registry if signer_name == "registry" else oslo
    with pytest.raises(MessageRefused) as refused:
        verify_refusal(directory, _refusal_body(signer), MESSAGE_ID, SUBMISSION_SHA256, "tpf")
    assert refused.value.code == "signer-not-authorised"


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda body: body["refusal"].update(problem="unknown-key"), id="code-changed"),
        pytest.param(lambda body: body["refusal"].update(upstream=None), id="upstream-dropped"),
        pytest.param(lambda body: body.pop("refusal"), id="no-refusal"),
        pytest.param(lambda body: body.update(signature=base64.b64encode(bytes(64)).decode()), id="bad-signature"),
        pytest.param(lambda body: body["refusal"].update(kind="receipt"), id="another-kind"),
    ],
)
def test_a_refusal_altered_on_the_way_is_the_opaque_error(
    tpf: TpfKeys, directory: PublicDirectory, change: Any
) -> None:
    body = _refusal_body(tpf.party)
    change(body)
    with pytest.raises(InvalidEnvelope):
        verify_refusal(directory, body, MESSAGE_ID, SUBMISSION_SHA256, "tpf")


def test_a_receipt_is_not_a_refusal(registry: PartyKeys, directory: PublicDirectory) -> None:
    body = _receipt_body(receipt(registry), registry.signing)
    body["refusal"] = body.pop("receipt")
    with pytest.raises(InvalidEnvelope):
        verify_refusal(directory, body, MESSAGE_ID, SUBMISSION_SHA256, "registry")


def test_receipt_with_a_tampered_field(registry: PartyKeys, directory: PublicDirectory) -> None:
    body = _receipt_body(receipt(registry), registry.signing)
    body["receipt"]["records_stored"] += 1
    with pytest.raises(InvalidEnvelope):
        verify_receipt(directory, body, MESSAGE_ID, SUBMISSION_SHA256)


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param("!!!!", id="not-base64-alphabet"),
        pytest.param("abc", id="bad-padding"),
        pytest.param("YWJj ZA==", id="embedded-space"),
        pytest.param(base64.b64encode(b"\x00" * 63).decode(), id="63-bytes"),
        pytest.param(base64.urlsafe_b64encode(b"\xfb\xff" * 32).decode(), id="urlsafe-alphabet"),
        pytest.param(
            "å",
            id="non-ascii",
        ),
    ],
)
def test_receipt_with_bad_signature_encoding(signature: str, registry: PartyKeys, directory: PublicDirectory) -> None:
    body = _receipt_body(receipt(registry), registry.signing) | {"signature": signature}
    with pytest.raises(InvalidEnvelope) as caught:
        verify_receipt(directory, body, MESSAGE_ID, SUBMISSION_SHA256)
    assert_opaque(caught.value)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({}, id="empty"),
        pytest.param({"receipt": [], "signature": ""}, id="receipt-not-object"),
        pytest.param({"receipt": {}, "signature": 5}, id="signature-not-string"),
    ],
)
def test_receipt_body_of_the_wrong_shape(body: dict[str, Any], directory: PublicDirectory) -> None:
    with pytest.raises(InvalidEnvelope):
        verify_receipt(directory, body, MESSAGE_ID, SUBMISSION_SHA256)


def test_receipt_with_nan(registry: PartyKeys, directory: PublicDirectory) -> None:
    body = _receipt_body(receipt(registry), registry.signing)
    body["receipt"]["year"] = float("nan")
    with pytest.raises(InvalidEnvelope):
        verify_receipt(directory, body, MESSAGE_ID, SUBMISSION_SHA256)


def test_receipt_with_a_float_is_refused(registry: PartyKeys, directory: PublicDirectory) -> None:
    body = _receipt_body(receipt(registry), registry.signing)
    body["receipt"]["year"] = 2025.0
    with pytest.raises(InvalidEnvelope):
        verify_receipt(directory, body, MESSAGE_ID, SUBMISSION_SHA256)
