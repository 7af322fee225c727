"""The identity and pseudonym parts read (and the pseudonym part is written) without JSON for lines in the form the
sealers write, and with the general canonical parse for any other line. These tests hold the shortcut to the general
path: on any line, the same entry or the same refusal, and the writer's lines byte for byte canonical_json's.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.envelope import canonical_json
from shared.envelope._sealing import is_ref, open_lines, parse_line, require_ref
from shared.envelope.identity import CONTENT as IDENTITY_CONTENT
from shared.envelope.identity import NUMBER_TYPES, IdentityEntry, IdentitySealer
from shared.envelope.pseudonyms import CONTENT as PSEUDONYM_CONTENT
from shared.envelope.pseudonyms import PseudonymEntry, PseudonymSealer
from shared.errors import InvalidEnvelope
from shared.keys import PartyKeys, PublicDirectory
from shared.keys.tpf import TpfKeys
from shared.pseudonym import decode_pseudonym, encode_pseudonym, is_rule_code
from tests.shared.test_envelope_parts import MESSAGE_ID, read_identities, read_pseudonyms, seal_raw

REF = "0123456789abcdef0123456789abcdef"


# The general path alone, as the readers were before the shortcut: the reference.
def _general_identity(line: bytes) -> IdentityEntry | None:
    try:
        value = parse_line(line)
        fid, record_ref, fid_type = value.get("fid"), value.get("ref"), value.get("type")
        if len(value) != 3 or not all(isinstance(v, str) for v in (fid, record_ref, fid_type)):
            return None
        if fid_type not in NUMBER_TYPES:
            return None
        return IdentityEntry(ref=require_ref(record_ref), fid=str(fid), fid_type=str(fid_type))
    except InvalidEnvelope:
        return None


def _general_pseudonym(line: bytes) -> PseudonymEntry | None:
    try:
        value = parse_line(line)
        record_ref = require_ref(value.get("ref"))
        if set(value) == {"ref", "pseudonym"} and isinstance(value["pseudonym"], str):
            try:
                return PseudonymEntry(ref=record_ref, pseudonym=decode_pseudonym(value["pseudonym"]), refused=None)
            except ValueError:
                return None
        if set(value) == {"ref", "refused"} and is_rule_code(value["refused"]):
            return PseudonymEntry(ref=record_ref, pseudonym=None, refused=value["refused"])
        return None
    except InvalidEnvelope:
        return None


def _read_identity(directory: PublicDirectory, tpf: TpfKeys, line: bytes) -> IdentityEntry | None:
    sealed, ref = seal_raw(directory, "tpf", kind="identity", content=IDENTITY_CONTENT, body=line + b"\n")
    try:
        (entry,) = read_identities(sealed, tpf.party, ref)
    except InvalidEnvelope:
        return None
    return entry


def _read_pseudonym(directory: PublicDirectory, registry: PartyKeys, line: bytes) -> PseudonymEntry | None:
    body = b'{"key_version":1}\n' + line + b"\n"
    sealed, ref = seal_raw(directory, "registry", kind="pseudonyms", content=PSEUDONYM_CONTENT, body=body, sender="tpf")
    try:
        _, (entry,) = read_pseudonyms(sealed, registry, ref)
    except InvalidEnvelope:
        return None
    return entry


def _spellings(value: dict[str, Any]) -> st.SearchStrategy[bytes]:
    """The canonical line and near misses: keys out of order, spaces, escapes spelt otherwise, non-ASCII kept."""
    return st.sampled_from(
        [
            canonical_json(value),
            json.dumps(value, separators=(",", ":")).encode("utf-8", "surrogatepass"),
            json.dumps(value, sort_keys=True).encode("utf-8", "surrogatepass"),
            json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
                "utf-8", "surrogatepass"
            ),
            json.dumps(dict(reversed(list(value.items()))), separators=(",", ":")).encode("utf-8", "surrogatepass"),
            canonical_json(value).replace(b"\\u00", b"\\u00").replace(b"/", b"\\/"),
        ]
    )


_TEXT = st.one_of(
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=14),  # the shortcut's own
    st.text(max_size=6),  # anything, control characters, quotes, backslashes and surrogates included
    st.from_regex(r"[0-9]{11}", fullmatch=True),
)
_IDENTITY_VALUES = st.fixed_dictionaries(
    {
        "fid": _TEXT,
        "ref": st.one_of(st.just(REF), _TEXT),
        "type": st.one_of(st.sampled_from(sorted(NUMBER_TYPES)), _TEXT),
    },
    optional={"x": st.integers(0, 3)},
)
_PSEUDONYM_VALUES = st.one_of(
    st.fixed_dictionaries(
        {
            "pseudonym": st.one_of(st.binary(min_size=32, max_size=32).map(encode_pseudonym), _TEXT),
            "ref": st.one_of(st.just(REF), _TEXT),
        }
    ),
    st.fixed_dictionaries(
        {
            "ref": st.one_of(st.just(REF), _TEXT),
            "refused": st.one_of(
                st.sampled_from(["check-digit", "ok", "a--b", "-a", "x" * 33, "synthetic-number"]), _TEXT
            ),
        }
    ),
)


def _mutated(line: bytes, data: st.DataObject) -> bytes:
    if not line or not data.draw(st.booleans()):
        return line
    at = data.draw(st.integers(0, len(line) - 1))
    return line[:at] + bytes([data.draw(st.integers(0, 255).filter(lambda b: b != 0x0A))]) + line[at + 1 :]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_an_identity_line_reads_as_the_general_parse_reads_it(
    data: st.DataObject, directory: PublicDirectory, tpf: TpfKeys
) -> None:
    line = _mutated(data.draw(_IDENTITY_VALUES.flatmap(_spellings)), data)
    if b"\n" in line:
        return
    assert _read_identity(directory, tpf, line) == _general_identity(line)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_pseudonym_line_reads_as_the_general_parse_reads_it(
    data: st.DataObject, directory: PublicDirectory, registry: PartyKeys
) -> None:
    line = _mutated(data.draw(_PSEUDONYM_VALUES.flatmap(_spellings)), data)
    if b"\n" in line:
        return
    assert _read_pseudonym(directory, registry, line) == _general_pseudonym(line)


@pytest.mark.parametrize(
    "line",
    [
        b'{"fid":"12345678901","ref":"' + REF.encode() + b'","type":"FNR"}',
        b'{"fid":"","ref":"' + REF.encode() + b'","type":"HNR"}',
        b'{"fid":" !#[]~","ref":"' + REF.encode() + b'","type":"FHN"}',
        b'{"fid":"a\\"b","ref":"' + REF.encode() + b'","type":"FNR"}',  # an escape: the general parse reads it
        b'{"fid":"\\u00e6","ref":"' + REF.encode() + b'","type":"DNR"}',
        b'{"fid":"\\ud800","ref":"' + REF.encode() + b'","type":"DNR"}',  # a lone surrogate: refused either way
        b'{"fid":"\x7f","ref":"' + REF.encode() + b'","type":"DNR"}',  # DEL is escaped in canonical JSON
        b'{"fid":"\t","ref":"' + REF.encode() + b'","type":"DNR"}',
        b'{"fid":"1","ref":"' + REF.upper().encode() + b'","type":"FNR"}',
    ],
)
def test_identity_lines_at_the_edge_of_the_shortcut(line: bytes, directory: PublicDirectory, tpf: TpfKeys) -> None:
    assert _read_identity(directory, tpf, line) == _general_identity(line)


def test_the_pseudonym_sealer_writes_canonical_json_lines(
    directory: PublicDirectory, tpf: TpfKeys, registry: PartyKeys
) -> None:
    kid, key = directory.encryption_key("registry")
    out = io.BytesIO()
    sealer = PseudonymSealer(
        out,
        key_version=7,
        sender="tpf",
        recipient="registry",
        recipient_kid=kid,
        recipient_key=key,
        message_id=MESSAGE_ID,
    )
    pseudonyms = [bytes([i]) * 32 for i in range(0, 256, 17)]
    for i, pseudonym in enumerate(pseudonyms):
        sealer.add(f"{i:032x}", pseudonym)
    sealer.refuse("f" * 32, "check-digit")
    sealer.refuse("e" * 32, "synthetic-number")
    ref = sealer.close()
    lines = list(
        open_lines(
            io.BytesIO(out.getvalue()),
            registry,
            ref,
            kind="pseudonyms",
            content=PSEUDONYM_CONTENT,
            sender="tpf",
            message_id=MESSAGE_ID,
        )
    )
    expected = [canonical_json({"key_version": 7})]
    expected += [
        canonical_json({"pseudonym": encode_pseudonym(p), "ref": f"{i:032x}"}) for i, p in enumerate(pseudonyms)
    ]
    expected += [
        canonical_json({"ref": "f" * 32, "refused": "check-digit"}),
        canonical_json({"ref": "e" * 32, "refused": "synthetic-number"}),
    ]
    assert lines == expected


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    fids=st.lists(st.one_of(_TEXT, st.sampled_from(["", "12345678901", "١٢٣", "１２", "1\n", '1"', "1\\"])), max_size=8)
)
def test_the_identity_sealer_writes_canonical_json_lines(
    fids: list[str], directory: PublicDirectory, tpf: TpfKeys
) -> None:
    kid, key = directory.encryption_key("tpf")
    out = io.BytesIO()
    sealer = IdentitySealer(
        out, sender="k0301", recipient="tpf", recipient_kid=kid, recipient_key=key, message_id=MESSAGE_ID
    )
    types = sorted(NUMBER_TYPES)
    for i, fid in enumerate(fids):
        sealer.add(f"{i:032x}", fid, types[i % len(types)])
    ref = sealer.close()
    lines = list(
        open_lines(
            io.BytesIO(out.getvalue()),
            tpf.party,
            ref,
            kind="identity",
            content=IDENTITY_CONTENT,
            sender="k0301",
            message_id=MESSAGE_ID,
        )
    )
    assert lines == [
        canonical_json({"fid": fid, "ref": f"{i:032x}", "type": types[i % len(types)]}) for i, fid in enumerate(fids)
    ]


@pytest.mark.parametrize("bad", [REF + "\n", "\n" + REF, REF.upper(), REF[:-1], REF + "0"])
def test_a_reference_is_exactly_32_lowercase_hex_digits(directory: PublicDirectory, bad: str) -> None:
    # A regex '$' also matches before a final newline: "32 hex digits and a newline" once passed as a reference.
    assert not is_ref(bad)
    with pytest.raises(InvalidEnvelope):
        require_ref(bad)
    kid, key = directory.encryption_key("tpf")
    sealer = IdentitySealer(
        io.BytesIO(), sender="k0301", recipient="tpf", recipient_kid=kid, recipient_key=key, message_id=MESSAGE_ID
    )
    with pytest.raises(ValueError, match="record reference"):
        sealer.add(bad, "12345678901", "FNR")
