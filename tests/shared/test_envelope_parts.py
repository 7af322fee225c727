"""The three part kinds (identity, pseudonyms, payload) sealed and opened with keys from ``init_keys``."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import random
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared import fnr
from shared.envelope import PartRef
from shared.envelope._sealing import MAX_LINE, PartSealer
from shared.envelope.identity import CONTENT as IDENTITY_CONTENT
from shared.envelope.identity import IdentityEntry, IdentitySealer, open_identities
from shared.envelope.payload_open import open_payload
from shared.envelope.payload_seal import PayloadSealer
from shared.envelope.pseudonyms import CONTENT as PSEUDONYM_CONTENT
from shared.envelope.pseudonyms import PseudonymEntry, PseudonymSealer, open_pseudonyms
from shared.errors import InvalidEnvelope, MessageRefused
from shared.iplos.model import Sex
from shared.keys import PartyKeys, PublicDirectory
from shared.keys.tpf import TpfKeys
from shared.pseudonym import Pseudonymiser

MESSAGE_ID = str(uuid.UUID("0b8f7c9e-1d2a-4e3b-9c4d-5e6f7a8b9c0d"))
OTHER_MESSAGE_ID = str(uuid.UUID("0b8f7c9e-1d2a-4e3b-9c4d-5e6f7a8b9c0e"))
SENDER = "kommune-0301"
PAYLOAD_CONTENT = "iplos-payload/1"


def synthetic_numbers(count: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    numbers = []
    for _ in range(count):
        born = dt.date(1930, 1, 1) + dt.timedelta(days=rng.randrange(90 * 365))
        number = fnr.synthetic_for(born, rng.choice(list(Sex)), rng, d_number=rng.random() < 0.2)
        assert fnr.parse(number).synthetic
        numbers.append(number)
    return numbers


def check_ref(ref: PartRef, sealed: bytes, recipient: PartyKeys, content: str) -> None:
    assert ref.sha256 == hashlib.sha256(sealed).hexdigest()
    assert ref.size == len(sealed)
    assert ref.recipient == recipient.party
    assert ref.recipient_kid == recipient.encryption_kid
    assert ref.content == content


# --- sealing helpers --------------------------------------------------------------------------------------------


def seal_identities(
    directory: PublicDirectory, entries: list[tuple[str, str, str]], *, message_id: str = MESSAGE_ID
) -> tuple[bytes, PartRef]:
    kid, key = directory.encryption_key("tpf")
    out = io.BytesIO()
    sealer = IdentitySealer(
        out, sender=SENDER, recipient="tpf", recipient_kid=kid, recipient_key=key, message_id=message_id
    )
    for record_ref, number, kind in entries:
        sealer.add(record_ref, number, kind)
    ref = sealer.close()
    return out.getvalue(), ref


def seal_raw(
    directory: PublicDirectory,
    recipient: str,
    *,
    kind: str,
    content: str,
    body: bytes,
    sender: str = SENDER,
) -> tuple[bytes, PartRef]:
    """A correctly sealed part with whatever content lines the test wants (after the content-format line)."""
    kid, key = directory.encryption_key(recipient)
    out = io.BytesIO()
    sealer = PartSealer(
        out,
        kind=kind,
        content=content,
        sender=sender,
        recipient=recipient,
        recipient_kid=kid,
        recipient_key=key,
        message_id=MESSAGE_ID,
    )
    sealer.write(body)
    ref = sealer.close()
    return out.getvalue(), ref


def read_identities(
    sealed: bytes, keys: PartyKeys, ref: PartRef, *, sender: str = SENDER, message_id: str = MESSAGE_ID
) -> list[IdentityEntry]:
    return list(open_identities(io.BytesIO(sealed), keys, ref, sender=sender, message_id=message_id))


def read_pseudonyms(
    sealed: bytes, keys: PartyKeys, ref: PartRef, *, sender: str = "tpf"
) -> tuple[int, list[PseudonymEntry]]:
    version, entries = open_pseudonyms(io.BytesIO(sealed), keys, ref, sender=sender, message_id=MESSAGE_ID)
    return version, list(entries)


def read_payload(sealed: bytes, keys: PartyKeys, ref: PartRef, *, content: str = PAYLOAD_CONTENT) -> list[bytes]:
    return list(open_payload(io.BytesIO(sealed), keys, ref, content=content, sender=SENDER, message_id=MESSAGE_ID))


# --- round trips ------------------------------------------------------------------------------------------------


def test_identity_round_trip(directory: PublicDirectory, tpf: TpfKeys) -> None:
    numbers = synthetic_numbers(50)
    entries = [(f"{i:032x}", number, "DNR" if number[0] >= "4" else "FNR") for i, number in enumerate(numbers)]
    entries.append(("e" * 32, "not-a-number", "FNR"))  # the part carries what it is given; the TPF validates
    sealed, ref = seal_identities(directory, entries)
    check_ref(ref, sealed, tpf.party, IDENTITY_CONTENT)
    opened = read_identities(sealed, tpf.party, ref)
    assert [(e.ref, e.fid, e.fid_type) for e in opened] == entries
    assert all(number not in repr(entry) for entry, number in zip(opened, numbers, strict=False))


def test_identity_round_trip_across_many_chunks(directory: PublicDirectory, tpf: TpfKeys) -> None:
    # About 250 KB of lines: lines straddle the 64 KiB chunk boundaries.
    numbers = synthetic_numbers(200, seed=1) * 25
    entries = [(f"{i:032x}", number, "FNR") for i, number in enumerate(numbers)]
    sealed, ref = seal_identities(directory, entries)
    assert ref.size > 3 * 65536
    opened = read_identities(sealed, tpf.party, ref)
    assert [(e.ref, e.fid, e.fid_type) for e in opened] == entries


def test_empty_identity_part(directory: PublicDirectory, tpf: TpfKeys) -> None:
    sealed, ref = seal_identities(directory, [])
    check_ref(ref, sealed, tpf.party, IDENTITY_CONTENT)
    assert read_identities(sealed, tpf.party, ref) == []


@st.composite
def _identity_entries(draw: st.DrawFn) -> list[tuple[str, str, str]]:
    count = draw(st.integers(0, 20))
    refs = draw(st.lists(st.from_regex(r"[0-9a-f]{32}", fullmatch=True), min_size=count, max_size=count))
    born = draw(st.lists(st.dates(dt.date(1900, 1, 1), dt.date(2039, 12, 31)), min_size=count, max_size=count))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = random.Random(seed)
    return [
        (ref, fnr.synthetic_for(day, rng.choice(list(Sex)), rng), draw(st.sampled_from(["FNR", "DNR", "HNR", "FHN"])))
        for ref, day in zip(refs, born, strict=True)
    ]


@settings(max_examples=25, deadline=None)
@given(entries=_identity_entries())
def test_identity_round_trip_property(
    entries: list[tuple[str, str, str]], directory: PublicDirectory, tpf: TpfKeys
) -> None:
    sealed, ref = seal_identities(directory, entries)
    check_ref(ref, sealed, tpf.party, IDENTITY_CONTENT)
    assert [(e.ref, e.fid, e.fid_type) for e in read_identities(sealed, tpf.party, ref)] == entries


def seal_pseudonyms(
    directory: PublicDirectory, tpf: TpfKeys, key_version: int, write: Callable[[PseudonymSealer], None]
) -> tuple[bytes, PartRef]:
    kid, key = directory.encryption_key("registry")
    out = io.BytesIO()
    sealer = PseudonymSealer(
        out,
        key_version=key_version,
        sender=tpf.party.party,
        recipient="registry",
        recipient_kid=kid,
        recipient_key=key,
        message_id=MESSAGE_ID,
    )
    write(sealer)
    ref = sealer.close()
    return out.getvalue(), ref


def test_pseudonym_round_trip(directory: PublicDirectory, tpf: TpfKeys, registry: PartyKeys) -> None:
    pseudonymiser = Pseudonymiser(tpf.current_pseudonym_key)
    numbers = synthetic_numbers(30, seed=2)
    expected = [
        PseudonymEntry(ref=f"{i:032x}", pseudonym=pseudonymiser.pseudonym(fnr.parse(n)), refused=None)
        for i, n in enumerate(numbers)
    ]
    expected.insert(3, PseudonymEntry(ref="f" * 32, pseudonym=None, refused="check-digit"))

    def write(sealer: PseudonymSealer) -> None:
        for entry in expected:
            if entry.pseudonym is None:
                sealer.refuse(entry.ref, str(entry.refused))
            else:
                sealer.add(entry.ref, entry.pseudonym)

    sealed, ref = seal_pseudonyms(directory, tpf, 3, write)
    check_ref(ref, sealed, registry, PSEUDONYM_CONTENT)
    version, entries = read_pseudonyms(sealed, registry, ref)
    assert version == 3
    assert entries == expected


def test_empty_pseudonym_part_keeps_its_key_version(
    directory: PublicDirectory, tpf: TpfKeys, registry: PartyKeys
) -> None:
    sealed, ref = seal_pseudonyms(directory, tpf, 7, lambda sealer: None)
    assert read_pseudonyms(sealed, registry, ref) == (7, [])


def test_key_versions_run_to_999_999_999(directory: PublicDirectory, tpf: TpfKeys, registry: PartyKeys) -> None:
    # Spec 7.2, KeyVersion: what the registry's column and the audit logs hold. The reader's side is above
    # (key-version-10^9); the sealer does not write what a reader refuses.
    sealed, ref = seal_pseudonyms(directory, tpf, 999_999_999, lambda sealer: None)
    assert read_pseudonyms(sealed, registry, ref) == (999_999_999, [])
    with pytest.raises(ValueError, match="key version"):
        seal_pseudonyms(directory, tpf, 10**9, lambda sealer: None)


def seal_payload(directory: PublicDirectory, body: bytes, *, content: str = PAYLOAD_CONTENT) -> tuple[bytes, PartRef]:
    kid, key = directory.encryption_key("registry")
    out = io.BytesIO()
    sealer = PayloadSealer(
        out,
        content=content,
        sender=SENDER,
        recipient="registry",
        recipient_kid=kid,
        recipient_key=key,
        message_id=MESSAGE_ID,
    )
    sealer.write(body)
    ref = sealer.close()
    return out.getvalue(), ref


@pytest.mark.parametrize("lines", [[], [b"{}"], [b'{"a":1}', b"", b"\xc3\xa6 line"], [b"x" * 70_000, b"y" * 200_000]])
def test_payload_round_trip(lines: list[bytes], directory: PublicDirectory, registry: PartyKeys) -> None:
    sealed, ref = seal_payload(directory, b"".join(line + b"\n" for line in lines))
    check_ref(ref, sealed, registry, PAYLOAD_CONTENT)
    assert read_payload(sealed, registry, ref) == lines


def test_payload_written_in_pieces(directory: PublicDirectory, registry: PartyKeys) -> None:
    kid, key = directory.encryption_key("registry")
    out = io.BytesIO()
    sealer = PayloadSealer(
        out,
        content=PAYLOAD_CONTENT,
        sender=SENDER,
        recipient="registry",
        recipient_kid=kid,
        recipient_key=key,
        message_id=MESSAGE_ID,
    )
    for i in range(5000):
        sealer.write(f'{{"n":{i}}}'.encode())
        sealer.write(b"\n")
    ref = sealer.close()
    assert sealer.close() == ref  # idempotent
    assert ref.sha256 == hashlib.sha256(out.getvalue()).hexdigest()
    assert read_payload(out.getvalue(), registry, ref) == [f'{{"n":{i}}}'.encode() for i in range(5000)]


# --- refusals before decrypting ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def identity_part(directory: PublicDirectory) -> tuple[bytes, PartRef]:
    return seal_identities(directory, [("00000000000000000000000000000031", synthetic_numbers(1, seed=3)[0], "FNR")])


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda reg: {"recipient": "registry"}, id="recipient"),
        pytest.param(lambda reg: {"recipient_kid": reg.encryption_kid}, id="recipient-kid"),
        pytest.param(lambda reg: {"recipient": "registry", "recipient_kid": reg.encryption_kid}, id="both"),
    ],
)
def test_ref_naming_another_recipient(
    change: Callable[[PartyKeys], dict[str, Any]],
    identity_part: tuple[bytes, PartRef],
    tpf: TpfKeys,
    registry: PartyKeys,
) -> None:
    sealed, ref = identity_part
    with pytest.raises(MessageRefused) as refused:
        read_identities(sealed, tpf.party, ref.model_copy(update=change(registry)))
    assert refused.value.code == "wrong-recipient"


def test_opening_with_another_partys_keys(identity_part: tuple[bytes, PartRef], registry: PartyKeys) -> None:
    sealed, ref = identity_part
    with pytest.raises(MessageRefused) as refused:
        read_identities(sealed, registry, ref)
    assert refused.value.code == "wrong-recipient"
    # and a ref rewritten to name the registry still cannot be opened by it: the part is sealed for the TPF
    forged = ref.model_copy(update={"recipient": registry.party, "recipient_kid": registry.encryption_kid})
    with pytest.raises(InvalidEnvelope):
        read_identities(sealed, registry, forged)


def test_wrong_content_label(identity_part: tuple[bytes, PartRef], tpf: TpfKeys) -> None:
    sealed, ref = identity_part
    with pytest.raises(MessageRefused) as refused:
        read_identities(sealed, tpf.party, ref.model_copy(update={"content": "iplos-identities/2"}))
    assert refused.value.code == "unsupported-format"


def test_payload_content_not_supported(directory: PublicDirectory, registry: PartyKeys) -> None:
    sealed, ref = seal_payload(directory, b"{}\n")
    with pytest.raises(MessageRefused) as refused:
        read_payload(sealed, registry, ref, content="iplos-payload/2")
    assert refused.value.code == "unsupported-format"


def test_content_line_differs_from_the_ref(directory: PublicDirectory, tpf: TpfKeys) -> None:
    # Sealed (correctly) with a content line of version 2, presented under a ref that claims version 1.
    sealed, ref = seal_raw(directory, "tpf", kind="identity", content="iplos-identities/2", body=b"")
    with pytest.raises(InvalidEnvelope):
        read_identities(sealed, tpf.party, ref.model_copy(update={"content": IDENTITY_CONTENT}))


# --- context binding through the public API ---------------------------------------------------------------------


def test_identity_part_cannot_be_opened_as_pseudonyms(directory: PublicDirectory, registry: PartyKeys) -> None:
    # Same recipient, same content label, same sender and message id: only the kind differs.
    sealed, ref = seal_raw(
        directory, "registry", kind="identity", content=PSEUDONYM_CONTENT, body=b'{"key_version":1}\n', sender="tpf"
    )
    with pytest.raises(InvalidEnvelope):
        read_pseudonyms(sealed, registry, ref)
    # control: sealed as kind pseudonyms, the same bytes open
    sealed, ref = seal_raw(
        directory, "registry", kind="pseudonyms", content=PSEUDONYM_CONTENT, body=b'{"key_version":1}\n', sender="tpf"
    )
    assert read_pseudonyms(sealed, registry, ref) == (1, [])


def test_payload_part_cannot_be_opened_as_pseudonyms(directory: PublicDirectory, registry: PartyKeys) -> None:
    sealed, ref = seal_raw(directory, "registry", kind="payload", content=PSEUDONYM_CONTENT, body=b"", sender="tpf")
    with pytest.raises(InvalidEnvelope):
        read_pseudonyms(sealed, registry, ref)


def test_identity_part_bound_to_sender_and_message_id(identity_part: tuple[bytes, PartRef], tpf: TpfKeys) -> None:
    sealed, ref = identity_part
    assert len(read_identities(sealed, tpf.party, ref)) == 1
    with pytest.raises(InvalidEnvelope):
        read_identities(sealed, tpf.party, ref, sender="kommune-4601")
    with pytest.raises(InvalidEnvelope):
        read_identities(sealed, tpf.party, ref, message_id=OTHER_MESSAGE_ID)


def test_tampered_identity_part(identity_part: tuple[bytes, PartRef], tpf: TpfKeys) -> None:
    sealed, ref = identity_part
    for offset in (0, 20, 100, len(sealed) - 1):
        tampered = bytearray(sealed)
        tampered[offset] ^= 0x01
        with pytest.raises(InvalidEnvelope):
            read_identities(bytes(tampered), tpf.party, ref)


# --- malformed content inside a correctly sealed part -----------------------------------------------------------

_FID = "x" * 5  # the identity part does not validate numbers; these tests are about the line format


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"not json\n", id="not-json"),
        pytest.param(b"[1,2]\n", id="array"),
        pytest.param(b'"text"\n', id="string"),
        pytest.param(b"\n", id="empty-line"),
        pytest.param(b'{"fid":"' + _FID.encode() + b'","ref":"00000000000000000000000000000000"}\n', id="missing-type"),
        pytest.param(
            b'{"fid":"' + _FID.encode() + b'","ref":"00000000000000000000000000000000","type":"FNR","x":1}\n',
            id="extra-key",
        ),
        pytest.param(b'{"fid":5,"ref":"00000000000000000000000000000000","type":"FNR"}\n', id="fid-not-string"),
        pytest.param(b'{"fid":"' + _FID.encode() + b'","ref":null,"type":"FNR"}\n', id="ref-null"),
        pytest.param(
            b'{"fid":"' + _FID.encode() + b'","ref":"00000000000000000000000000000000","type":"FNR"}',
            id="no-final-newline",
        ),
        pytest.param(b'{"content":"iplos-identities/1"}\n', id="duplicate-content-line"),
        # The four number types, spelt exactly so (docs/envelope-v1.md 6.2): anything else is no identity part.
        pytest.param(
            b'{"fid":"' + _FID.encode() + b'","ref":"00000000000000000000000000000000","type":"fnr"}\n',
            id="type-lower-case",
        ),
        pytest.param(
            b'{"fid":"' + _FID.encode() + b'","ref":"00000000000000000000000000000000","type":"SSN"}\n',
            id="type-unknown",
        ),
        pytest.param(
            b'{"fid":"' + _FID.encode() + b'","ref":"00000000000000000000000000000000","type":""}\n',
            id="type-empty",
        ),
        pytest.param(b'{"fid":"\xff","ref":"00000000000000000000000000000000","type":"FNR"}\n', id="invalid-utf8"),
        pytest.param(b"x" * (MAX_LINE + 1) + b"\n", id="line-too-long"),
        pytest.param(
            b'{"fid":"a","fid":"b","ref":"00000000000000000000000000000000","type":"FNR"}\n',
            id="duplicate-key",
        ),
        pytest.param(
            b"[" * 100_000 + b"]" * 100_000 + b"\n",
            id="deep-nesting",
        ),
    ],
)
def test_malformed_identity_lines(body: bytes, directory: PublicDirectory, tpf: TpfKeys) -> None:
    good = b'{"fid":"' + _FID.encode() + b'","ref":"00000000000000000000000000000000","type":"FNR"}\n'
    sealed, ref = seal_raw(directory, "tpf", kind="identity", content=IDENTITY_CONTENT, body=good + body)
    with pytest.raises(InvalidEnvelope):
        read_identities(sealed, tpf.party, ref)
    sealed, ref = seal_raw(directory, "tpf", kind="identity", content=IDENTITY_CONTENT, body=good)
    assert len(read_identities(sealed, tpf.party, ref)) == 1  # control


@pytest.mark.parametrize(("extra", "readable"), [(0, True), (1, False)], ids=["at-the-limit", "one-byte-more"])
def test_a_line_of_exactly_the_limit_is_read_and_one_byte_more_is_not(
    extra: int, readable: bool, directory: PublicDirectory, tpf: TpfKeys
) -> None:
    """Section 6.1: a line is at most MAX_LINE bytes, its LF not counted (the identity reader does not judge the
    number, so a long fid makes a long line that is otherwise valid)."""
    frame = b'{"fid":"","ref":"00000000000000000000000000000000","type":"FNR"}'
    line = frame.replace(b'"fid":""', b'"fid":"' + b"x" * (MAX_LINE - len(frame) + extra) + b'"')
    assert len(line) == MAX_LINE + extra
    sealed, ref = seal_raw(directory, "tpf", kind="identity", content=IDENTITY_CONTENT, body=line + b"\n")
    if readable:
        assert [len(entry.fid) for entry in read_identities(sealed, tpf.party, ref)] == [MAX_LINE - len(frame)]
    else:
        with pytest.raises(InvalidEnvelope):
            read_identities(sealed, tpf.party, ref)


_P = b'"' + b"A" * 43 + b'"'  # 32 zero bytes in unpadded base64url


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"", id="no-key-version-line"),
        pytest.param(b'{"key_version":0}\n', id="key-version-0"),
        pytest.param(b'{"key_version":1000000000}\n', id="key-version-10^9"),
        pytest.param(b'{"key_version":"1"}\n', id="key-version-string"),
        pytest.param(b'{"key_version":1.0}\n', id="key-version-float"),
        pytest.param(b'{"key_version":1,"x":1}\n', id="key-version-extra"),
        pytest.param(
            b'{"ref":"00000000000000000000000000000000","pseudonym":' + _P + b"}\n", id="entry-before-key-version"
        ),
        pytest.param(b'{"key_version":1}\n{"key_version":1}\n', id="duplicate-key-version-line"),
        pytest.param(b'{"key_version":1}\n{"pseudonym":' + _P + b"}\n", id="missing-ref"),
        pytest.param(
            b'{"key_version":1}\n{"ref":"00000000000000000000000000000000"}\n', id="neither-pseudonym-nor-refusal"
        ),
        pytest.param(
            b'{"key_version":1}\n{"ref":"00000000000000000000000000000000","pseudonym":' + _P + b',"refused":"x"}\n',
            id="both",
        ),
        pytest.param(
            b'{"key_version":1}\n{"ref":"00000000000000000000000000000000","pseudonym":"AAAA"}\n',
            id="pseudonym-3-bytes",
        ),
        pytest.param(
            b'{"key_version":1}\n{"ref":"00000000000000000000000000000000","pseudonym":"' + b"A" * 44 + b'"}\n',
            id="pseudonym-33-bytes",
        ),
        pytest.param(
            b'{"key_version":1}\n{"ref":"00000000000000000000000000000000","pseudonym":"A"}\n',
            id="pseudonym-bad-base64",
        ),
        pytest.param(
            b'{"key_version":1}\n{"ref":"00000000000000000000000000000000","pseudonym":"\\u00e6"}\n',
            id="pseudonym-non-ascii",
        ),
        pytest.param(
            b'{"key_version":1}\n{"ref":"00000000000000000000000000000000","refused":null}\n', id="refused-null"
        ),
        pytest.param(b'{"key_version":1}\n{"ref":1,"refused":"x"}\n', id="ref-not-string"),
        pytest.param(
            b'{"key_version":true}\n',
            id="key-version-true",
        ),
    ],
)
def test_malformed_pseudonym_lines(body: bytes, directory: PublicDirectory, registry: PartyKeys) -> None:
    sealed, ref = seal_raw(directory, "registry", kind="pseudonyms", content=PSEUDONYM_CONTENT, body=body, sender="tpf")
    with pytest.raises(InvalidEnvelope):
        read_pseudonyms(sealed, registry, ref)


def test_pseudonym_lines_control(directory: PublicDirectory, registry: PartyKeys) -> None:
    body = (
        b'{"key_version":2}\n{"pseudonym":'
        + _P
        + b',"ref":"00000000000000000000000000000000"}\n{"ref":"00000000000000000000000000000001","refused":"x"}\n'
    )
    sealed, ref = seal_raw(directory, "registry", kind="pseudonyms", content=PSEUDONYM_CONTENT, body=body, sender="tpf")
    assert read_pseudonyms(sealed, registry, ref) == (
        2,
        [
            PseudonymEntry(ref="0" * 32, pseudonym=bytes(32), refused=None),
            PseudonymEntry(ref="0" * 31 + "1", pseudonym=None, refused="x"),
        ],
    )


def test_sealed_pseudonym_of_wrong_length_is_refused_on_opening(
    directory: PublicDirectory, tpf: TpfKeys, registry: PartyKeys
) -> None:
    sealed, ref = seal_pseudonyms(directory, tpf, 1, lambda sealer: sealer.add("0" * 32, bytes(31)))
    with pytest.raises(InvalidEnvelope):
        read_pseudonyms(sealed, registry, ref)


def test_payload_without_final_newline(directory: PublicDirectory, registry: PartyKeys) -> None:
    sealed, ref = seal_payload(directory, b"line\nno newline")
    with pytest.raises(InvalidEnvelope):
        read_payload(sealed, registry, ref)
