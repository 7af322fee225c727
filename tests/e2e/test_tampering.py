"""Tampered, misdirected, forged and replayed messages against the real TPF and registry processes.

Every case must be refused with the right problem type, and the registry's state must not change.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from nacl.signing import SigningKey

from iplos_chain import Chain, client
from shared.envelope.receipts import verify_refusal
from shared.keys import PublicDirectory
from shared.keys.registry import load_registry_keys
from tests.e2e.conftest import BODY_LIMIT
from tests.e2e.messages import (
    Delivery,
    Message,
    build_delivery,
    build_message,
    flip,
    keys_of,
    reseal_identity_for,
)
from tests.tls import tls_as

pytestmark = pytest.mark.e2e
MUNICIPALITY = "1103"
PROBLEM = "urn:iplos-chain:problem:"


@pytest.fixture(scope="module")
def export(make_export):  # type: ignore[no-untyped-def]
    return make_export(MUNICIPALITY, 40, seed=11).path


@pytest.fixture
def message(chain: Chain, export: Path, tmp_path: Path) -> Message:
    return build_message(chain.state_dir, export, 10, work=tmp_path)


def _registry_state(chain: Chain) -> list[dict]:  # type: ignore[type-arg]
    url = f"{chain.url('registry')}/v1/submissions?municipality={MUNICIPALITY}"
    return client.get_json(url, chain.operator_token)["submissions"]


def _post_tpf(chain: Chain, message: Message) -> httpx.Response:
    """As the gateway of the municipality the header names (tests/e2e/test_peers.py: any other peer is refused
    before these checks)."""
    peer = tls_as(chain, f"kommune-{message.parsed.municipality}")
    return httpx.post(f"{chain.url('tpf')}/v1/messages", files=message.files(), timeout=60, verify=peer)


def _post_registry(chain: Chain, delivery: Delivery) -> httpx.Response:
    """As the TPF (the only peer the registry takes a delivery from)."""
    peer = tls_as(chain, "tpf")
    return httpx.post(f"{chain.url('registry')}/v1/deliveries", files=delivery.files(), timeout=60, verify=peer)


def _middle(data: bytes) -> int:
    return len(data) // 2


TPF_TAMPERING: dict[str, Callable[[Message], Message]] = {
    "header: one byte flipped": lambda m: replace(m, header=flip(m.header, m.header.index(b'"created_at"') + 16)),
    "header: not canonical (a space added)": lambda m: replace(m, header=m.header.replace(b",", b", ", 1)),
    "signature: one byte flipped": lambda m: replace(m, signature=flip(m.signature, 7)),
    "signature: truncated": lambda m: replace(m, signature=m.signature[:40]),
    "identity part: magic flipped": lambda m: replace(m, identity=flip(m.identity, 0)),
    "identity part: wrapped key flipped": lambda m: replace(m, identity=flip(m.identity, 20)),
    "identity part: body flipped": lambda m: replace(m, identity=flip(m.identity, _middle(m.identity))),
    "identity part: tag flipped": lambda m: replace(m, identity=flip(m.identity, -1)),
    "identity part: truncated": lambda m: replace(m, identity=m.identity[:-17]),
    "payload part: body flipped": lambda m: replace(m, payload=flip(m.payload, _middle(m.payload))),
    "payload part: truncated": lambda m: replace(m, payload=m.payload[:-1]),
    "payload part: swapped with the identity part": lambda m: replace(m, payload=m.identity, identity=m.payload),
}


@pytest.mark.parametrize("case", list(TPF_TAMPERING))
def test_the_tpf_refuses_a_tampered_message(chain: Chain, message: Message, case: str) -> None:
    before = _registry_state(chain)
    response = _post_tpf(chain, TPF_TAMPERING[case](message))
    assert response.status_code == 400, response.text
    assert response.json()["type"] == PROBLEM + "invalid-envelope"
    assert response.headers["content-type"].startswith("application/problem+json")
    # What tampering on the path provokes is never signed, so it cannot end the intact message (issue 17).
    assert "refusal" not in response.json()
    assert _registry_state(chain) == before


def test_the_tpf_refuses_a_signature_by_an_unregistered_key(chain: Chain, export: Path, tmp_path: Path) -> None:
    before = _registry_state(chain)
    forged = build_message(
        chain.state_dir, export, 10, work=tmp_path, signing_key=SigningKey.generate()
    )  # claims a registered key id
    assert _post_tpf(chain, forged).json()["type"] == PROBLEM + "invalid-envelope"
    unknown = build_message(chain.state_dir, export, 10, work=tmp_path, header_changes={"signer_kid": "0" * 16})
    response = _post_tpf(chain, unknown)
    assert (response.status_code, response.json()["type"]) == (403, PROBLEM + "unknown-key")
    assert _registry_state(chain) == before


def test_the_tpf_refuses_a_municipality_that_does_not_match_its_signature(
    chain: Chain, export: Path, tmp_path: Path
) -> None:
    before = _registry_state(chain)
    other = keys_of(chain.state_dir, "0301")  # a registered municipality signing for another one
    response = _post_tpf(chain, build_message(chain.state_dir, export, 10, work=tmp_path, signer=other))
    assert (response.status_code, response.json()["type"]) == (403, PROBLEM + "municipality-mismatch")
    registry = load_registry_keys(chain.state_dir / "keys" / "registry")
    response = _post_tpf(chain, build_message(chain.state_dir, export, 10, work=tmp_path, signer=registry))
    assert (response.status_code, response.json()["type"]) == (403, PROBLEM + "signer-not-authorised")
    assert _registry_state(chain) == before


def test_the_tpf_refuses_a_message_whose_identity_part_names_another_recipient(
    chain: Chain, message: Message, export: Path, tmp_path: Path
) -> None:
    before = _registry_state(chain)
    parts = message.parsed.parts.model_dump(mode="json")
    parts["identity"]["recipient"] = "registry"
    misdirected = build_message(chain.state_dir, export, 10, work=tmp_path, header_changes={"parts": parts})
    response = _post_tpf(chain, misdirected)
    assert (response.status_code, response.json()["type"]) == (422, PROBLEM + "wrong-recipient")
    # Final for the message: it carries the TPF's signed refusal, which the gateway verifies before it ends the
    # submission (docs/envelope-v1.md 10.8).
    directory = PublicDirectory.load(chain.state_dir / "keys" / "directory.json")
    digest = hashlib.sha256(misdirected.header).hexdigest()
    refusal = verify_refusal(directory, response.json(), misdirected.parsed.message_id, digest, "tpf")
    assert (refusal.problem, refusal.upstream) == ("wrong-recipient", None)
    assert _registry_state(chain) == before


def test_a_replayed_message_is_answered_with_the_original_receipt_and_stored_once(
    chain: Chain, export: Path, tmp_path: Path
) -> None:
    message = build_message(chain.state_dir, export, 20, work=tmp_path)
    first = _post_tpf(chain, message)
    assert first.status_code == 200, first.text
    assert first.json()["receipt"]["status"] == "stored"
    state = _registry_state(chain)
    again = _post_tpf(chain, message)
    assert (again.status_code, again.json()["type"]) == (409, PROBLEM + "replayed-message")
    assert again.json()["receipt"] == first.json()["receipt"]
    assert again.json()["signature"] == first.json()["signature"]
    assert _registry_state(chain) == state
    # The registry recognises the message id too, when the same delivery reaches it again.
    delivery = build_delivery(chain.state_dir, message)
    direct = _post_registry(chain, delivery)
    assert (direct.status_code, direct.json()["type"]) == (409, PROBLEM + "replayed-message")
    assert direct.json()["receipt"]["message_id"] == message.parsed.message_id
    assert _registry_state(chain) == state


REGISTRY_TAMPERING: dict[str, Callable[[Delivery], Delivery]] = {
    "delivery header: one byte flipped": lambda d: replace(
        d, header=flip(d.header, d.header.index(b'"created_at"') + 16)
    ),
    "delivery signature: one byte flipped": lambda d: replace(d, signature=flip(d.signature, 3)),
    "submission header: one byte flipped": lambda d: replace(
        d, submission_header=flip(d.submission_header, d.submission_header.index(b'"created_at"') + 16)
    ),
    "submission signature: one byte flipped": lambda d: replace(
        d, submission_signature=flip(d.submission_signature, 3)
    ),
    "pseudonym part: body flipped": lambda d: replace(d, pseudonyms=flip(d.pseudonyms, _middle(d.pseudonyms))),
    "pseudonym part: truncated": lambda d: replace(d, pseudonyms=d.pseudonyms[:-16]),
    "payload part: tag flipped": lambda d: replace(d, payload=flip(d.payload, -1)),
    "payload part: replaced by the pseudonym part": lambda d: replace(d, payload=d.pseudonyms),
}


@pytest.mark.parametrize("case", list(REGISTRY_TAMPERING))
def test_the_registry_refuses_a_tampered_delivery(chain: Chain, export: Path, tmp_path: Path, case: str) -> None:
    before = _registry_state(chain)
    delivery = build_delivery(chain.state_dir, build_message(chain.state_dir, export, 30, work=tmp_path))
    response = _post_registry(chain, REGISTRY_TAMPERING[case](delivery))
    assert response.status_code == 400, response.text
    assert response.json()["type"] == PROBLEM + "invalid-envelope"
    assert _registry_state(chain) == before


def test_the_registry_refuses_a_delivery_not_signed_by_the_tpf(chain: Chain, export: Path, tmp_path: Path) -> None:
    before = _registry_state(chain)
    message = build_message(chain.state_dir, export, 31, work=tmp_path)
    forged = build_delivery(chain.state_dir, message, tpf_signing=SigningKey.generate())
    response = _post_registry(chain, forged)
    assert (response.status_code, response.json()["type"]) == (400, PROBLEM + "invalid-envelope")
    assert _registry_state(chain) == before


def test_a_stale_sequence_arriving_after_a_newer_one_is_refused(chain: Chain, export: Path, tmp_path: Path) -> None:
    newer = build_message(chain.state_dir, export, 41, work=tmp_path)
    older = build_message(chain.state_dir, export, 40, work=tmp_path)
    assert _post_tpf(chain, newer).json()["receipt"]["status"] == "stored"
    late = _post_tpf(chain, older)
    assert late.status_code == 200
    receipt = late.json()["receipt"]
    assert (receipt["status"], receipt["reason"], receipt["records_stored"]) == ("refused", "stale-sequence", 0)
    rows = {r["submission_id"]: r for r in _registry_state(chain)}
    assert rows[newer.parsed.message_id]["status"] == "active"
    assert rows[older.parsed.message_id]["status"] == "refused"
    assert rows[older.parsed.message_id]["records"] == 0
    # The same through the registry directly: the delivery's answer is 409 with a signed 'refused' receipt.
    oldest = build_delivery(chain.state_dir, build_message(chain.state_dir, export, 39, work=tmp_path))
    response = _post_registry(chain, oldest)
    assert (response.status_code, response.json()["type"]) == (409, PROBLEM + "stale-sequence")
    assert response.json()["receipt"]["status"] == "refused"
    # Of this year: other tests on the session's chain store 1103's other years (a probe for 2026, say).
    active = [r for r in _registry_state(chain) if r["status"] == "active" and r["year"] == newer.parsed.year]
    assert [r["submission_id"] for r in active] == [newer.parsed.message_id]


def test_the_tpf_cannot_open_an_identity_part_sealed_for_another_key(
    chain: Chain, export: Path, tmp_path: Path
) -> None:
    """The header names the TPF, but the part was sealed for the registry's key: opening fails, opaquely."""
    before = _registry_state(chain)
    honest = build_message(chain.state_dir, export, 12, work=tmp_path)
    resealed = reseal_identity_for(chain.state_dir, honest, "registry")
    response = _post_tpf(chain, resealed)
    assert (response.status_code, response.json()["type"]) == (400, PROBLEM + "invalid-envelope")
    assert _registry_state(chain) == before


def test_the_registry_refuses_a_delivery_signed_by_a_municipality(chain: Chain, export: Path, tmp_path: Path) -> None:
    before = _registry_state(chain)
    message = build_message(chain.state_dir, export, 32, work=tmp_path)
    forged = build_delivery(chain.state_dir, message, signer=keys_of(chain.state_dir, MUNICIPALITY))
    response = _post_registry(chain, forged)
    assert (response.status_code, response.json()["type"]) == (403, PROBLEM + "signer-not-authorised")
    assert _registry_state(chain) == before


def test_a_record_reference_that_is_not_random_hex_is_refused(chain: Chain, export: Path, tmp_path: Path) -> None:
    """A free-text reference could carry an identity number into the registry: the TPF refuses it."""
    before = _registry_state(chain)
    honest = build_message(chain.state_dir, export, 13, work=tmp_path)
    message = reseal_identity_for(chain.state_dir, honest, "tpf", ref_maker=lambda i: f"ref-{i:028d}")
    response = _post_tpf(chain, message)
    assert (response.status_code, response.json()["type"]) == (400, PROBLEM + "invalid-envelope")
    assert _registry_state(chain) == before


def test_a_chunked_body_over_the_limit_is_refused_without_reading_it_whole(chain: Chain) -> None:
    sent = 0

    def chunks():  # type: ignore[no-untyped-def]
        nonlocal sent
        # A well-formed multipart start, so the parser keeps reading until the limit stops it.
        yield (
            b'--b\r\nContent-Disposition: form-data; name="payload"; filename="p"\r\n'
            b"Content-Type: application/octet-stream\r\n\r\n"
        )
        for _ in range(BODY_LIMIT // 65536 + 64):
            sent += 65536
            yield b"x" * 65536

    for service, path, peer in (
        ("tpf", "/v1/messages", f"kommune-{MUNICIPALITY}"),
        ("registry", "/v1/deliveries", "tpf"),
    ):
        response = httpx.post(
            f"{chain.url(service)}{path}",
            content=chunks(),
            headers={"Content-Type": "multipart/form-data; boundary=b"},
            timeout=60,
            verify=tls_as(chain, peer),  # the peer each takes a body from (anyone else: refused before it)
        )
        assert (response.status_code, response.json()["type"]) == (413, PROBLEM + "body-too-large")
    declared = httpx.post(
        f"{chain.url('gateway')}/v1/submissions",
        content=b"x" * (BODY_LIMIT + 1),
        headers={"Content-Type": "application/xml", "Authorization": f"Bearer {chain.operator_token}"},
        timeout=60,
    )
    assert (declared.status_code, declared.json()["type"]) == (413, PROBLEM + "body-too-large")


def test_the_registrys_submission_list_needs_an_operator_credential(chain: Chain) -> None:
    url = f"{chain.url('registry')}/v1/submissions"
    for headers in ({}, {"Authorization": "Bearer iplos_not-a-known-token"}, {"Authorization": "Basic x"}):
        for path in ("", "/00000000-0000-4000-8000-000000000000"):
            response = httpx.get(url + path, headers=headers)
            assert (response.status_code, response.json()["type"]) == (401, PROBLEM + "unauthenticated")
            assert "submissions" not in response.json()
    allowed = httpx.get(url, headers={"Authorization": f"Bearer {chain.operator_token}"})
    assert allowed.status_code == 200
    assert isinstance(allowed.json()["submissions"], list)
