"""Hypothesis over the envelope parser: arbitrary and mutated bytes never raise anything but the library's two
refusals (``InvalidEnvelope``, ``MessageRefused``). Bounded: a few hundred examples in all, no database."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keys.generate import DIRECTORY_FILE, MUNICIPALITIES_FOLDER
from shared.envelope import DeliveryHeader, SubmissionHeader
from shared.envelope._canonical import canonical_json
from shared.envelope._part import CHUNK_SIZE, PartContext, PartWriter, open_part
from shared.envelope._sealing import PartSealer
from shared.envelope.headers import SIGN_LABEL, PartRef, verify_header
from shared.envelope.identity import IdentitySealer, open_identities
from shared.errors import InvalidEnvelope, MessageRefused
from shared.keys import PartyKeys, PublicDirectory
from shared.keys.municipality import load_municipality_keys
from shared.keys.tpf import TpfKeys, load_tpf_keys
from tests.badinput.conftest import MUNICIPALITY

REFUSALS = (InvalidEnvelope, MessageRefused)
MESSAGE_ID = "3f1c2b9e-8d4a-4c6b-9f0e-1a2b3c4d5e6f"
FUZZ = settings(
    max_examples=400,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def directory(chain_state: Path) -> PublicDirectory:
    return PublicDirectory.load(chain_state / "keys" / DIRECTORY_FILE)


@pytest.fixture(scope="module")
def tpf(chain_state: Path) -> TpfKeys:
    return load_tpf_keys(chain_state / "keys" / "tpf")


@pytest.fixture(scope="module")
def municipality(chain_state: Path) -> PartyKeys:
    return load_municipality_keys(
        chain_state / "keys" / MUNICIPALITIES_FOLDER / f"kommune-{MUNICIPALITY}", MUNICIPALITY
    )


def _context(tpf: TpfKeys, sender: str) -> PartContext:
    return PartContext("identity", sender, tpf.party.party, tpf.party.encryption_kid, MESSAGE_ID)


@st.composite
def mutations(draw: st.DrawFn, original: bytes) -> bytes:
    """The original bytes with a few flips, truncations, insertions or deletions."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "duplicate"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif op == "truncate":
            del data[at:]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=32))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 64))]
        elif op == "duplicate":
            data[at:at] = data[at : at + draw(st.integers(1, 64))]
    return bytes(data)


def _drain(iterator: Any) -> None:
    for _ in iterator:
        pass


# --- open_part ---------------------------------------------------------------------------------------------


def _sealed(tpf: TpfKeys, sender: str, plaintext: bytes) -> bytes:
    out = io.BytesIO()
    writer = PartWriter(out, tpf.party.encryption.public_key(), _context(tpf, sender))
    writer.write(plaintext)
    writer.close()
    return out.getvalue()


@FUZZ
@given(data=st.data())
def test_open_part_refuses_arbitrary_and_mutated_bytes(
    data: st.DataObject, tpf: TpfKeys, municipality: PartyKeys
) -> None:
    plaintext = data.draw(st.sampled_from([b"", b"x" * 100, b"y" * (CHUNK_SIZE + 7)]))
    valid = _sealed(tpf, municipality.party, plaintext)
    source = data.draw(st.one_of(st.binary(max_size=200), mutations(valid)))
    try:
        opened = b"".join(open_part(io.BytesIO(source), tpf.party.encryption, _context(tpf, municipality.party)))
    except REFUSALS:
        return
    # Anything that opens is the original: no mutation gets through authentication.
    assert (source, opened) == (valid, plaintext)


# --- verify_header -----------------------------------------------------------------------------------------

JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.text(max_size=40))
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=12,
)


def _valid_submission(municipality: PartyKeys, tpf: TpfKeys, directory: PublicDirectory) -> dict[str, Any]:
    part = {"recipient": "tpf", "recipient_kid": tpf.party.encryption_kid, "content": "iplos-identities/1"}
    registry_kid, _ = directory.encryption_key("registry")
    return {
        "format": "iplos-envelope/1",
        "kind": "submission",
        "message_id": MESSAGE_ID,
        "sender": municipality.party,
        "signer_kid": municipality.signing_kid,
        "municipality": MUNICIPALITY,
        "year": 2025,
        "sequence": 1,
        "created_at": "2026-01-01T00:00:00Z",
        "record_count": 3,
        "parts": {
            "identity": part | {"size": 10, "sha256": "a" * 64},
            "payload": {
                "recipient": "registry",
                "recipient_kid": registry_kid,
                "content": "iplos-payload/1",
                "size": 10,
                "sha256": "b" * 64,
            },
        },
    }


@st.composite
def changed_documents(draw: st.DrawFn, document: dict[str, Any]) -> dict[str, Any]:
    """The document with some top-level or part fields replaced by arbitrary JSON, or removed."""
    result = {k: (dict(v) if isinstance(v, dict) else v) for k, v in document.items()}
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from([*result, "extra"]))
        if draw(st.booleans()):
            result.pop(key, None)
        else:
            result[key] = draw(JSON_VALUES)
    return result


@FUZZ
@given(data=st.data())
def test_verify_header_refuses_arbitrary_and_mutated_headers(
    data: st.DataObject, municipality: PartyKeys, tpf: TpfKeys, directory: PublicDirectory
) -> None:
    document = _valid_submission(municipality, tpf, directory)
    encoded = canonical_json(document)
    signature = municipality.signing.sign(SIGN_LABEL + encoded).signature
    kind = data.draw(st.sampled_from(["raw", "mutated", "signed-document", "signature"]))
    if kind == "raw":
        encoded, signature = data.draw(st.binary(max_size=300)), data.draw(st.binary(max_size=80))
    elif kind == "mutated":
        encoded = data.draw(mutations(encoded))
    elif kind == "signature":
        signature = data.draw(st.one_of(st.binary(max_size=80), mutations(signature)))
    else:  # a correctly signed document that the models must judge
        changed = data.draw(changed_documents(document))
        try:
            encoded = canonical_json(changed)
        except (TypeError, ValueError):
            return  # not representable in canonical JSON: nothing to sign
        signature = municipality.signing.sign(SIGN_LABEL + encoded).signature
    model = data.draw(st.sampled_from([SubmissionHeader, DeliveryHeader]))
    with contextlib.suppress(REFUSALS):
        verify_header(encoded, signature, directory, model)


# --- open_identities ---------------------------------------------------------------------------------------


def _identity_part(tpf: TpfKeys, municipality: PartyKeys, lines: list[bytes] | None) -> tuple[bytes, PartRef]:
    out = io.BytesIO()
    common = {
        "sender": municipality.party,
        "recipient": tpf.party.party,
        "recipient_kid": tpf.party.encryption_kid,
        "recipient_key": tpf.party.encryption.public_key(),
        "message_id": MESSAGE_ID,
    }
    if lines is None:
        sealer: PartSealer = IdentitySealer(out, **common)
        sealer.write_line({"fid": "01010012345", "ref": "0" * 32, "type": "FNR"})
    else:
        sealer = PartSealer(out, kind="identity", content="iplos-identities/1", **common)
        for line in lines:
            sealer.write(line)
    return out.getvalue(), sealer.close()


@FUZZ
@given(data=st.data())
def test_open_identities_refuses_arbitrary_and_mutated_parts(
    data: st.DataObject, tpf: TpfKeys, municipality: PartyKeys
) -> None:
    kind = data.draw(st.sampled_from(["mutated", "arbitrary-lines", "arbitrary-objects"]))
    if kind == "mutated":
        valid, ref = _identity_part(tpf, municipality, None)
        source = data.draw(mutations(valid))
    elif kind == "arbitrary-lines":
        lines = data.draw(st.lists(st.binary(max_size=60), max_size=5))
        source, ref = _identity_part(tpf, municipality, lines)
    else:
        objects = data.draw(
            st.lists(st.dictionaries(st.sampled_from(["fid", "ref", "type", "x"]), JSON_SCALARS), max_size=4)
        )
        source, ref = _identity_part(tpf, municipality, [canonical_json(o) + b"\n" for o in objects])
    with contextlib.suppress(REFUSALS):
        _drain(open_identities(io.BytesIO(source), tpf.party, ref, sender=municipality.party, message_id=MESSAGE_ID))
