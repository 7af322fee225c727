"""The test-vector kit (tests/vectors/, docs/envelope-v1.md "Test vectors") against two implementations.

(a) Ours: ``shared.envelope``, ``shared.keys``, ``shared.pseudonym`` and ``shared.fnr``.
(b) An independent checker, written below from docs/envelope-v1.md alone with nothing but ``cryptography``
    primitives, PyNaCl's ``VerifyKey``, ``hashlib``/``hmac``/``base64`` and ``json``. It uses nothing from
    ``shared`` (``test_checker_is_independent`` proves it), so its passing every vector shows that the spec is
    enough to write a second implementation.

A case marked ``"divergence"`` is one where the spec asks more than our implementation does today (the spec's
appendix A lists them with the fix). For (a) those are strict xfails: a fix makes them XPASS, and the marker goes.
"""

from __future__ import annotations

import ast
import base64
import calendar
import hashlib
import hmac
import importlib.util
import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from nacl.bindings import crypto_core_ed25519_is_valid_point
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from shared import fnr
from shared.envelope import (
    Confirmation,
    DeliveryHeader,
    InvalidEnvelope,
    MessageRefused,
    PartRef,
    Receipt,
    Refusal,
    ReportHeader,
    SubmissionHeader,
)
from shared.envelope._canonical import canonical_json, parse_canonical, strict_b64decode
from shared.envelope._part import PartContext, open_part
from shared.envelope._sealing import MAX_LINE
from shared.envelope.headers import encode_header, verify_header
from shared.envelope.identity import open_identities
from shared.envelope.payload_open import open_payload
from shared.envelope.pseudonyms import open_pseudonyms
from shared.envelope.report import open_report
from shared.errors import KeyFileError
from shared.iplos.payload import (
    INT_RANGES,
    MAX_CHARS,
    MAX_LINE_BYTES,
    PayloadDecodeError,
    decode_payload,
    encode_record,
    encode_trailer,
)
from shared.iplos.payload import encode_header as encode_payload_header
from shared.keys import PartyKeys, PublicDirectory, key_id
from shared.pseudonym import (
    MAX_KEY_VERSION,
    Pseudonymiser,
    PseudonymKey,
    decode_pseudonym,
    encode_pseudonym,
    is_rule_code,
    screen,
)

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
FILES = (
    "parts.json",
    "contents.json",
    "payloads.json",
    "headers.json",
    "canonical.json",
    "pseudonyms.json",
    "key_ids.json",
)

Json = dict[str, Any]


def _load(name: str) -> Json:
    """A vector file, or an empty document if it is missing (``test_vector_files_present`` then fails)."""
    path = VECTORS / name
    if not path.exists() or path.stat().st_size == 0:
        return {}
    document: Json = json.loads(path.read_text(encoding="ascii"))
    return document


PARTS, CONTENTS, HEADERS = _load("parts.json"), _load("contents.json"), _load("headers.json")
CANONICAL, PSEUDONYMS, KEY_IDS = _load("canonical.json"), _load("pseudonyms.json"), _load("key_ids.json")
PAYLOADS = _load("payloads.json")


def _cases(document: Json, key: str = "cases", *, ours: bool = False) -> list[Any]:
    """pytest params, one per case, named after the case; divergences are strict xfails for our implementation."""
    params = []
    for index, case in enumerate(document.get(key, [])):
        marks = []
        if ours and "divergence" in case:
            marks.append(pytest.mark.xfail(strict=True, reason=f"spec appendix A, {case['divergence']}"))
        params.append(pytest.param(case, id=case.get("name", str(index)), marks=marks))
    return params


def _part_bytes(case: Json) -> bytes:
    segments = case["part"] if isinstance(case["part"], list) else [case["part"]]
    shared_segments = PARTS.get("segments", {})
    data = b"".join(
        base64.b64decode(shared_segments[s[1:]] if s.startswith("@") else s, validate=True) for s in segments
    )
    if "part_sha256" in case:
        assert hashlib.sha256(data).hexdigest() == case["part_sha256"]
        assert len(data) == case["part_size"]
    return data


def _canonical_input(case: Json) -> bytes:
    return base64.b64decode(case["input_b64"]) if "input_b64" in case else case["input"].encode("utf-8")


# --- the kit itself ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FILES)
def test_vector_files_present(name: str) -> None:
    document = _load(name)
    assert document, f"tests/vectors/{name} is missing or empty; run tests/vectors/make_vectors.py"
    assert document.get("cases"), f"tests/vectors/{name} has no cases"


def test_generator_reproduces_the_files() -> None:
    """The generator is deterministic: what it would write is what is committed."""
    spec = importlib.util.spec_from_file_location("make_vectors", VECTORS / "make_vectors.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name, text in module.documents().items():
        assert (VECTORS / name).read_text(encoding="ascii") == text, f"{name} is stale: run make_vectors.py"


SPEC = Path(__file__).resolve().parents[2] / "docs" / "envelope-v1.md"


def _section_14_rows() -> dict[str, str]:
    """docs/envelope-v1.md section 14's table: file name -> its row."""
    text = SPEC.read_text(encoding="utf-8")
    section = text[text.index("## 14. Test vectors") : text.index("## Appendix A")]
    rows = {}
    for row in section.splitlines():
        match = re.match(r"\| `([a-z_]+\.json)` \|", row)
        if match:
            rows[match.group(1)] = row
    return rows


def test_section_14_counts_are_the_files() -> None:
    """Section 14 says how many cases each file has (and how many are ok and fail, where it says so): the files."""
    rows = _section_14_rows()
    assert sorted(rows) == sorted(FILES)
    for name, row in rows.items():
        document = _load(name)
        stated = row.split("|")[2].strip()
        counted = str(len(document["cases"]))
        if "directory_cases" in document:
            counted += f" + {len(document['directory_cases'])}"
        assert stated == counted, f"section 14 says {name} has {stated} cases; it has {counted}"
        expects = [case.get("expect") for case in document["cases"]]
        for number, expect in re.findall(r"(\d+) (?:cases )?are `(ok|fail)`", row):
            assert int(number) == expects.count(expect), f"section 14: {name} has {expects.count(expect)} {expect}"


def test_section_14_names_only_cases_that_exist() -> None:
    names = {
        case["name"] for file in FILES for key in ("cases", "directory_cases") for case in _load(file).get(key, [])
    }
    codes = {"type-mismatch", "synthetic-number", "invalid-payload"}  # quoted too, but refusal and error codes
    for file, row in _section_14_rows().items():
        quoted = set(re.findall(r"`([a-z0-9]+(?:-[a-z0-9]+)+)`", row)) - codes
        assert quoted <= names, f"section 14 ({file}) names cases that do not exist: {sorted(quoted - names)}"


def test_kit_covers_the_required_cases() -> None:
    names = {c["name"] for c in PARTS["cases"]}
    assert {
        "magic-flipped",
        "wrapped-ciphertext-flipped",
        "body-flipped",
        "tag-flipped",
        "last-chunk-dropped",
        "final-chunk-cut",
        "chunks-reordered",
        "data-after-final-chunk",
        "empty-body",
        "exactly-64KiB",
        "64KiB-plus-1",
        "three-chunks",
        "empty-final-after-full",
        "wrong-context-kind",
        "wrong-context-sender",
        "wrong-context-recipient",
        "wrong-context-recipient-kid",
        "wrong-context-message-id",
    } <= names
    assert {
        "header-byte-flipped",
        "non-canonical-spacing",
        "unsorted-keys",
        "duplicate-key",
        "float-value",
        "label-missing",
        "report",
        "report-byte-flipped",
        "report-missing-recipient",
        "count-at-bound",
        "count-too-large",
        "delivery-key-version-at-bound",
        "delivery-key-version-too-large",
        "unknown-kid-format-v2",
        "unknown-kid-missing-kind",
        "unknown-kid-other-kind",
        "unknown-kid-before-schema",
        "created-at-february-30",
        "created-at-leap-second",
        "signature-small-order-r",
        "receipt-signature-unused-bits",
    } <= {c["name"] for c in HEADERS["cases"]}
    assert {
        "message-1",
        "no-trailer",
        "trailer-count-low",
        "line-after-trailer",
        "header-format-v1",
        "bounds-upper",
        "bounds-lower",
        "line-at-limit",
        "line-past-limit",
        "record-nul-character",
        "record-hours-integer-beyond-double",
    } <= {c["name"] for c in PAYLOADS["cases"]}
    # Every bound of section 6.4 one past its limit, at every place it applies.
    assert {
        "bound-bydelnr-over",
        "bound-fa-over",
        "bound-fa-under",
        "bound-bolig-over",
        "bound-bolig-under",
        "bound-husstand-over",
        "bound-husstand-under",
        "bound-variabel-over",
        "bound-skaar-over",
        "bound-skaar-under",
        "bound-kode-over",
        "bound-tjenesteid-over",
        "bound-tjenestetype-over",
        "bound-tjenestetype-under",
        "bound-orgnr-over",
        "bound-tjenestetype-refusal-over",
        "bound-tjenestetype-refusal-under",
        "bound-tjenestetype-complaint-over",
        "bound-tjenestetype-complaint-under",
        "bound-vedtakid-over",
    } == {c["name"] for c in PAYLOADS["cases"] if c["name"].startswith("bound-")}
    assert {"refused-synthetic-not-accepted", "refused-d-number-declared-fnr", "refused-type-before-synthetic"} <= {
        c["name"] for c in PSEUDONYMS["cases"]
    }
    assert {
        "identity-ok",
        "payload-ok",
        "pseudonyms-ok",
        "report-ok",
        "identity-ref-identity-number",
        "pseudonyms-ref-not-hex",
        "report-ref-identity-number",
        "report-bad-severity",
        "report-summary-missing",
        "report-non-canonical-line",
        "identity-type-unknown",
        "pseudonyms-policy-refusals",
        "pseudonyms-unknown-rule-code",
        "pseudonyms-refused-identity-number",
        "pseudonyms-key-version-at-bound",
        "pseudonyms-key-version-too-large",
        "payload-line-at-limit",
        "payload-line-past-limit",
    } <= {c["name"] for c in CONTENTS["cases"]}


# --- (a) our implementation -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", _cases(PARTS, ours=True))
def test_part_ours(case: Json) -> None:
    key = X25519PrivateKey.from_private_bytes(bytes.fromhex(case["recipient_private"]))
    context = PartContext(**case["context"])
    assert context.info() == case["info"].encode("ascii")
    part = io.BytesIO(_part_bytes(case))
    if case["expect"] == "ok":
        plaintext = b"".join(open_part(part, key, context))
        assert len(plaintext) == case["plaintext_size"]
        assert hashlib.sha256(plaintext).hexdigest() == case["plaintext_sha256"]
        if "plaintext" in case:
            assert plaintext == base64.b64decode(case["plaintext"])
    else:
        with pytest.raises(InvalidEnvelope):
            b"".join(open_part(part, key, context))


def _party_keys(case: Json) -> tuple[PartyKeys, PartRef]:
    context = case["context"]
    keys = PartyKeys(
        party=context["recipient"],
        encryption=X25519PrivateKey.from_private_bytes(bytes.fromhex(case["recipient_private"])),
        encryption_kid=context["recipient_kid"],
        signing=SigningKey(bytes(32)),
        signing_kid="0" * 16,
    )
    ref = PartRef(
        recipient=context["recipient"],
        recipient_kid=context["recipient_kid"],
        content=case["content"],
        size=case["part_size"],
        sha256=case["part_sha256"],
    )
    return keys, ref


def _read_contents_ours(case: Json) -> Json:
    keys, ref = _party_keys(case)
    source = io.BytesIO(_part_bytes(case))
    where = {"sender": case["context"]["sender"], "message_id": case["context"]["message_id"]}
    kind = case["context"]["kind"]
    if kind == "identity":
        entries = open_identities(source, keys, ref, **where)
        return {"entries": [{"ref": e.ref, "fid": e.fid, "type": e.fid_type} for e in entries]}
    if kind == "pseudonyms":
        version, items = open_pseudonyms(source, keys, ref, **where)
        decoded = [
            {"ref": e.ref, "pseudonym": e.pseudonym.hex() if e.pseudonym else None, "refused": e.refused} for e in items
        ]
        return {"key_version": version, "entries": decoded}
    if kind == "report":
        summary, findings = open_report(source, keys, ref, **where)
        return {
            "summary": {"counts": summary.counts, "records": summary.records},
            "findings": [
                {"code": f.code, "detail": f.detail, "field": f.field, "ref": f.ref, "severity": f.severity}
                for f in findings
            ],
        }
    return {"lines": [x.decode("utf-8") for x in open_payload(source, keys, ref, content=case["content"], **where)]}


def _expected_contents(case: Json) -> Json:
    return {k: case[k] for k in ("entries", "key_version", "lines", "summary", "findings") if k in case}


@pytest.mark.parametrize("case", _cases(CONTENTS, ours=True))
def test_contents_ours(case: Json) -> None:
    if case["expect"] == "ok":
        assert _read_contents_ours(case) == _expected_contents(case)
    else:
        with pytest.raises(InvalidEnvelope):
            _read_contents_ours(case)


def test_payload_ok_is_an_iplos_payload_2_stream() -> None:
    """The envelope passes payload lines through; the ones in the kit are also a valid iplos-payload/2 stream
    (header, records, trailer) for the message's records, so the example is the real thing."""
    cases = {c["name"]: c for c in CONTENTS["cases"]}
    lines = cases["payload-ok"]["lines"]
    header, records = decode_payload(x.encode("utf-8") + b"\n" for x in lines)
    assert (header.kommune_nr, header.rapporteringsaar) == ("0301", 2024)
    assert [r.ref for r in records] == [e["ref"] for e in cases["identity-ok"]["entries"]]


def _read_payload_ours(lines: list[str]) -> Json:
    header, records = decode_payload(line.encode("utf-8") + b"\n" for line in lines)
    decoded = list(records)
    return {
        "header": json.loads(encode_payload_header(header)),
        "records": [json.loads(encode_record(record)) for record in decoded],
    }


@pytest.mark.parametrize("case", _cases(PAYLOADS, ours=True))
def test_payload_ours(case: Json) -> None:
    if case["expect"] == "ok":
        assert _read_payload_ours(case["lines"]) == {"header": case["header"], "records": case["records"]}
    else:
        with pytest.raises(PayloadDecodeError):
            _read_payload_ours(case["lines"])


def test_payload_ok_is_the_writer_form() -> None:
    """payload-ok's lines are byte for byte what the reference writer (the gateway) writes for those values."""
    cases = {c["name"]: c for c in PAYLOADS["cases"]}
    lines = cases["message-1"]["lines"]
    header, records = decode_payload(x.encode("utf-8") + b"\n" for x in lines)
    written = [encode_payload_header(header), *(encode_record(r) for r in records)]
    assert [x.decode("utf-8").rstrip("\n") for x in written] == lines[:-1]
    assert encode_trailer(len(written) - 1).decode("utf-8").rstrip("\n") == lines[-1]


_MODELS: dict[str, Any] = {
    "submission": SubmissionHeader,
    "delivery": DeliveryHeader,
    "receipt": Receipt,
    "report": ReportHeader,
    "confirmation": Confirmation,
    "refusal": Refusal,
}


@pytest.mark.parametrize("case", _cases(HEADERS, ours=True))
def test_header_ours(case: Json) -> None:
    directory = PublicDirectory.from_document(HEADERS["directory"])
    header, signature = case["header"].encode("latin-1"), bytes.fromhex(case["signature"])
    model = _MODELS[case["verify_as"]]
    if "signature_b64" in case:
        if case["expect"] == "invalid":
            with pytest.raises(InvalidEnvelope):
                strict_b64decode(case["signature_b64"])
            verify_header(header, signature, directory, model)  # the signature itself is good: the text is not
            return
        signature = strict_b64decode(case["signature_b64"])
    if case["expect"] == "valid":
        verified, party = verify_header(header, signature, directory, model)
        assert party.name == case["signer_party"]
        assert encode_header(verified) == header
    elif case["expect"] == "invalid":
        with pytest.raises(InvalidEnvelope):
            verify_header(header, signature, directory, model)
    else:
        with pytest.raises(MessageRefused) as refusal:
            verify_header(header, signature, directory, model)
        assert f"refused:{refusal.value.code}" == case["expect"]


@pytest.mark.parametrize("case", _cases(CANONICAL, ours=True))
def test_canonical_ours(case: Json) -> None:
    data = _canonical_input(case)
    if case["expect"] == "accept":
        assert canonical_json(parse_canonical(data)) == data
    else:
        with pytest.raises(InvalidEnvelope):
            parse_canonical(data)
    if "canonical" in case:
        assert canonical_json(json.loads(data)) == case["canonical"].encode("ascii")
        parse_canonical(case["canonical"].encode("ascii"))


@pytest.mark.parametrize("case", _cases(PSEUDONYMS, ours=True))
def test_pseudonym_ours(case: Json) -> None:
    screened = screen(case["fnr"], case["type"], accept_synthetic=case["synthetic_accepted"])
    if case["expect"] == "refused":
        assert screened == case["rule"]
        assert is_rule_code(screened)
        return
    assert isinstance(screened, fnr.IdentityNumber)
    pseudonymiser = Pseudonymiser(PseudonymKey(version=case["key_version"], secret=bytes.fromhex(case["key"])))
    value = pseudonymiser.pseudonym(screened)
    assert value.hex() == case["pseudonym_hex"]
    assert encode_pseudonym(value) == case["pseudonym_b64url"]
    assert decode_pseudonym(case["pseudonym_b64url"]) == value


@pytest.mark.parametrize("case", _cases(KEY_IDS, ours=True))
def test_key_id_ours(case: Json) -> None:
    public = bytes.fromhex(case["public"])
    assert key_id(case["alg"], public) == case["kid"]
    private = bytes.fromhex(case["private"])
    if case["alg"] == "X25519":
        derived = X25519PrivateKey.from_private_bytes(private).public_key()
        assert derived.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw) == public
    else:
        assert bytes(SigningKey(private).verify_key) == public


@pytest.mark.parametrize("case", _cases(KEY_IDS, "directory_cases", ours=True))
def test_directory_ours(case: Json) -> None:
    if case["expect"] == "ok":
        PublicDirectory.from_document(case["document"])
    else:
        with pytest.raises(KeyFileError):
            PublicDirectory.from_document(case["document"])


# --- (b) independent checker, from docs/envelope-v1.md alone ---------------------------------------------------------
# BEGIN INDEPENDENT CHECKER: nothing between this line and END may use a name imported from the implementation.


class SpecInvalid(Exception):
    """The one opaque error."""


class SpecRefused(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


SPEC_MAX_INT = 2**53 - 1
SPEC_DOCUMENT = SPEC.read_text(encoding="utf-8")


def spec_key_version_max() -> int:
    """The KeyVersion bound of section 7.2's types table, read from the document (digits grouped by spaces)."""
    match = re.search(r"^\| KeyVersion \| integer \| 1 to ([0-9][0-9 ]*[0-9])\b", SPEC_DOCUMENT, re.MULTILINE)
    assert match is not None, "section 7.2 has no KeyVersion row of the form the checker reads"
    return int(match.group(1).replace(" ", ""))


def spec_payload_bounds() -> tuple[dict[str, int], dict[str, tuple[int, int]]]:
    """Section 6.4's Bounds table, read from the document: the strings' most characters, the integers' ranges."""
    section = SPEC_DOCUMENT[SPEC_DOCUMENT.index("### 6.4 ") : SPEC_DOCUMENT.index("### 6.5 ")]
    table = section[section.index("**Bounds.**") :]
    lengths: dict[str, int] = {}
    ranges: dict[str, tuple[int, int]] = {}
    for member, bound in re.findall(r"^\| `(\w+)` \| [^|]* \| ([^|]*) \|", table, re.MULTILINE):
        if most := re.fullmatch(r"at most (\d+) characters", bound.strip()):
            lengths[member] = int(most.group(1))
        elif between := re.fullmatch(r"(-?\d+) to (-?\d+)", bound.strip()):
            ranges[member] = (int(between.group(1)), int(between.group(2)))
        else:
            raise AssertionError(f"section 6.4: a bound the checker cannot read: {bound!r}")
    return lengths, ranges


SPEC_MAX_KEY_VERSION = spec_key_version_max()
SPEC_MAX_CHARS, SPEC_RANGES = spec_payload_bounds()
SPEC_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def spec_escape(text: str) -> str:
    out = ['"']
    for char in text:
        point = ord(char)
        if char in SPEC_SHORT_ESCAPES:
            out.append(SPEC_SHORT_ESCAPES[char])
        elif 0x20 <= point <= 0x7E:
            out.append(char)
        elif 0xD800 <= point <= 0xDFFF:
            raise SpecInvalid("unpaired surrogate")
        elif point > 0xFFFF:
            point -= 0x10000
            out.append(f"\\u{0xD800 + (point >> 10):04x}\\u{0xDC00 + (point & 0x3FF):04x}")
        else:
            out.append(f"\\u{point:04x}")
    out.append('"')
    return "".join(out)


def spec_encode(value: Any) -> bytes:
    """Canonical JSON, written from the spec's rules (not with json.dumps)."""

    def encode(item: Any) -> str:
        if item is None:
            return "null"
        if item is True:
            return "true"
        if item is False:
            return "false"
        if isinstance(item, int):
            if abs(item) > SPEC_MAX_INT:
                raise SpecInvalid("integer out of range")
            return str(item)
        if isinstance(item, str):
            return spec_escape(item)
        if isinstance(item, list):
            return "[" + ",".join(encode(x) for x in item) + "]"
        if isinstance(item, dict):
            return "{" + ",".join(spec_escape(k) + ":" + encode(item[k]) for k in sorted(item)) + "}"
        raise SpecInvalid("not a canonical JSON value")

    return encode(value).encode("ascii")


def spec_decode(data: bytes) -> dict[str, Any]:
    """Parse, refuse duplicates and non-integers, re-encode, compare."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        if len({k for k, _ in items}) != len(items):
            raise SpecInvalid("duplicate member")
        return dict(items)

    def no_number(_: str) -> Any:
        raise SpecInvalid("not an integer")

    try:
        value = json.loads(
            data.decode("ascii"), object_pairs_hook=pairs, parse_float=no_number, parse_constant=no_number
        )
    except ValueError:
        raise SpecInvalid("not JSON") from None
    if not isinstance(value, dict) or spec_encode(value) != data:
        raise SpecInvalid("not canonical")
    return value


SPEC_SUITE = Suite(KEM.X25519, KDF.HKDF_SHA256, AEAD.AES_256_GCM)
SPEC_SEALED_CHUNK = 65536 + 16


def spec_open_part(part: bytes, private: bytes, context: dict[str, str]) -> bytes:
    if len(part) < 8 + 80 or part[:8] != b"IPLOS/1\n":
        raise SpecInvalid("magic or wrapped key")
    info = b"iplos/v1/part\x00" + spec_encode(
        {"format": "iplos-envelope/1", "suite": "X25519-HKDF-SHA256-AES-256-GCM", **context}
    )
    try:
        file_key = SPEC_SUITE.decrypt(part[8:88], X25519PrivateKey.from_private_bytes(private), info=info)
    except (InvalidTag, ValueError):
        raise SpecInvalid("wrapped key") from None
    body_key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"iplos/v1/body").derive(file_key)
    body = part[88:]
    chunks = [body[i : i + SPEC_SEALED_CHUNK] for i in range(0, len(body), SPEC_SEALED_CHUNK)]
    if not chunks or len(chunks[-1]) < 16:
        raise SpecInvalid("no final chunk")
    plaintext = []
    for counter, chunk in enumerate(chunks):
        last = counter == len(chunks) - 1
        nonce = counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")
        try:
            plain = AESGCM(body_key).decrypt(nonce, chunk, None)
        except InvalidTag:
            raise SpecInvalid("chunk") from None
        if last and not plain and counter > 0:
            raise SpecInvalid("empty final chunk after a full chunk")
        plaintext.append(plain)
    return b"".join(plaintext)


def spec_b64_strict(text: Any) -> bytes:
    """Strict base64: the standard alphabet, '=' padding to a multiple of 4, nothing else, unused bits zero."""
    if not isinstance(text, str) or not re.fullmatch(
        r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?", text
    ):
        raise SpecInvalid("not base64")
    value = base64.b64decode(text)
    if base64.b64encode(value).decode("ascii") != text:
        raise SpecInvalid("non-zero unused bits")
    return value


def spec_b64url_32(text: Any) -> bytes:
    if not isinstance(text, str) or not re.fullmatch(r"[A-Za-z0-9_-]{43}", text):
        raise SpecInvalid("pseudonym encoding")
    value = base64.urlsafe_b64decode(text + "=")
    if base64.urlsafe_b64encode(value).rstrip(b"=").decode("ascii") != text:
        raise SpecInvalid("non-canonical base64url")
    return value


SPEC_REF = re.compile(r"[0-9a-f]{32}")
SPEC_RULE_CODE = re.compile(r"[a-z]+(-[a-z]+)*")
SPEC_NUMBER_TYPES = ("FNR", "DNR", "HNR", "FHN")


def spec_rule_code(value: Any) -> bool:
    """A refusal code, known or not: lowercase words joined by hyphens, at most 32 characters, never "ok"."""
    return isinstance(value, str) and len(value) <= 32 and value != "ok" and SPEC_RULE_CODE.fullmatch(value) is not None


SPEC_FINDING_FIELDS: dict[str, Callable[[Any], bool]] = {
    "code": lambda v: isinstance(v, str),
    "detail": lambda v: v is None or isinstance(v, str),
    "field": lambda v: v is None or isinstance(v, str),
    "ref": lambda v: v is None or (isinstance(v, str) and SPEC_REF.fullmatch(v) is not None),
    "severity": lambda v: v in ("error", "warning"),
}


def spec_ref(value: Any) -> str:
    """A record reference: exactly 32 lowercase hex digits (a free-text one could carry an identity number)."""
    if not isinstance(value, str) or SPEC_REF.fullmatch(value) is None:
        raise SpecInvalid("record reference")
    return value


def spec_read_report(objects: list[dict[str, Any]]) -> dict[str, Any]:
    """iplos-report/1 after its content line: the summary line, then one line per finding."""
    if not objects:
        raise SpecInvalid("no summary line")
    summary = objects[0]
    counts = summary.get("counts")
    if (
        set(summary) != {"counts", "records"}
        or type(summary["records"]) is not int
        or not isinstance(counts, dict)
        or not all(type(n) is int for n in counts.values())
    ):
        raise SpecInvalid("summary line")
    for finding in objects[1:]:
        if set(finding) != set(SPEC_FINDING_FIELDS) or not all(
            check(finding[name]) for name, check in SPEC_FINDING_FIELDS.items()
        ):
            raise SpecInvalid("finding")
    return {"summary": summary, "findings": objects[1:]}


def spec_read_contents(plaintext: bytes, content: str, kind: str) -> dict[str, Any]:
    if not plaintext.endswith(b"\n"):
        raise SpecInvalid("no LF at the end")
    lines = plaintext[:-1].split(b"\n")
    if any(len(x) > 1 << 20 for x in lines):
        raise SpecInvalid("line too long")
    if spec_decode(lines[0]) != {"content": content}:
        raise SpecInvalid("content line")
    rest = lines[1:]
    if kind == "payload":
        # Handed to the payload decoder as they are: the envelope neither parses nor re-encodes them.
        try:
            return {"lines": [x.decode("utf-8") for x in rest]}
        except UnicodeDecodeError:
            raise SpecInvalid("payload line is not UTF-8") from None
    objects = [spec_decode(x) for x in rest]
    if kind == "report":
        return spec_read_report(objects)
    if kind == "identity":
        for item in objects:
            if set(item) != {"fid", "ref", "type"} or not all(isinstance(v, str) for v in item.values()):
                raise SpecInvalid("identity record")
            if item["type"] not in SPEC_NUMBER_TYPES:
                raise SpecInvalid("number type")
            spec_ref(item["ref"])
        return {"entries": [{"ref": o["ref"], "fid": o["fid"], "type": o["type"]} for o in objects]}
    if not objects or set(objects[0]) != {"key_version"}:
        raise SpecInvalid("key_version line")
    version = objects[0]["key_version"]
    if type(version) is not int or not 1 <= version <= SPEC_MAX_KEY_VERSION:
        raise SpecInvalid("key_version")
    entries = []
    for item in objects[1:]:
        spec_ref(item.get("ref"))
        if set(item) == {"pseudonym", "ref"}:
            entries.append({"ref": item["ref"], "pseudonym": spec_b64url_32(item["pseudonym"]).hex(), "refused": None})
        elif set(item) == {"ref", "refused"} and spec_rule_code(item["refused"]):
            entries.append({"ref": item["ref"], "pseudonym": None, "refused": item["refused"]})
        else:
            raise SpecInvalid("pseudonym record")
    return {"key_version": version, "entries": entries}


SPEC_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")


class SpecPayloadInvalid(Exception):
    """The payload does not follow iplos-payload/2 (invalid-payload)."""


def spec_payload_int(value: Any) -> bool:
    return type(value) is int and abs(value) <= SPEC_MAX_INT


def spec_payload_date(value: Any) -> bool:
    match = SPEC_DATE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return False
    year, month, day = (int(x) for x in match.groups())
    return year >= 1 and 1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]


def spec_payload_number(value: Any) -> bool:
    """A JSON number whose value, rounded to the nearest double, is finite."""
    if type(value) not in (int, float):
        return False
    try:
        return abs(float(value)) < float("inf")
    except OverflowError:  # an integer beyond every double
        return False


def spec_chars(member: str) -> Callable[[Any], bool]:
    """A string within its Bounds length (characters: Python's len counts code points)."""
    return lambda v: isinstance(v, str) and len(v) <= SPEC_MAX_CHARS[member]


def spec_range(member: str) -> Callable[[Any], bool]:
    """An integer within its Bounds range."""
    return lambda v: spec_payload_int(v) and SPEC_RANGES[member][0] <= v <= SPEC_RANGES[member][1]


def spec_opt(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: v is None or check(v)


def spec_one_of(*values: str) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, str) and v in values


def spec_tuple(*checks: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, list) and len(v) == len(checks) and all(c(x) for c, x in zip(checks, v, strict=True))


def spec_list_of(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, list) and all(check(x) for x in v)


SPEC_TEXT: Callable[[Any], bool] = lambda v: isinstance(v, str)  # noqa: E731
SPEC_BOOL: Callable[[Any], bool] = lambda v: isinstance(v, bool)  # noqa: E731
SPEC_PAYLOAD_HEADER = {
    "bydelNr": spec_opt(spec_chars("bydelNr")),
    "format": spec_one_of("iplos-payload/2"),
    "formatVersjon": SPEC_TEXT,
    "kommuneNr": SPEC_TEXT,
    "kontaktperson": spec_opt(
        lambda v: (
            isinstance(v, dict)
            and set(v) == {"navn", "telefon", "epost"}
            and SPEC_TEXT(v["navn"])
            and spec_opt(SPEC_TEXT)(v["telefon"])
            and spec_opt(SPEC_TEXT)(v["epost"])
        )
    ),
    "leverandor": SPEC_TEXT,
    "meldingGUID": SPEC_TEXT,
    "navnEPJ": SPEC_TEXT,
    "rapporteringsaar": spec_payload_int,
    "versjonEPJ": SPEC_TEXT,
}
SPEC_PAYLOAD_RECORD = {
    "a": spec_list_of(spec_tuple(spec_range("tjenesteType"), spec_opt(spec_payload_date), spec_payload_date)),
    "b": spec_tuple(
        spec_opt(spec_range("bolig")),
        spec_opt(spec_range("husstand")),
        spec_opt(SPEC_BOOL),
        spec_opt(SPEC_BOOL),
        spec_opt(spec_payload_date),
        spec_opt(spec_payload_date),
        spec_opt(spec_payload_date),
        spec_opt(SPEC_BOOL),
    ),
    "d": spec_list_of(spec_tuple(spec_one_of("ICPC-2", "ICD-10"), spec_chars("kode"))),
    "f": spec_list_of(spec_tuple(spec_chars("variabel"), spec_range("skaar"), spec_payload_date)),
    "fa": spec_opt(spec_range("fa")),
    "ft": spec_one_of("FNR", "DNR", "HNR", "FHN"),
    "k": spec_opt(spec_one_of("M", "K")),
    "kl": spec_list_of(
        spec_tuple(
            spec_range("tjenesteType"),
            spec_payload_date,
            spec_opt(spec_one_of("medhold", "delvis", "ikke-medhold", "under-behandling")),
        )
    ),
    "ref": SPEC_TEXT,
    "t": spec_list_of(
        spec_tuple(
            spec_chars("tjenesteID"),
            spec_range("tjenesteType"),
            spec_one_of("N", "M", "T", "C"),
            spec_opt(spec_payload_date),
            spec_opt(spec_payload_date),
            spec_payload_date,
            spec_opt(spec_payload_date),
            spec_opt(spec_payload_number),
            spec_opt(spec_chars("orgNr")),
        )
    ),
    "tv": spec_list_of(
        spec_tuple(
            spec_chars("vedtakID"),
            spec_one_of("HOL9", "PBRL4A"),
            spec_payload_date,
            spec_payload_date,
            spec_opt(spec_payload_date),
        )
    ),
}


def spec_payload_line(text: str) -> dict[str, Any]:
    """One payload line: a JSON object (any spelling), no repeated member, no NaN or Infinity."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        if len({k for k, _ in items}) != len(items):
            raise SpecPayloadInvalid("repeated member")
        return dict(items)

    def constant(_: str) -> Any:
        raise SpecPayloadInvalid("NaN or Infinity")

    try:
        value = json.loads(text, object_pairs_hook=pairs, parse_constant=constant)
    except ValueError:
        raise SpecPayloadInvalid("not JSON") from None
    if not isinstance(value, dict):
        raise SpecPayloadInvalid("not an object")
    if any(0xD800 <= ord(c) <= 0xDFFF or c == "\x00" for text in spec_strings(value) for c in text):
        raise SpecPayloadInvalid("an unpaired surrogate or U+0000")
    return value


def spec_strings(value: Any) -> list[str]:
    """Every string in a JSON value, member names included."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for k, v in value.items() for text in [k, *spec_strings(v)]]
    if isinstance(value, list):
        return [text for item in value for text in spec_strings(item)]
    return []


def spec_read_payload(lines: list[str]) -> dict[str, Any]:
    """iplos-payload/2: the header line, the record lines, the trailer {"antall": n} last."""
    if not lines:
        raise SpecPayloadInvalid("empty")
    if any(len(text.encode("utf-8", "surrogatepass")) > 1 << 20 for text in lines):
        raise SpecPayloadInvalid("a line longer than 1048576 bytes (its LF not counted)")
    header = spec_payload_line(lines[0])
    if header.get("format") != "iplos-payload/2":
        raise SpecPayloadInvalid("another format")
    if set(header) != set(SPEC_PAYLOAD_HEADER) or not all(c(header[k]) for k, c in SPEC_PAYLOAD_HEADER.items()):
        raise SpecPayloadInvalid("header")
    records = []
    for index, text in enumerate(lines[1:], start=1):
        value = spec_payload_line(text)
        if set(value) == {"antall"}:
            if not spec_payload_int(value["antall"]) or value["antall"] != len(records) or index != len(lines) - 1:
                raise SpecPayloadInvalid("trailer")
            return {"header": header, "records": records}
        if set(value) != set(SPEC_PAYLOAD_RECORD) or not all(c(value[k]) for k, c in SPEC_PAYLOAD_RECORD.items()):
            raise SpecPayloadInvalid("record")
        records.append(value)
    raise SpecPayloadInvalid("no trailer")


def spec_key_id(alg: str, public: bytes) -> str:
    return hashlib.sha256(b"iplos/v1/kid\x00" + alg.encode("ascii") + b"\x00" + public).hexdigest()[:16]


def spec_load_directory(document: Any) -> dict[str, tuple[str, str, bytes]]:
    """kid -> (party, alg, public key), refusing what the spec's loader must refuse."""
    if not isinstance(document, dict) or document.get("format") != "iplos-directory/1":
        raise SpecInvalid("directory format")
    keys: dict[str, tuple[str, str, bytes]] = {}
    for party, body in document["parties"].items():
        if body["role"] not in ("municipality", "tpf", "registry"):
            raise SpecInvalid("role")
        for key in body["keys"]:
            public = spec_b64_strict(key["public"])
            if key["alg"] not in ("X25519", "Ed25519") or len(public) != 32:
                raise SpecInvalid("key")
            if key["alg"] == "Ed25519" and not crypto_core_ed25519_is_valid_point(public):
                raise SpecInvalid("not a point of the prime-order subgroup")
            if key["kid"] != spec_key_id(key["alg"], public) or key["kid"] in keys:
                raise SpecInvalid("kid")
            keys[key["kid"]] = (party, key["alg"], public)
    return keys


def spec_str(pattern: str) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, str) and re.fullmatch(pattern, v) is not None


def spec_int(low: int, high: int = SPEC_MAX_INT) -> Callable[[Any], bool]:
    return lambda v: type(v) is int and low <= v <= high


def spec_object(fields: dict[str, Callable[[Any], bool]]) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, dict) and set(v) == set(fields) and all(f(v[k]) for k, f in fields.items())


def spec_either(*checks: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: any(check(v) for check in checks)


def spec_literal(value: Any) -> Callable[[Any], bool]:
    return lambda v: type(v) is type(value) and v == value


SPEC_HEX64, SPEC_KID, SPEC_PARTY = spec_str("[0-9a-f]{64}"), spec_str("[0-9a-f]{16}"), spec_str("[a-z0-9-]{1,40}")
SPEC_UUID = spec_str("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
SPEC_TIME_PATTERN = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})Z")


def spec_time(value: Any) -> bool:
    """A Timestamp: the pattern, and a real UTC second (a date of the Gregorian calendar from year 1, hours 0-23,
    minutes and seconds 0-59)."""
    match = SPEC_TIME_PATTERN.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return False
    year, month, day, hour, minute, second = (int(x) for x in match.groups())
    return (
        year >= 1
        and 1 <= month <= 12
        and 1 <= day <= calendar.monthrange(year, month)[1]
        and hour <= 23
        and minute <= 59
        and second <= 59
    )


SPEC_TIME = spec_time
SPEC_KNR, SPEC_COUNT = spec_str("[0-9]{4}"), spec_int(0, 1_000_000)
SPEC_PART_REF = spec_object(
    {
        "recipient": SPEC_PARTY,
        "recipient_kid": SPEC_KID,
        "content": spec_str("[a-z-]+/[0-9]+"),
        "size": spec_int(0),
        "sha256": SPEC_HEX64,
    }
)
SPEC_COMMON = {
    "format": spec_literal("iplos-envelope/1"),
    "message_id": SPEC_UUID,
    "sender": SPEC_PARTY,
    "signer_kid": SPEC_KID,
}
SPEC_SCHEMAS = {
    "submission": spec_object(
        {
            **SPEC_COMMON,
            "kind": spec_literal("submission"),
            "municipality": SPEC_KNR,
            "year": spec_int(2000, 2100),
            "sequence": spec_int(1),
            "created_at": SPEC_TIME,
            "record_count": SPEC_COUNT,
            "parts": spec_object({"identity": SPEC_PART_REF, "payload": SPEC_PART_REF}),
        }
    ),
    "delivery": spec_object(
        {
            **SPEC_COMMON,
            "kind": spec_literal("delivery"),
            "submission_sha256": SPEC_HEX64,
            "created_at": SPEC_TIME,
            "pseudonym_key_version": spec_int(1, SPEC_MAX_KEY_VERSION),
            "counts": spec_object({"records": SPEC_COUNT, "pseudonymised": SPEC_COUNT, "refused": SPEC_COUNT}),
            "parts": spec_object({"pseudonyms": SPEC_PART_REF}),
        }
    ),
    "receipt": spec_object(
        {
            **SPEC_COMMON,
            "kind": spec_literal("receipt"),
            "submission_sha256": SPEC_HEX64,
            "municipality": SPEC_KNR,
            "year": spec_int(-SPEC_MAX_INT),
            "sequence": spec_int(-SPEC_MAX_INT),
            "status": spec_either(spec_literal("stored"), spec_literal("held"), spec_literal("refused")),
            "reason": spec_either(spec_literal(None), spec_str("(?s).*")),
            "records_stored": SPEC_COUNT,
            "identities_refused": SPEC_COUNT,
            "supersedes": spec_either(spec_literal(None), SPEC_UUID),
            "received_at": SPEC_TIME,
            "report_path": spec_either(spec_literal(None), spec_str(r"/[A-Za-z0-9/_-]{1,200}")),
        }
    ),
    "confirmation": spec_object(
        {
            **SPEC_COMMON,
            "kind": spec_literal("confirmation"),
            "submission_sha256": SPEC_HEX64,
            "municipality": SPEC_KNR,
            "year": spec_int(2000, 2100),
            "created_at": SPEC_TIME,
        }
    ),
    "refusal": spec_object(
        {
            **SPEC_COMMON,
            "kind": spec_literal("refusal"),
            "submission_sha256": SPEC_HEX64,
            "problem": spec_str("[a-z][a-z0-9-]{0,63}"),
            "upstream": spec_either(spec_literal(None), spec_str("[a-z][a-z0-9-]{0,63}")),
            "created_at": SPEC_TIME,
        }
    ),
    "report": spec_object(
        {
            **SPEC_COMMON,
            "kind": spec_literal("report"),
            "recipient": SPEC_PARTY,
            "submission_sha256": SPEC_HEX64,
            "created_at": SPEC_TIME,
            "finding_count": SPEC_COUNT,
            "parts": spec_object({"report": SPEC_PART_REF}),
        }
    ),
}


def spec_verify_header(data: bytes, signature: bytes, directory: Any, kind: str) -> str:
    """The party that signed, after the spec's steps in the spec's order."""
    header = spec_decode(data)
    if not spec_literal("iplos-envelope/1")(header.get("format")) or not spec_literal(kind)(header.get("kind")):
        raise SpecInvalid("not an iplos-envelope/1 header of the expected kind")
    kid = header.get("signer_kid")
    if not isinstance(kid, str):
        raise SpecInvalid("signer_kid")
    entry = spec_load_directory(directory).get(kid)
    if entry is None or entry[1] != "Ed25519":
        raise SpecRefused("unknown-key")
    party, _, public = entry
    if len(signature) != 64:
        raise SpecInvalid("signature length")
    try:
        VerifyKey(public).verify(b"iplos/v1/signature\x00" + data, signature)
    except BadSignatureError:
        raise SpecInvalid("signature") from None
    if not SPEC_SCHEMAS[kind](header):
        raise SpecInvalid("schema")
    if header["sender"] != party:
        raise SpecRefused("sender-mismatch")
    return party


def spec_pseudonym(key: bytes, number: str) -> bytes:
    return hmac.digest(key, b"iplos/v1/pseudonym\x00" + number.encode("ascii"), "sha256")


def spec_refusal(number: str, declared: str, synthetic_accepted: bool) -> str | None:
    """The refusal code for an identity number, or None if it gets a pseudonym: the number rules, then the
    TPF's policy rules (the declared type, then synthetic numbers)."""
    rule = spec_number_rule(number)
    if rule is not None:
        return rule
    d = [int(c) for c in number]
    month = d[2] * 10 + d[3]
    kind = "FHN" if d[0] >= 8 else "DNR" if d[0] >= 4 else "HNR" if 40 < month <= 80 else "FNR"
    if kind != declared:
        return "type-mismatch"
    if month > 80 and d[0] < 8 and not synthetic_accepted:
        return "synthetic-number"
    return None


def spec_number_rule(number: str) -> str | None:
    """The number rules of section 12.2 alone."""
    if len(number) != 11:
        return "length"
    if any(c not in "0123456789" for c in number):
        return "digits"
    d = [int(c) for c in number]
    k1 = sum(w * x for w, x in zip((3, 7, 6, 1, 8, 9, 4, 5, 2, 1), d[:10], strict=True)) % 11
    k2 = sum(w * x for w, x in zip((5, 4, 3, 2, 7, 6, 5, 4, 3, 2, 1), d, strict=True)) % 11
    if k1 > 3 or k2 != 0:
        return "check-digit"
    if d[0] >= 8:
        return None
    day, month, yy, individual = d[0] * 10 + d[1], d[2] * 10 + d[3], d[4] * 10 + d[5], d[6] * 100 + d[7] * 10 + d[8]
    day -= 40 if d[0] >= 4 else 0
    month -= 80 if month > 80 else 40 if month > 40 else 0
    if not (1 <= day <= 31 and 1 <= month <= 12):
        return "date"
    if k1 == 0:
        if individual < 500:
            years = [1900 + yy]
        elif yy <= 39:
            years = [2000 + yy]
        elif individual < 750 and yy >= 54:
            years = [1800 + yy]
        elif individual >= 900:
            years = [1900 + yy]
        else:
            return "individual-number"
    else:
        years = [1900 + yy, 2000 + yy]
    return None if any(day <= calendar.monthrange(y, month)[1] for y in years) else "date"


# END INDEPENDENT CHECKER


def test_checker_is_independent() -> None:
    """The checker section uses no name that came from the implementation (``shared``)."""
    source = Path(__file__).read_text(encoding="utf-8")
    section = source[source.index("# BEGIN INDEPENDENT CHECKER") : source.index("# END INDEPENDENT CHECKER")]
    used = {node.id for node in ast.walk(ast.parse(section)) if isinstance(node, ast.Name)}
    from_shared = {
        name
        for name, value in globals().items()
        if (getattr(value, "__module__", None) or getattr(value, "__name__", "")).startswith("shared")
    }
    assert from_shared, "the implementation's names should be visible here"
    assert not used & from_shared
    assert "shared" not in used


def test_the_checker_reads_every_bound_from_the_spec() -> None:
    """The checker takes section 6.4's Bounds and 7.2's KeyVersion from the document's text: a row it cannot read
    fails the import, and a row that went missing fails here (instead of a bound quietly not being checked)."""
    assert SPEC_MAX_CHARS == {"bydelNr": 6, "variabel": 64, "kode": 10, "tjenesteID": 40, "orgNr": 9, "vedtakID": 40}
    assert SPEC_RANGES == {
        "fa": (1, 9999),
        "bolig": (0, 99),
        "husstand": (0, 99),
        "skaar": (0, 9),
        "tjenesteType": (0, 999),
    }
    assert SPEC_MAX_KEY_VERSION == 999_999_999


def test_our_bounds_are_the_specs() -> None:
    """The decoder's and the headers' bounds are the ones the document states (the vectors then pin each)."""
    assert (MAX_CHARS, INT_RANGES) == (SPEC_MAX_CHARS, SPEC_RANGES)
    assert MAX_KEY_VERSION == SPEC_MAX_KEY_VERSION
    assert MAX_LINE_BYTES == MAX_LINE == 1 << 20


@pytest.mark.parametrize("case", _cases(PARTS))
def test_part_spec(case: Json) -> None:
    def run() -> bytes:
        return spec_open_part(_part_bytes(case), bytes.fromhex(case["recipient_private"]), case["context"])

    info = spec_encode({"format": "iplos-envelope/1", "suite": "X25519-HKDF-SHA256-AES-256-GCM", **case["context"]})
    assert b"iplos/v1/part\x00" + info == case["info"].encode("ascii")
    if case["expect"] == "ok":
        plaintext = run()
        assert hashlib.sha256(plaintext).hexdigest() == case["plaintext_sha256"]
        if "plaintext" in case:
            assert plaintext == base64.b64decode(case["plaintext"])
    else:
        with pytest.raises(SpecInvalid):
            run()


@pytest.mark.parametrize("case", _cases(CONTENTS))
def test_contents_spec(case: Json) -> None:
    def run() -> dict[str, Any]:
        plaintext = spec_open_part(_part_bytes(case), bytes.fromhex(case["recipient_private"]), case["context"])
        if "plaintext" in case:
            assert plaintext == base64.b64decode(case["plaintext"])
        else:  # a large body is given by its size and digest
            assert (len(plaintext), hashlib.sha256(plaintext).hexdigest()) == (
                case["plaintext_size"],
                case["plaintext_sha256"],
            )
        return spec_read_contents(plaintext, case["content"], case["context"]["kind"])

    if case["expect"] == "ok":
        assert run() == _expected_contents(case)
    else:
        with pytest.raises(SpecInvalid):
            run()


@pytest.mark.parametrize("case", _cases(PAYLOADS))
def test_payload_spec(case: Json) -> None:
    if case["expect"] == "ok":
        assert spec_read_payload(case["lines"]) == {"header": case["header"], "records": case["records"]}
    else:
        with pytest.raises(SpecPayloadInvalid):
            spec_read_payload(case["lines"])


@pytest.mark.parametrize("case", _cases(HEADERS))
def test_header_spec(case: Json) -> None:
    header, signature = case["header"].encode("latin-1"), bytes.fromhex(case["signature"])
    directory, kind = HEADERS["directory"], case["verify_as"]
    if "signature_b64" in case:
        if case["expect"] == "invalid":
            with pytest.raises(SpecInvalid):
                spec_b64_strict(case["signature_b64"])
            spec_verify_header(header, signature, directory, kind)  # the signature itself is good: the text is not
            return
        signature = spec_b64_strict(case["signature_b64"])
    if case["expect"] == "valid":
        assert spec_verify_header(header, signature, directory, kind) == case["signer_party"]
        assert hashlib.sha256(header).hexdigest() == case["header_sha256"]
    elif case["expect"] == "invalid":
        with pytest.raises(SpecInvalid):
            spec_verify_header(header, signature, directory, kind)
    else:
        with pytest.raises(SpecRefused) as refusal:
            spec_verify_header(header, signature, directory, kind)
        assert f"refused:{refusal.value.code}" == case["expect"]


@pytest.mark.parametrize("case", _cases(CANONICAL))
def test_canonical_spec(case: Json) -> None:
    data = _canonical_input(case)
    if case["expect"] == "accept":
        assert spec_encode(spec_decode(data)) == data
    else:
        with pytest.raises(SpecInvalid):
            spec_decode(data)
    if "canonical" in case:
        assert spec_encode(json.loads(data)) == case["canonical"].encode("ascii")


@pytest.mark.parametrize("case", _cases(PSEUDONYMS))
def test_pseudonym_spec(case: Json) -> None:
    assert PSEUDONYMS["label"] == "iplos/v1/pseudonym"
    refusal = spec_refusal(case["fnr"], case["type"], case["synthetic_accepted"])
    if case["expect"] == "refused":
        assert refusal == case["rule"]
        assert SPEC_RULE_CODE.fullmatch(refusal)
        return
    assert refusal is None
    value = spec_pseudonym(bytes.fromhex(case["key"]), case["fnr"])
    assert value.hex() == case["pseudonym_hex"]
    assert spec_b64url_32(case["pseudonym_b64url"]) == value


@pytest.mark.parametrize("case", _cases(KEY_IDS))
def test_key_id_spec(case: Json) -> None:
    public, private = bytes.fromhex(case["public"]), bytes.fromhex(case["private"])
    assert spec_key_id(case["alg"], public) == case["kid"]
    derived = (
        X25519PrivateKey.from_private_bytes(private).public_key()
        if case["alg"] == "X25519"
        else Ed25519PrivateKey.from_private_bytes(private).public_key()
    )
    assert derived.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw) == public


@pytest.mark.parametrize("case", _cases(KEY_IDS, "directory_cases"))
def test_directory_spec(case: Json) -> None:
    if case["expect"] == "ok":
        spec_load_directory(case["document"])
    else:
        with pytest.raises(SpecInvalid):
            spec_load_directory(case["document"])
