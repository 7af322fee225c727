"""Audit entries, signed checkpoints and the auditor's checks (shared/audit/entries.py, verify.py)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey

from shared.audit import (
    ALLOWED_FACTS,
    CHECKPOINT_LABEL,
    EMPTY_ROOT,
    AuditEntry,
    Checkpoint,
    InvalidAuditData,
    MerkleTree,
    SignedCheckpoint,
    check_fact,
    encode_checkpoint,
    encode_entry,
    entry_leaf_hash,
    leaf_hash,
    new_checkpoint,
    parse_checkpoint,
    parse_entry,
    sanitise_facts,
    sign_checkpoint,
    verify_checkpoint,
    verify_checkpoint_document,
    verify_consistency_document,
    verify_entries,
    verify_inclusion_document,
)
from shared.envelope._canonical import canonical_json
from shared.envelope.headers import SIGN_LABEL
from shared.keys import PartyKeys, PublicDirectory
from shared.keys.tpf import TpfKeys

MESSAGE_ID = "6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b"
OTHER_MESSAGE_ID = "0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d"
AT = "2025-03-01T12:30:00Z"
DIGEST = "ab" * 32
IDENTITY_NUMBER = "01010112345"  # shape only (not a valid number): what must never reach an auditor


def entry(index: int = 0, **facts: Any) -> AuditEntry:
    return AuditEntry("tpf", index, "forwarded", MESSAGE_ID, AT, facts)


GOOD_FACTS: dict[str, Any] = {
    "municipality": "0301",
    "sender": "folkeregister",
    "year": 2025,
    "sequence": 1_740_000_000_123,  # a gateway sequence: acceptance time in milliseconds, 13 digits
    "records": 350_000,
    "pseudonymised": 349_990,
    "refused": 10,
    "stored": 0,
    "identity_sha256": DIGEST,
    "payload_sha256": DIGEST,
    "pseudonyms_sha256": DIGEST,
    "submission_sha256": DIGEST,
    "delivery_sha256": DIGEST,
    "report_sha256": DIGEST,
    "confirmation_sha256": DIGEST,
    "key_version": 1,
    "outcome": "stored",
    "problem": "urn:iplos-chain:problem:invalid-envelope",
    "superseded_by": OTHER_MESSAGE_ID,
    "supersedes": None,
    "receipt_status": "refused",
    "unit_kind": "underenhet",
    "as_of": "2026-12-01",
    "file_sha256": DIGEST,
    "units": 1_100_000,
    "gone": 1_250,
    "caller": "dev-operator",
    "findings_changed": 12,
    "floor": 1_796_000_000_000,  # a lifted sequence block's new floor: milliseconds, 13 digits
    "reason": "INC-2026-0042",
}


# --- entries ------------------------------------------------------------------------------------------------------


def test_every_allowed_fact_with_a_typical_value_is_accepted() -> None:
    assert set(GOOD_FACTS) == ALLOWED_FACTS
    made = entry(7, **GOOD_FACTS)
    assert dict(made.facts) == GOOD_FACTS


def test_the_leaf_data_is_the_canonical_json_of_the_entry() -> None:
    made = AuditEntry("registry", 3, "stored", MESSAGE_ID, AT, {"records": 2, "outcome": "stored", "year": 2025})
    expected = (
        b'{"at":"2025-03-01T12:30:00Z","event":"stored","facts":{"outcome":"stored","records":2,"year":2025},'
        b'"format":"iplos-audit-entry/1","index":3,"message_id":"6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b",'
        b'"service":"registry"}'
    )
    assert encode_entry(made) == expected
    assert entry_leaf_hash(made) == leaf_hash(expected)
    assert parse_entry(expected) == made


@pytest.mark.parametrize("key", ["fnr", "name", "pseudonym", "note", "Municipality", IDENTITY_NUMBER, ""])
def test_a_fact_key_outside_the_allow_list_is_refused_without_being_named(key: str) -> None:
    with pytest.raises(InvalidAuditData) as caught:
        entry(**{key: "x"})
    assert caught.value.code == "forbidden-fact"
    assert IDENTITY_NUMBER not in str(caught.value)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("outcome", IDENTITY_NUMBER),
        ("problem", "41010112345"),  # a D-number's shape
        ("outcome", "010101-12345"),  # as people write it
        ("outcome", "010101.12345"),
        ("receipt_status", "01010112345"),
        ("sequence", 31_129_912_345),  # 11 digits as a number
        ("sequence", 1_010_112_345),  # ... and with its leading zero lost
        ("records", 10**9),
        ("records", -(10**10)),
    ],
)
def test_a_value_shaped_like_an_identity_number_is_refused_without_being_echoed(key: str, value: object) -> None:
    with pytest.raises(InvalidAuditData) as caught:
        entry(**{key: value})
    assert caught.value.code == "identity-like"
    assert str(value) not in str(caught.value)
    assert str(value).replace("-", "") not in repr(caught.value)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("outcome", "two words"),  # free text is not a token
        ("outcome", "Bærum"),
        ("outcome", "x" * 101),
        ("outcome", "line\nbreak"),
        ("outcome", "a+b=="),  # base64 alphabet: a base64 pseudonym cannot pass as a token
        ("outcome", 3),  # tokens are strings
        ("records", "350"),  # counts are integers
        ("records", -1),
        ("records", 2**53),
        ("records", True),
        ("year", 20.25),
        ("municipality", "301"),
        ("municipality", 301),
        ("identity_sha256", "AB" * 32),
        ("identity_sha256", "ab" * 31),
        ("supersedes", "not-a-uuid"),
        ("outcome", ["stored"]),
        ("outcome", {"a": 1}),
    ],
)
def test_a_value_of_the_wrong_shape_is_refused(key: str, value: object) -> None:
    with pytest.raises(InvalidAuditData) as caught:
        entry(**{key: value})
    assert caught.value.code == "malformed"


def test_tokens_that_merely_contain_digits_are_fine() -> None:
    # Short numbers and digests are everyday facts: only the whole-value identity shape is refused.
    check_fact("outcome", "0301")
    check_fact("outcome", "0123456789")  # 10 digits as text: no identity number has that shape
    check_fact("outcome", "123456789012")  # 12 digits
    check_fact("identity_sha256", "0" * 64)
    check_fact("sequence", 999_999_999)
    check_fact("sequence", 100_000_000_000)


@pytest.mark.parametrize(
    "change",
    [
        {"service": "auditor"},
        {"index": -1},
        {"index": True},
        {"index": 2**53},
        {"event": "Stored"},
        {"event": "stored 01010112345"},
        {"event": "stored2"},
        {"message_id": IDENTITY_NUMBER},
        {"message_id": MESSAGE_ID.upper()},
        {"at": "2025-03-01 12:30:00"},
        {"at": "2025-02-30T12:30:00Z"},
        {"at": "2025-03-01T12:30:00+01:00"},
        {"facts": [("outcome", "x")]},
    ],
)
def test_entry_fields_are_validated(change: dict[str, Any]) -> None:
    fields = {"service": "tpf", "index": 0, "event": "forwarded", "message_id": MESSAGE_ID, "at": AT, "facts": {}}
    with pytest.raises(InvalidAuditData):
        AuditEntry(**{**fields, **change})


def test_an_entry_does_not_change_when_the_callers_dict_does() -> None:
    facts: dict[str, Any] = {"records": 1}
    made = AuditEntry("gateway", 0, "sealed", "unknown", AT, facts)
    before = encode_entry(made)
    facts["records"] = 2
    facts["fnr"] = IDENTITY_NUMBER
    assert encode_entry(made) == before
    with pytest.raises(TypeError):
        made.facts["records"] = 3  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.index = 1  # type: ignore[misc]


def test_sanitise_facts_keeps_good_values_and_nulls_the_rest() -> None:
    clean = sanitise_facts({"sequence": 31_129_912_345, "year": 2025, "outcome": "two words", "fnr": "x"})
    assert clean == {"sequence": None, "year": 2025, "outcome": None}
    entry(**clean)  # and what is left is accepted


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"[]", id="array"),
        pytest.param(b'{"a":1}', id="other-object"),
        pytest.param(
            canonical_json({**entry().document(), "format": "iplos-audit-entry/2"}),
            id="other-format",
        ),
        pytest.param(canonical_json({**entry().document(), "extra": 1}), id="extra-key"),
        pytest.param(
            json.dumps(entry().document(), sort_keys=True, separators=(", ", ": ")).encode(),
            id="non-canonical-spelling",
        ),
        pytest.param(encode_entry(entry()).replace(b'"index":0', b'"index":0.0'), id="float-index"),
        pytest.param(encode_entry(entry()).replace(b'"facts":{}', b'"facts":null'), id="null-facts"),
        pytest.param(encode_entry(entry(records=1)).replace(b'"records"', b'"fnr"'), id="forbidden-key"),
        pytest.param(encode_entry(entry(outcome="x")).replace(b'"x"', b'"01010112345"'), id="identity-value"),
    ],
)
def test_parse_entry_refuses_anything_but_one_canonical_entry(data: bytes) -> None:
    with pytest.raises(InvalidAuditData):
        parse_entry(data)


@settings(max_examples=200, deadline=None)
@given(
    st.binary(max_size=300)
    | st.builds(lambda e, cut: e[:cut], st.just(encode_entry(entry(records=5))), st.integers(0, 200))
)
def test_parse_entry_raises_only_invalid_audit_data(data: bytes) -> None:
    try:
        parsed = parse_entry(data)
    except InvalidAuditData:
        return
    assert encode_entry(parsed) == data  # whatever parses is the one canonical spelling of an entry


# --- checkpoints --------------------------------------------------------------------------------------------------


@pytest.fixture
def tpf_checkpoint(tpf: TpfKeys) -> SignedCheckpoint:
    tree = MerkleTree.from_leaves([entry_leaf_hash(entry(i)) for i in range(5)])
    return new_checkpoint("tpf", tree.size, tree.root(), tpf.party.signing, AT)


def test_a_checkpoint_verifies_against_the_directory(
    tpf_checkpoint: SignedCheckpoint, tpf: TpfKeys, directory: PublicDirectory
) -> None:
    checkpoint, party = verify_checkpoint(tpf_checkpoint.body, tpf_checkpoint.signature, directory, log="tpf")
    assert checkpoint == tpf_checkpoint.checkpoint
    assert (party.name, party.role) == ("tpf", "tpf")
    assert checkpoint.signer_kid == tpf.party.signing_kid
    assert checkpoint.tree_size == 5
    assert parse_checkpoint(tpf_checkpoint.body) == checkpoint
    assert encode_checkpoint(checkpoint) == tpf_checkpoint.body
    wire = tpf_checkpoint.document()
    assert verify_checkpoint_document(json.loads(json.dumps(wire)), directory, log="tpf") == tpf_checkpoint


_ALTERED = [
    ("log", "registry"),
    ("tree_size", 6),
    ("tree_size", 4),
    ("root_hash", EMPTY_ROOT.hex()),
    ("created_at", "2025-03-01T12:30:01Z"),
    ("format", "iplos-audit-checkpoint/2"),
]


@pytest.mark.parametrize(("field", "value"), _ALTERED)
def test_a_checkpoint_with_any_altered_field_fails(
    tpf_checkpoint: SignedCheckpoint, directory: PublicDirectory, field: str, value: object
) -> None:
    document = json.loads(tpf_checkpoint.body)
    document[field] = value
    with pytest.raises(InvalidAuditData) as caught:
        verify_checkpoint(canonical_json(document), tpf_checkpoint.signature, directory)
    assert caught.value.code in {"bad-signature", "malformed"}


def test_a_checkpoint_whose_signer_kid_is_altered_fails(
    tpf_checkpoint: SignedCheckpoint, registry: PartyKeys, directory: PublicDirectory
) -> None:
    document = json.loads(tpf_checkpoint.body)
    document["signer_kid"] = registry.signing_kid
    with pytest.raises(InvalidAuditData) as caught:
        verify_checkpoint(canonical_json(document), tpf_checkpoint.signature, directory)
    assert caught.value.code == "bad-signature"
    document["signer_kid"] = registry.encryption_kid  # a key id, but not of a signing key
    with pytest.raises(InvalidAuditData) as caught:
        verify_checkpoint(canonical_json(document), tpf_checkpoint.signature, directory)
    assert caught.value.code == "unknown-key"
    document["signer_kid"] = "0" * 16
    with pytest.raises(InvalidAuditData) as caught:
        verify_checkpoint(canonical_json(document), tpf_checkpoint.signature, directory)
    assert caught.value.code == "unknown-key"


@pytest.mark.parametrize("position", [0, 31, 63])
def test_a_checkpoint_with_an_altered_signature_fails(
    tpf_checkpoint: SignedCheckpoint, directory: PublicDirectory, position: int
) -> None:
    signature = bytearray(tpf_checkpoint.signature)
    signature[position] ^= 0x40
    for bad in (bytes(signature), tpf_checkpoint.signature[:63], tpf_checkpoint.signature + b"\x00", b""):
        with pytest.raises(InvalidAuditData) as caught:
            verify_checkpoint(tpf_checkpoint.body, bad, directory)
        assert caught.value.code == "bad-signature"


def test_a_party_cannot_sign_another_partys_log(
    registry: PartyKeys, tpf_checkpoint: SignedCheckpoint, directory: PublicDirectory
) -> None:
    forged = new_checkpoint("tpf", 5, tpf_checkpoint.checkpoint.root, registry.signing, AT)
    with pytest.raises(InvalidAuditData) as caught:
        verify_checkpoint(forged.body, forged.signature, directory)
    assert caught.value.code == "log-mismatch"
    # The registry's own log verifies, but not where the auditor expects the TPF's.
    own = new_checkpoint("registry", 5, tpf_checkpoint.checkpoint.root, registry.signing, AT)
    verify_checkpoint(own.body, own.signature, directory)
    with pytest.raises(InvalidAuditData) as caught:
        verify_checkpoint(own.body, own.signature, directory, log="tpf")
    assert caught.value.code == "log-mismatch"


def test_checkpoint_and_header_signatures_are_not_interchangeable(
    tpf: TpfKeys, tpf_checkpoint: SignedCheckpoint, directory: PublicDirectory
) -> None:
    assert CHECKPOINT_LABEL != SIGN_LABEL
    as_header = tpf.party.signing.sign(SIGN_LABEL + tpf_checkpoint.body).signature
    with pytest.raises(InvalidAuditData) as caught:
        verify_checkpoint(tpf_checkpoint.body, as_header, directory)
    assert caught.value.code == "bad-signature"


def test_an_unknown_signing_key_is_refused(directory: PublicDirectory) -> None:
    stranger = new_checkpoint("tpf", 0, EMPTY_ROOT, SigningKey.generate(), AT)
    with pytest.raises(InvalidAuditData) as caught:
        verify_checkpoint(stranger.body, stranger.signature, directory)
    assert caught.value.code == "unknown-key"


def test_signing_refuses_a_checkpoint_naming_another_key(tpf: TpfKeys, registry: PartyKeys) -> None:
    checkpoint = Checkpoint("tpf", 0, EMPTY_ROOT.hex(), AT, registry.signing_kid)
    with pytest.raises(ValueError, match="signer_kid"):
        sign_checkpoint(checkpoint, tpf.party.signing)


@pytest.mark.parametrize(
    "document",
    [
        None,
        [],
        {"body": 1, "signature": ""},
        {"body": "{}"},
        {"body": "{}", "signature": "not base64!"},
        {"body": "æ", "signature": ""},
        {"body": "{}", "signature": ""},
    ],
)
def test_a_malformed_wire_checkpoint_raises_invalid_audit_data(document: object, directory: PublicDirectory) -> None:
    with pytest.raises(InvalidAuditData) as caught:
        verify_checkpoint_document(document, directory)
    assert caught.value.code == "malformed"


@pytest.mark.parametrize(
    "change",
    [{"log": "TPF"}, {"tree_size": -1}, {"root_hash": "ab"}, {"created_at": "yesterday"}, {"signer_kid": "x"}],
)
def test_checkpoint_fields_are_validated(change: dict[str, Any]) -> None:
    fields = {"log": "tpf", "tree_size": 0, "root_hash": EMPTY_ROOT.hex(), "created_at": AT, "signer_kid": "0" * 16}
    with pytest.raises(InvalidAuditData):
        Checkpoint(**{**fields, **change})


# --- the auditor's checks -----------------------------------------------------------------------------------------


def _log(n: int) -> tuple[list[str], MerkleTree]:
    texts = [encode_entry(entry(i, records=i)).decode() for i in range(n)]
    return texts, MerkleTree.from_leaves([leaf_hash(t.encode()) for t in texts])


def _checkpoint(tree: MerkleTree, size: int, tpf: TpfKeys) -> Checkpoint:
    return new_checkpoint("tpf", size, tree.root(size), tpf.party.signing, AT).checkpoint


def test_the_auditor_checks_an_inclusion_answer(tpf: TpfKeys) -> None:
    texts, tree = _log(11)
    checkpoint = _checkpoint(tree, 11, tpf)
    answer = {
        "index": 6,
        "tree_size": 11,
        "entry": texts[6],
        "leaf_hash": tree.leaf(6).hex(),
        "proof": [p.hex() for p in tree.inclusion_proof(6, 11)],
    }
    assert verify_inclusion_document(answer, checkpoint).facts["records"] == 6

    tampered_entry = texts[6].replace('"records":6', '"records":7')
    for bad, code in [
        ({**answer, "entry": tampered_entry}, "proof-failed"),
        ({**answer, "entry": tampered_entry, "leaf_hash": leaf_hash(tampered_entry.encode()).hex()}, "proof-failed"),
        ({**answer, "entry": texts[5]}, "proof-failed"),
        ({**answer, "index": 5}, "proof-failed"),
        ({**answer, "tree_size": 10}, "malformed"),
        ({**answer, "proof": answer["proof"][:-1]}, "proof-failed"),
        ({**answer, "proof": [*answer["proof"], "00" * 32]}, "proof-failed"),
        ({**answer, "proof": ["zz" * 32]}, "malformed"),
        ({**answer, "proof": "00" * 32}, "malformed"),
        ({**answer, "entry": None}, "malformed"),
        ({**answer, "index": "6"}, "malformed"),
        ([], "malformed"),
    ]:
        with pytest.raises(InvalidAuditData) as caught:
            verify_inclusion_document(bad, checkpoint)
        assert caught.value.code == code, bad


def test_the_auditor_checks_a_consistency_answer(tpf: TpfKeys) -> None:
    texts, tree = _log(13)
    old, new = _checkpoint(tree, 6, tpf), _checkpoint(tree, 13, tpf)
    answer = {"first": 6, "second": 13, "proof": [p.hex() for p in tree.consistency_proof(6, 13)]}
    verify_consistency_document(answer, old, new)

    # A rewritten history: the same old size, but entry 2 changed before the log grew.
    forked_texts = [*texts[:2], encode_entry(entry(2, records=99)).decode(), *texts[3:]]
    forked = MerkleTree.from_leaves([leaf_hash(t.encode()) for t in forked_texts])
    forked_new = _checkpoint(forked, 13, tpf)
    forked_answer = {"first": 6, "second": 13, "proof": [p.hex() for p in forked.consistency_proof(6, 13)]}
    for bad, first, second, code in [
        (answer, old, forked_new, "proof-failed"),
        (forked_answer, old, forked_new, "proof-failed"),
        ({**answer, "proof": []}, old, new, "proof-failed"),
        ({**answer, "first": 5}, old, new, "malformed"),
        (answer, new, old, "malformed"),
        ({**answer, "proof": None}, old, new, "malformed"),
    ]:
        with pytest.raises(InvalidAuditData) as caught:
            verify_consistency_document(bad, first, second)
        assert caught.value.code == code


def test_the_auditor_replays_a_whole_log(tpf: TpfKeys) -> None:
    texts, tree = _log(9)
    checkpoint = _checkpoint(tree, 9, tpf)
    assert [e.index for e in verify_entries(texts, checkpoint)] == list(range(9))
    for bad in (
        texts[:-1],  # one missing at the end
        [*texts[:3], *texts[4:]],  # one missing in the middle
        [texts[1], texts[0], *texts[2:]],  # reordered
        [*texts[:4], texts[4].replace('"records":4', '"records":40'), *texts[5:]],  # one changed
        [*texts, encode_entry(entry(9)).decode()],  # one more than signed
    ):
        with pytest.raises(InvalidAuditData) as caught:
            verify_entries(bad, checkpoint)
        assert caught.value.code == "proof-failed"
