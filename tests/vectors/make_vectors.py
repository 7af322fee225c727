"""Generate the test-vector kit of the sealed-message format v1 (docs/envelope-v1.md, "Test vectors").

    .venv/bin/python tests/vectors/make_vectors.py           # rewrite the JSON files next to this script
    .venv/bin/python tests/vectors/make_vectors.py --check   # exit 1 if a file differs from what it would write

The generator is written from the spec, not from ``shared.envelope``: it imports nothing from the implementation
except ``shared.fnr`` (to make synthetic identity numbers). Every value is deterministic: keys, file keys, HPKE
ephemeral keys and message ids come from fixed seeds (SHA-256 of a label and a name), and the HPKE wrap is a
hand-written RFC 9180 SealBase with that fixed ephemeral key (the library's ``Suite.encrypt`` draws a fresh one),
checked here against ``Suite.decrypt``. Running it again therefore writes byte-identical files, and
``tests/shared/test_vectors.py`` checks that it does.

Identity numbers are synthetic only (Skatteetaten's Tenor form, month + 80); the script refuses to write a file
that contains an eleven-digit run that would pass as an ordinary identity number.

Cases marked ``"divergence"`` state what the spec requires where the reference implementation does not (yet)
comply; the spec's appendix lists them, and the vector tests expect our implementation to fail those cases.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import re
import sys
import uuid
from datetime import date
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite
from cryptography.hazmat.primitives.kdf.hkdf import HKDF, HKDFExpand
from nacl.signing import SigningKey

from shared.fnr import InvalidCheckDigit, check_digits, make_synthetic

HERE = Path(__file__).resolve().parent
SEED_LABEL = b"iplos-chain/test-vectors/v1\x00"

MAGIC = b"IPLOS/1\n"
WRAP_LABEL = b"iplos/v1/part\x00"
BODY_LABEL = b"iplos/v1/body"
SIGN_LABEL = b"iplos/v1/signature\x00"
KID_LABEL = b"iplos/v1/kid\x00"
PSEUDONYM_LABEL = b"iplos/v1/pseudonym"
FORMAT = "iplos-envelope/1"
SUITE_NAME = "X25519-HKDF-SHA256-AES-256-GCM"
CHUNK = 64 * 1024
TAG = 16
INLINE_PLAINTEXT_MAX = 4096  # larger plaintexts are given by size and SHA-256 only, to keep the files small

Json = dict[str, Any]


# --- deterministic material ---------------------------------------------------------------------------------------


def seed(name: str) -> bytes:
    return hashlib.sha256(SEED_LABEL + name.encode("ascii")).digest()


def message_id(name: str) -> str:
    return str(uuid.UUID(bytes=seed("message-id/" + name)[:16], version=4))


def raw_public(key: X25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def x25519(name: str) -> X25519PrivateKey:
    return X25519PrivateKey.from_private_bytes(seed(name))


def ed25519(name: str) -> SigningKey:
    return SigningKey(seed(name))


def key_id(alg: str, public: bytes) -> str:
    return hashlib.sha256(KID_LABEL + alg.encode("ascii") + b"\x00" + public).hexdigest()[:16]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode("ascii")


class Party:
    def __init__(self, name: str, role: str, municipality: str | None) -> None:
        self.name, self.role, self.municipality = name, role, municipality
        self.encryption = x25519(name + "/encryption")
        self.signing = ed25519(name + "/signing")
        self.encryption_public = raw_public(self.encryption)
        self.signing_public = bytes(self.signing.verify_key)
        self.encryption_kid = key_id("X25519", self.encryption_public)
        self.signing_kid = key_id("Ed25519", self.signing_public)

    def directory_entry(self) -> Json:
        return {
            "role": self.role,
            "municipality": self.municipality,
            "keys": [
                {"kid": self.encryption_kid, "alg": "X25519", "public": b64(self.encryption_public)},
                {"kid": self.signing_kid, "alg": "Ed25519", "public": b64(self.signing_public)},
            ],
        }


KOMMUNE = Party("kommune-0301", "municipality", "0301")
KOMMUNE_2 = Party("kommune-4601", "municipality", "4601")
TPF = Party("tpf", "tpf", None)
REGISTRY = Party("registry", "registry", None)
OUTSIDER = Party("outsider", "municipality", "9999")  # holds keys but is not in the directory
PARTIES = (KOMMUNE, KOMMUNE_2, TPF, REGISTRY)
MESSAGE_ID = message_id("message-1")


def directory_document() -> Json:
    return {"format": "iplos-directory/1", "parties": {p.name: p.directory_entry() for p in PARTIES}}


# --- HPKE SealBase (RFC 9180) with a fixed ephemeral key ----------------------------------------------------------

_KEM_ID, _KDF_ID, _AEAD_ID = 0x0020, 0x0001, 0x0002
_KEM_SUITE = b"KEM" + _KEM_ID.to_bytes(2, "big")
_HPKE_SUITE = b"HPKE" + _KEM_ID.to_bytes(2, "big") + _KDF_ID.to_bytes(2, "big") + _AEAD_ID.to_bytes(2, "big")
_SUITE = Suite(KEM.X25519, KDF.HKDF_SHA256, AEAD.AES_256_GCM)


def _labeled_extract(suite_id: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
    return hmac.digest(salt, b"HPKE-v1" + suite_id + label + ikm, "sha256")


def _labeled_expand(suite_id: bytes, prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
    labeled = length.to_bytes(2, "big") + b"HPKE-v1" + suite_id + label + info
    return HKDFExpand(algorithm=hashes.SHA256(), length=length, info=labeled).derive(prk)


def hpke_seal_base(recipient: X25519PublicKey, info: bytes, plaintext: bytes, ephemeral: bytes) -> bytes:
    """enc || ciphertext of RFC 9180 SealBase, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM, aad empty."""
    sk_e = X25519PrivateKey.from_private_bytes(ephemeral)
    enc = raw_public(sk_e)
    pk_r = recipient.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    eae_prk = _labeled_extract(_KEM_SUITE, b"", b"eae_prk", sk_e.exchange(recipient))
    shared_secret = _labeled_expand(_KEM_SUITE, eae_prk, b"shared_secret", enc + pk_r, 32)
    psk_id_hash = _labeled_extract(_HPKE_SUITE, b"", b"psk_id_hash", b"")
    info_hash = _labeled_extract(_HPKE_SUITE, b"", b"info_hash", info)
    context = b"\x00" + psk_id_hash + info_hash
    secret = _labeled_extract(_HPKE_SUITE, shared_secret, b"secret", b"")
    key = _labeled_expand(_HPKE_SUITE, secret, b"key", context, 32)
    base_nonce = _labeled_expand(_HPKE_SUITE, secret, b"base_nonce", context, 12)
    return enc + AESGCM(key).encrypt(base_nonce, plaintext, b"")


# --- sealed parts ----------------------------------------------------------------------------------------------------


def context(kind: str, sender: Party, recipient: Party, message: str = MESSAGE_ID) -> Json:
    return {
        "kind": kind,
        "sender": sender.name,
        "recipient": recipient.name,
        "recipient_kid": recipient.encryption_kid,
        "message_id": message,
    }


def info_bytes(ctx: Json) -> bytes:
    return WRAP_LABEL + canonical({"format": FORMAT, "suite": SUITE_NAME, **ctx})


class Sealer:
    """One part's file key and header; chunks are sealed one by one so that tampered layouts can be built."""

    def __init__(self, name: str, recipient: Party, ctx: Json) -> None:
        self.file_key = seed(f"parts/{name}/file-key")
        self.header = MAGIC + hpke_seal_base(
            recipient.encryption.public_key(), info_bytes(ctx), self.file_key, seed(f"parts/{name}/ephemeral")
        )
        assert _SUITE.decrypt(self.header[len(MAGIC) :], recipient.encryption, info=info_bytes(ctx)) == self.file_key
        body_key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=BODY_LABEL).derive(self.file_key)
        self.aead = AESGCM(body_key)

    def chunk(self, counter: int, last: bool, data: bytes) -> bytes:
        return self.aead.encrypt(counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00"), data, None)

    def seal(self, body: bytes) -> bytes:
        """The canonical encoding: full chunks, then one final chunk of 1..64 KiB (empty only for an empty body)."""
        pieces = [body[i : i + CHUNK] for i in range(0, len(body), CHUNK)] or [b""]
        return self.header + b"".join(self.chunk(i, i == len(pieces) - 1, p) for i, p in enumerate(pieces))


def pattern(size: int, salt: str) -> bytes:
    """Deterministic, non-repeating filler for big bodies."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{salt}/{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


Segment = bytes | str  # bytes, or the name of an entry in SHARED_SEGMENTS
SHARED_SEGMENTS: dict[str, bytes] = {}


def part_case(
    name: str, comment: str, recipient: Party, ctx: Json, part: bytes | list[Segment], sealer: Sealer, **extra: Any
) -> Json:
    segments = [part] if isinstance(part, bytes) else part
    whole = b"".join(SHARED_SEGMENTS[s] if isinstance(s, str) else s for s in segments)
    case: Json = {
        "name": name,
        "comment": comment,
        "recipient_private": recipient.encryption.private_bytes_raw().hex(),
        "recipient_public": recipient.encryption_public.hex(),
        "context": ctx,
        "info": info_bytes(ctx).decode("ascii"),
        "file_key": sealer.file_key.hex(),
    }
    case.update(extra)
    case["part_size"] = len(whole)
    case["part_sha256"] = sha256(whole)
    case["part"] = ["@" + s if isinstance(s, str) else b64(s) for s in segments]
    return case


def ok(plaintext: bytes) -> Json:
    result: Json = {"expect": "ok", "plaintext_size": len(plaintext), "plaintext_sha256": sha256(plaintext)}
    if len(plaintext) <= INLINE_PLAINTEXT_MAX:
        result["plaintext"] = b64(plaintext)
    return result


FAIL: Json = {"expect": "fail"}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def flip(data: bytes, index: int, mask: int = 0x01) -> bytes:
    changed = bytearray(data)
    changed[index] ^= mask
    return bytes(changed)


# --- synthetic identity numbers and pseudonyms ------------------------------------------------------------------------


def synthetic(birth: date, individual: int, *, d_number: bool = False) -> str:
    """The first Tenor-form number at or after ``individual`` with valid check digits."""
    for candidate in range(individual, individual + 40):
        number = make_synthetic(birth, candidate, d_number=d_number)
        if number is not None:
            return number
    raise ValueError("no synthetic number near that individual number")


FNR_A = synthetic(date(1957, 3, 14), 123)
FNR_B = synthetic(date(2004, 11, 2), 512)
FNR_C = synthetic(date(1988, 6, 30), 940, d_number=True)
FNR_D = synthetic(date(1892, 1, 9), 601)
FNR_E = synthetic(date(2020, 2, 29), 777)
FNR_BAD_CHECK = FNR_A[:10] + str((int(FNR_A[10]) + 1) % 10)

PSEUDONYM_KEYS = {
    1: seed("pseudonym-key/v1"),
    2: seed("pseudonym-key/v2") + seed("pseudonym-key/v2/b"),  # 64 bytes: HMAC's block size
    3: b"".join(seed(f"pseudonym-key/v3/{i}") for i in range(3))[:80],  # 80 bytes: longer than a block
}


def pseudonym(key: bytes, number: str) -> bytes:
    return hmac.digest(key, PSEUDONYM_LABEL + b"\x00" + number.encode("ascii"), "sha256")


# --- contents.json: the three part kinds of one message -----------------------------------------------------------


def line(value: Json) -> bytes:
    return canonical(value) + b"\n"


REFS = [seed(f"ref/{i}")[:16].hex() for i in range(4)]
IDENTITIES = [
    {"ref": REFS[0], "fid": FNR_A, "type": "FNR"},
    {"ref": REFS[1], "fid": FNR_C, "type": "DNR"},
    {"ref": REFS[2], "fid": FNR_BAD_CHECK, "type": "FNR"},
]
PSEUDONYM_ENTRIES: list[Json] = [
    {"ref": REFS[0], "pseudonym": pseudonym(PSEUDONYM_KEYS[1], FNR_A).hex(), "refused": None},
    {"ref": REFS[1], "pseudonym": pseudonym(PSEUDONYM_KEYS[1], FNR_C).hex(), "refused": None},
    {"ref": REFS[2], "pseudonym": None, "refused": "check-digit"},
]


def payload_line(value: Json) -> bytes:
    """A line as shared/iplos/payload.py writes it: sorted keys, no white space, UTF-8 (not canonical JSON)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


NO_BACKGROUND = [None] * 8
# An iplos-payload/2 stream for the three records: a header line, one line per record, the trailer last. The
# envelope hands these lines to the payload decoder as they are: UTF-8, floats allowed, not canonical JSON.
PAYLOAD_LINES = [
    payload_line(
        {
            "bydelNr": "030199",
            "format": "iplos-payload/2",
            "formatVersjon": "1.1",
            "kommuneNr": "0301",
            "kontaktperson": {"epost": "kontakt@example.invalid", "navn": "Bj\u00f8rg Testesen", "telefon": None},
            "leverandor": "Testleverand\u00f8r",
            "meldingGUID": message_id("payload-guid"),
            "navnEPJ": "Test-EPJ",
            "rapporteringsaar": 2024,
            "versjonEPJ": "1.0",
        }
    ),
    payload_line(
        {
            "a": [],
            "b": [2, 1, True, False, None, "2025-04-02", None, False],
            "d": [["ICPC-2", "T90"]],
            "f": [["sosialDeltakelse", 2, "2024-03-01"]],
            "fa": 1957,
            "ft": "FNR",
            "k": "K",
            "kl": [],
            "ref": REFS[0],
            "t": [["100001-01", 15, "N", "2024-01-10", "2024-01-20", "2024-02-01", None, 3.5, "974760673"]],
            "tv": [],
        }
    ),
    payload_line(
        {
            "a": [],
            "b": NO_BACKGROUND,
            "d": [],
            "f": [],
            "fa": 1988,
            "ft": "DNR",
            "k": "M",
            "kl": [],
            "ref": REFS[1],
            "t": [["100002-01", 15, "N", None, "2022-12-20", "2023-01-05", "2023-06-30", 3.5, "974760673"]],
            "tv": [],
        }
    ),
    payload_line(
        {
            "a": [],
            "b": NO_BACKGROUND,
            "d": [],
            "f": [],
            "fa": None,
            "ft": "FNR",
            "k": None,
            "kl": [],
            "ref": REFS[2],
            "t": [],
            "tv": [],
        }
    ),
    payload_line({"antall": 3}),
]
# The registry's control report on that message (iplos-report/1): the summary, then the findings, those about
# the whole submission first, then in record order. Codes are docs/controls.md's; details may hold non-ASCII.
REPORT_SUMMARY: Json = {"counts": {"K004": 1, "K005": 1, "K012": 1, "K017": 1}, "records": 3}
REPORT_FINDINGS: list[Json] = [
    {"code": "K004", "detail": "bydelNr 030199 for 0301", "field": "bydelNr", "ref": None, "severity": "error"},
    {"code": "K012", "detail": "2025-04-02", "field": "bakgrunn.vurdertAvLege", "ref": REFS[0], "severity": "warning"},
    {
        "code": "K017",
        "detail": "100002-01: 2023-01-05 \u2013 2023-06-30",
        "field": "tjenester[1].startdato",
        "ref": REFS[1],
        "severity": "error",
    },
    {"code": "K005", "detail": "avvist: check-digit", "field": "fid", "ref": REFS[2], "severity": "error"},
]


def identity_body(entries: list[Json]) -> bytes:
    return line({"content": "iplos-identities/1"}) + b"".join(
        line({"fid": e["fid"], "ref": e["ref"], "type": e["type"]}) for e in entries
    )


def pseudonym_line(entry: Json) -> bytes:
    if entry["refused"] is not None:
        return line({"ref": entry["ref"], "refused": entry["refused"]})
    return line({"pseudonym": b64url(bytes.fromhex(entry["pseudonym"])), "ref": entry["ref"]})


def pseudonyms_body(key_version: int, entries: list[Json]) -> bytes:
    head = line({"content": "iplos-pseudonyms/1"}) + line({"key_version": key_version})
    return head + b"".join(pseudonym_line(e) for e in entries)


def payload_body() -> bytes:
    return line({"content": "iplos-payload/2"}) + b"".join(x + b"\n" for x in PAYLOAD_LINES)


def report_body(summary: Json | None, findings: list[Json]) -> bytes:
    head = line({"content": "iplos-report/1"}) + (b"" if summary is None else line(summary))
    return head + b"".join(line(f) for f in findings)


KINDS = {
    "identity": (KOMMUNE, TPF, "iplos-identities/1"),
    "payload": (KOMMUNE, REGISTRY, "iplos-payload/2"),
    "pseudonyms": (TPF, REGISTRY, "iplos-pseudonyms/1"),
    "report": (REGISTRY, KOMMUNE, "iplos-report/1"),
}


def contents_case(name: str, kind: str, body: bytes, comment: str, expect: Json, **extra: Any) -> Json:
    sender, recipient, content = KINDS[kind]
    ctx = context(kind, sender, recipient)
    part = Sealer("contents/" + name, recipient, ctx).seal(body)
    case: Json = {
        "name": name,
        "comment": comment,
        "recipient_private": recipient.encryption.private_bytes_raw().hex(),
        "context": ctx,
        "content": content,
    }
    if len(body) <= INLINE_PLAINTEXT_MAX:
        case["plaintext"] = b64(body)
    else:  # the line-limit cases: a megabyte is given once, in the part, not again in plain
        case.update(plaintext_size=len(body), plaintext_sha256=sha256(body))
    case.update(part=b64(part), part_size=len(part), part_sha256=sha256(part))
    case.update(extra)
    case.update(expect)
    return case


def make_contents() -> Json:
    ident_ok = identity_body(IDENTITIES)
    pseud_ok = pseudonyms_body(1, PSEUDONYM_ENTRIES)
    pseudonym_text = b64url(pseudonym(PSEUDONYM_KEYS[1], FNR_A))
    cases = [
        contents_case(
            "identity-ok",
            "identity",
            ident_ok,
            "Three records; the third number fails its check digit (the TPF refuses it, the envelope is fine).",
            {"expect": "ok", "entries": IDENTITIES},
        ),
        contents_case(
            "pseudonyms-ok",
            "pseudonyms",
            pseud_ok,
            "Key version 1; two pseudonyms (HMAC under pseudonyms.json key v1) and one refusal.",
            {"expect": "ok", "key_version": 1, "entries": PSEUDONYM_ENTRIES},
        ),
        contents_case(
            "payload-ok",
            "payload",
            payload_body(),
            'The content line, then an iplos-payload/2 stream (header, three records, trailer {"antall":3}) in '
            "UTF-8, returned as they are (without their LF): the envelope does not read payload lines as JSON.",
            {"expect": "ok", "lines": [x.decode("utf-8") for x in PAYLOAD_LINES]},
        ),
        contents_case(
            "report-ok",
            "report",
            report_body(REPORT_SUMMARY, REPORT_FINDINGS),
            "The registry's report on the message: the summary, one finding about the whole submission (ref null), "
            "three about records; a detail with a non-ASCII character (escaped as \\u2013).",
            {"expect": "ok", "summary": REPORT_SUMMARY, "findings": REPORT_FINDINGS},
        ),
        contents_case(
            "report-ok-no-findings",
            "report",
            report_body({"counts": {}, "records": 3}, []),
            "A report without findings: the summary line with empty counts, and nothing after it.",
            {"expect": "ok", "summary": {"counts": {}, "records": 3}, "findings": []},
        ),
        contents_case("empty-body", "identity", b"", "No content line at all.", FAIL),
        contents_case(
            "no-content-line",
            "identity",
            line({"fid": FNR_A, "ref": REFS[0], "type": "FNR"}),
            "The first line is a record, not the content line.",
            FAIL,
        ),
        contents_case(
            "wrong-content-line",
            "identity",
            line({"content": "iplos-identities/2"}) + line({"fid": FNR_A, "ref": REFS[0], "type": "FNR"}),
            "The content line names another format than the signed header's part reference.",
            FAIL,
        ),
        contents_case(
            "content-line-extra-member",
            "identity",
            line({"content": "iplos-identities/1", "x": 1}),
            "The content line has a member besides content.",
            FAIL,
        ),
        contents_case(
            "missing-final-lf",
            "identity",
            ident_ok[:-1],
            "The last line does not end with LF.",
            FAIL,
        ),
        contents_case(
            "empty-line",
            "identity",
            line({"content": "iplos-identities/1"}) + b"\n",
            "An empty line.",
            FAIL,
        ),
        contents_case(
            "identity-extra-member",
            "identity",
            line({"content": "iplos-identities/1"}) + line({"fid": FNR_A, "ref": REFS[0], "type": "FNR", "x": "y"}),
            "A record with a fourth member.",
            FAIL,
        ),
        contents_case(
            "identity-number-not-string",
            "identity",
            line({"content": "iplos-identities/1"}) + line({"fid": int(FNR_A), "ref": REFS[0], "type": "FNR"}),
            "fid is a JSON number, not a string.",
            FAIL,
        ),
        contents_case(
            "identity-not-object",
            "identity",
            line({"content": "iplos-identities/1"}) + b'["' + FNR_A.encode() + b'"]\n',
            "A record that is a JSON array.",
            FAIL,
        ),
        contents_case(
            "identity-duplicate-key",
            "identity",
            line({"content": "iplos-identities/1"})
            + f'{{"fid":"{FNR_A}","fid":"{FNR_B}","ref":"{REFS[0]}","type":"FNR"}}\n'.encode(),
            "A record with fid twice: lines are canonical JSON, so duplicates are refused.",
            FAIL,
        ),
        contents_case(
            "identity-non-canonical-spacing",
            "identity",
            line({"content": "iplos-identities/1"})
            + f'{{"fid": "{FNR_A}", "ref": "{REFS[0]}", "type": "FNR"}}\n'.encode(),
            "A record with spaces after the separators: lines are canonical JSON.",
            FAIL,
        ),
        contents_case(
            "identity-ref-identity-number",
            "identity",
            line({"content": "iplos-identities/1"}) + line({"fid": FNR_A, "ref": FNR_B, "type": "FNR"}),
            "ref is an (synthetic) identity number: a reference is 32 lowercase hex digits, nothing else, so a "
            "reference cannot carry an identity number past the TPF into the registry.",
            FAIL,
        ),
        contents_case(
            "identity-ref-uppercase",
            "identity",
            line({"content": "iplos-identities/1"}) + line({"fid": FNR_A, "ref": REFS[0].upper(), "type": "FNR"}),
            "ref in upper-case hex.",
            FAIL,
        ),
        contents_case(
            "identity-every-type",
            "identity",
            identity_body(
                [
                    {"ref": REFS[0], "fid": FNR_A, "type": "FNR"},
                    {"ref": REFS[1], "fid": FNR_C, "type": "DNR"},
                    {"ref": REFS[2], "fid": FNR_B, "type": "HNR"},
                    {"ref": REFS[3], "fid": FNR_E, "type": "FHN"},
                ]
            ),
            "The four number types. The reader checks the declared type's spelling, not the number: an ordinary "
            "number declared HNR or FHN is the TPF's policy refusal type-mismatch (pseudonyms.json), not a "
            "malformed part.",
            {
                "expect": "ok",
                "entries": [
                    {"ref": REFS[0], "fid": FNR_A, "type": "FNR"},
                    {"ref": REFS[1], "fid": FNR_C, "type": "DNR"},
                    {"ref": REFS[2], "fid": FNR_B, "type": "HNR"},
                    {"ref": REFS[3], "fid": FNR_E, "type": "FHN"},
                ],
            },
        ),
        contents_case(
            "identity-type-unknown",
            "identity",
            line({"content": "iplos-identities/1"}) + line({"fid": FNR_A, "ref": REFS[0], "type": "SSN"}),
            "type 'SSN': the number type is FNR, DNR, HNR or FHN, nothing else.",
            FAIL,
        ),
        contents_case(
            "identity-type-lower-case",
            "identity",
            line({"content": "iplos-identities/1"}) + line({"fid": FNR_A, "ref": REFS[0], "type": "fnr"}),
            "type 'fnr': the four number types are upper case.",
            FAIL,
        ),
        contents_case(
            "pseudonyms-policy-refusals",
            "pseudonyms",
            pseudonyms_body(
                1,
                [
                    {"ref": REFS[0], "pseudonym": None, "refused": "type-mismatch"},
                    {"ref": REFS[1], "pseudonym": None, "refused": "synthetic-number"},
                ],
            ),
            "The TPF's policy refusals (section 12.2, after the number rules): a number of another type than "
            "declared, and a synthetic number at a TPF that does not accept them.",
            {
                "expect": "ok",
                "key_version": 1,
                "entries": [
                    {"ref": REFS[0], "pseudonym": None, "refused": "type-mismatch"},
                    {"ref": REFS[1], "pseudonym": None, "refused": "synthetic-number"},
                ],
            },
        ),
        contents_case(
            "pseudonyms-unknown-rule-code",
            "pseudonyms",
            pseudonyms_body(1, [{"ref": REFS[0], "pseudonym": None, "refused": "some-future-rule"}]),
            "A well-formed rule code that section 12.2 does not list: a reader keeps it as a refusal (a newer "
            "TPF may have more policy rules) and does not refuse the part.",
            {
                "expect": "ok",
                "key_version": 1,
                "entries": [{"ref": REFS[0], "pseudonym": None, "refused": "some-future-rule"}],
            },
        ),
        contents_case(
            "pseudonyms-refused-identity-number",
            "pseudonyms",
            pseudonyms_body(1, []) + line({"ref": REFS[0], "refused": FNR_B}),
            "A refusal code that is a (synthetic) identity number: a rule code has no digits.",
            FAIL,
        ),
        contents_case(
            "pseudonyms-refused-free-text",
            "pseudonyms",
            pseudonyms_body(1, []) + line({"ref": REFS[0], "refused": "Check digit"}),
            "A refusal code with upper case and a space: a rule code is lowercase words joined by hyphens.",
            FAIL,
        ),
        contents_case(
            "pseudonyms-refused-too-long",
            "pseudonyms",
            pseudonyms_body(1, []) + line({"ref": REFS[0], "refused": "a" * 33}),
            "A refusal code of 33 letters (at most 32).",
            FAIL,
        ),
        contents_case(
            "pseudonyms-refused-ok",
            "pseudonyms",
            pseudonyms_body(1, []) + line({"ref": REFS[0], "refused": "ok"}),
            "The refusal code 'ok', which is reserved and never a rule code.",
            FAIL,
        ),
        contents_case(
            "pseudonyms-refused-empty",
            "pseudonyms",
            pseudonyms_body(1, []) + line({"ref": REFS[0], "refused": ""}),
            "An empty refusal code.",
            FAIL,
        ),
        contents_case(
            "pseudonyms-ref-not-hex",
            "pseudonyms",
            pseudonyms_body(1, []) + line({"ref": "record-1", "refused": "check-digit"}),
            "ref 'record-1': not 32 lowercase hex digits.",
            FAIL,
        ),
        contents_case(
            "pseudonyms-no-key-version",
            "pseudonyms",
            line({"content": "iplos-pseudonyms/1"}) + pseudonym_line(PSEUDONYM_ENTRIES[0]),
            "The key_version line is missing: the second line is a record.",
            FAIL,
        ),
        contents_case(
            "pseudonyms-key-version-zero",
            "pseudonyms",
            pseudonyms_body(0, PSEUDONYM_ENTRIES[:1]),
            "key_version is 0 (versions start at 1).",
            FAIL,
        ),
        contents_case(
            "pseudonyms-key-version-bool",
            "pseudonyms",
            line({"content": "iplos-pseudonyms/1"}) + b'{"key_version":true}\n' + pseudonym_line(PSEUDONYM_ENTRIES[0]),
            "key_version is the JSON literal true, not an integer.",
            FAIL,
        ),
        contents_case(
            "pseudonyms-key-version-at-bound",
            "pseudonyms",
            pseudonyms_body(MAX_KEY_VERSION, PSEUDONYM_ENTRIES),
            "key_version is 999999999, the largest KeyVersion (section 7.2); the pseudonyms are pseudonyms-ok's.",
            {"expect": "ok", "key_version": MAX_KEY_VERSION, "entries": PSEUDONYM_ENTRIES},
        ),
        contents_case(
            "pseudonyms-key-version-too-large",
            "pseudonyms",
            pseudonyms_body(MAX_KEY_VERSION + 1, PSEUDONYM_ENTRIES[:1]),
            "key_version is 1000000000: a KeyVersion has at most nine digits (section 7.2).",
            FAIL,
        ),
        contents_case(
            "payload-line-at-limit",
            "payload",
            line({"content": "iplos-payload/2"}) + b"".join(x.encode("utf-8") + b"\n" for x in LIMIT_LINES),
            "A line of exactly 1048576 bytes, its LF not counted (payloads.json's line-at-limit: the header line "
            "padded with white space), then the trailer: the longest line section 6.1 allows. The plaintext is "
            "given by its size and SHA-256.",
            {"expect": "ok", "lines": LIMIT_LINES},
        ),
        contents_case(
            "payload-line-past-limit",
            "payload",
            line({"content": "iplos-payload/2"}) + b"".join(x.encode("utf-8") + b"\n" for x in PAST_LIMIT_LINES),
            "The same with one byte more: a line of 1048577 bytes and its LF, refused.",
            FAIL,
        ),
        contents_case(
            "pseudonym-31-bytes",
            "pseudonyms",
            pseudonyms_body(1, [])
            + line({"pseudonym": b64url(pseudonym(PSEUDONYM_KEYS[1], FNR_A)[:31]), "ref": REFS[0]}),
            "A pseudonym of 31 bytes.",
            FAIL,
        ),
        contents_case(
            "pseudonym-padded",
            "pseudonyms",
            pseudonyms_body(1, []) + line({"pseudonym": pseudonym_text + "=", "ref": REFS[0]}),
            "A pseudonym with a '=' pad: the encoding is unpadded base64url.",
            FAIL,
        ),
        contents_case(
            "pseudonym-non-canonical-bits",
            "pseudonyms",
            pseudonyms_body(1, [])
            + line({"pseudonym": pseudonym_text[:-1] + _sibling(pseudonym_text[-1]), "ref": REFS[0]}),
            "The last character sets one of the two unused low bits: not the canonical encoding.",
            FAIL,
        ),
        contents_case(
            "pseudonym-standard-alphabet",
            "pseudonyms",
            pseudonyms_body(1, [])
            + line({"pseudonym": pseudonym_text.replace("-", "+").replace("_", "/"), "ref": REFS[0]}),
            "The pseudonym in the standard base64 alphabet ('+' for '-'): the encoding is base64url.",
            FAIL,
        ),
        contents_case(
            "pseudonym-and-refused",
            "pseudonyms",
            pseudonyms_body(1, []) + line({"pseudonym": pseudonym_text, "ref": REFS[0], "refused": "check-digit"}),
            "A record with both pseudonym and refused.",
            FAIL,
        ),
        contents_case(
            "report-ref-identity-number",
            "report",
            report_body(REPORT_SUMMARY, [{**REPORT_FINDINGS[3], "ref": FNR_C}]),
            "A finding whose ref is a (synthetic) identity number, not 32 lowercase hex digits.",
            FAIL,
        ),
        contents_case(
            "report-ref-31-digits",
            "report",
            report_body(REPORT_SUMMARY, [{**REPORT_FINDINGS[3], "ref": REFS[2][:31]}]),
            "A finding whose ref has 31 hex digits.",
            FAIL,
        ),
        contents_case(
            "report-bad-severity",
            "report",
            report_body(REPORT_SUMMARY, [{**REPORT_FINDINGS[1], "severity": "info"}]),
            "A finding with severity 'info' (only 'error' and 'warning' exist).",
            FAIL,
        ),
        contents_case(
            "report-summary-missing",
            "report",
            report_body(None, REPORT_FINDINGS),
            "The summary line is missing: the second line is a finding.",
            FAIL,
        ),
        contents_case(
            "report-only-content-line",
            "report",
            report_body(None, []),
            "The content line and nothing else: even a report without findings has its summary line.",
            FAIL,
        ),
        contents_case(
            "report-count-not-integer",
            "report",
            report_body({"counts": {"K005": "1"}, "records": 3}, []),
            "A summary count that is a string.",
            FAIL,
        ),
        contents_case(
            "report-finding-missing-member",
            "report",
            report_body(REPORT_SUMMARY, [{k: v for k, v in REPORT_FINDINGS[0].items() if k != "detail"}]),
            "A finding without its detail member (null must be written as null).",
            FAIL,
        ),
        contents_case(
            "report-non-canonical-line",
            "report",
            line({"content": "iplos-report/1"})
            + line(REPORT_SUMMARY)
            + json.dumps({"severity": "error", **REPORT_FINDINGS[3]}, separators=(",", ":")).encode("ascii")
            + b"\n",
            "A finding with its members unsorted (severity first): lines are canonical JSON.",
            FAIL,
        ),
    ]
    return {
        "format": "iplos-test-vectors/contents/1",
        "description": (
            "Part contents (docs/envelope-v1.md, 'Part contents'). Each part is a valid sealed part; open it with "
            "recipient_private and context, then read the lines. expect 'ok' gives the decoded records: "
            "'entries' (identities; pseudonyms as hex, with 'key_version'), 'lines' (payload: the lines after the "
            "content line as UTF-8 text) or 'summary' and 'findings' (report); 'fail' means the reader raises its "
            "one opaque error. The ok parts identity-ok, payload-ok, pseudonyms-ok and report-ok belong to the one "
            "message that headers.json signs. 'content' is the format "
            "the signed header's part reference names. 'divergence' marks a case where the reference "
            "implementation does not yet do what the spec requires (appendix A)."
        ),
        "cases": cases,
    }


def _sibling(char: str) -> str:
    """The base64url character that differs from ``char`` in its lowest bit only."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return alphabet[alphabet.index(char) ^ 1]


# --- payloads.json: the iplos-payload/2 lines -------------------------------------------------------------------------

PAYLOAD_HEADER: Json = json.loads(PAYLOAD_LINES[0])
PAYLOAD_RECORDS: list[Json] = [json.loads(x) for x in PAYLOAD_LINES[1:-1]]
# One record with every list filled and every optional value set (refusals, complaints, coercion; hours written
# with an exponent, an integer, and null; a complaint without its outcome).
FULL_RECORD: Json = {
    "a": [[21, "2024-01-15", "2024-02-01"], [4, None, "2024-03-01"]],
    "b": [2, 1, True, False, "2024-11-30", "2024-04-02", "2024-05-06", True],
    "d": [["ICPC-2", "T90"], ["ICD-10", "F03"]],
    "f": [["sosialDeltakelse", 2, "2024-03-01"], ["syn", 9, "2024-03-01"]],
    "fa": 1957,
    "ft": "FNR",
    "k": "K",
    "kl": [[21, "2024-02-20", "ikke-medhold"], [4, "2024-03-10", None]],
    "ref": REFS[0],
    "t": [
        ["100001-01", 15, "N", "2024-01-10", "2024-01-20", "2024-02-01", "2024-11-30", 3.5, "974760673"],
        ["100001-02", 6, "M", None, None, "2024-01-01", None, None, None],
        ["100001-03", 2, "T", None, "2024-05-01", "2024-05-02", None, 4, "974760673"],
        ["100001-04", 1, "C", None, None, "2024-06-01", None, 0.25, None],
    ],
    "tv": [
        ["TV-1", "HOL9", "2024-04-01", "2024-04-02", None],
        ["TV-2", "PBRL4A", "2024-05-01", "2024-05-01", "2024-05-31"],
    ],
}


def _text(value: Json) -> str:
    return payload_line(value).decode("utf-8")


MAX_LINE = 1 << 20  # section 6.1: bytes, the LF not counted
MAX_KEY_VERSION = 999_999_999  # section 7.2, KeyVersion
MAX_DOUBLE = 1.7976931348623157e308


def padded(text: str, size: int) -> str:
    """``text`` (a JSON object) with white space after its ``{`` to make it exactly ``size`` bytes of UTF-8."""
    return "{" + " " * (size - len(text.encode("utf-8"))) + text[1:]


# The header of message-1 at exactly the line limit and one byte past it, each followed by the trailer of an export
# without persons (payloads.json and, sealed, contents.json).
LIMIT_LINES = [padded(_text(PAYLOAD_HEADER), MAX_LINE), _text({"antall": 0})]
PAST_LIMIT_LINES = [padded(_text(PAYLOAD_HEADER), MAX_LINE + 1), _text({"antall": 0})]


def chars(size: int, filler: str) -> str:
    """A string of exactly ``size`` characters (code points), with a two-byte one and one outside the BMP (four
    bytes in UTF-8, two UTF-16 units) first: the bounds count characters, not bytes or UTF-16 units."""
    return ("\u00f8\U0001f600" + filler * size)[:size]


# Section 6.4, Bounds: every bounded value at its upper limit, dates and the unbounded integer and number at theirs.
UPPER = "9999-12-31"
BOUNDS_UPPER_HEADER: Json = {**PAYLOAD_HEADER, "bydelNr": chars(6, "b"), "rapporteringsaar": 2**53 - 1}
BOUNDS_UPPER_RECORD: Json = {
    "a": [[999, UPPER, UPPER]],
    "b": [99, 99, True, True, UPPER, UPPER, UPPER, True],
    "d": [["ICD-10", chars(10, "d")]],
    "f": [[chars(64, "f"), 9, UPPER]],
    "fa": 9999,
    "ft": "FHN",
    "k": "M",
    "kl": [[999, UPPER, "under-behandling"]],
    "ref": REFS[0],
    "t": [[chars(40, "t"), 999, "C", UPPER, UPPER, UPPER, UPPER, MAX_DOUBLE, chars(9, "o")]],
    "tv": [[chars(40, "v"), "PBRL4A", UPPER, UPPER, UPPER]],
}
# ... and at the lower ones (a string has no lower bound: empty).
LOWER = "0001-01-01"
BOUNDS_LOWER_HEADER: Json = {**PAYLOAD_HEADER, "bydelNr": "", "rapporteringsaar": -(2**53 - 1)}
BOUNDS_LOWER_RECORD: Json = {
    "a": [[0, LOWER, LOWER]],
    "b": [0, 0, False, False, LOWER, LOWER, LOWER, False],
    "d": [["ICPC-2", ""]],
    "f": [["", 0, LOWER]],
    "fa": 1,
    "ft": "FNR",
    "k": "K",
    "kl": [[0, LOWER, "medhold"]],
    "ref": REFS[0],
    "t": [["", 0, "N", LOWER, LOWER, LOWER, LOWER, -MAX_DOUBLE, ""]],
    "tv": [["", "HOL9", LOWER, LOWER, LOWER]],
}


def _with_item(record: Json, member: str, index: int | None, value: Any) -> Json:
    """``record`` with ``value`` at ``record[member]`` (or at item ``index`` of its first entry, or of ``b``)."""
    if index is None:
        return {**record, member: value}
    if member == "b":
        items = list(record["b"])
        items[index] = value
        return {**record, "b": items}
    first = list(record[member][0])
    first[index] = value
    return {**record, member: [first, *record[member][1:]]}


# One value one past its bound, the others at theirs: (case name, comment, member, item index, value).
PAST_BOUNDS: list[tuple[str, str, str, int | None, Any]] = [
    ("bound-fa-over", "fa is 10000 (1 to 9999).", "fa", None, 10000),
    ("bound-fa-under", "fa is 0 (1 to 9999).", "fa", None, 0),
    ("bound-bolig-over", "bolig (b item 1) is 100 (0 to 99).", "b", 0, 100),
    ("bound-bolig-under", "bolig (b item 1) is -1 (0 to 99).", "b", 0, -1),
    ("bound-husstand-over", "husstand (b item 2) is 100 (0 to 99).", "b", 1, 100),
    ("bound-husstand-under", "husstand (b item 2) is -1 (0 to 99).", "b", 1, -1),
    ("bound-variabel-over", "A function variable of 65 characters (at most 64).", "f", 0, chars(65, "f")),
    ("bound-skaar-over", "A score of 10 (0 to 9).", "f", 1, 10),
    ("bound-skaar-under", "A score of -1 (0 to 9).", "f", 1, -1),
    ("bound-kode-over", "A diagnosis code of 11 characters (at most 10).", "d", 1, chars(11, "d")),
    ("bound-tjenesteid-over", "A tjenesteID of 41 characters (at most 40).", "t", 0, chars(41, "t")),
    ("bound-tjenestetype-over", "A service's tjenesteType is 1000 (0 to 999).", "t", 1, 1000),
    ("bound-tjenestetype-under", "A service's tjenesteType is -1 (0 to 999).", "t", 1, -1),
    ("bound-orgnr-over", "An orgNr of 10 characters (at most 9).", "t", 8, chars(10, "o")),
    ("bound-tjenestetype-refusal-over", "A refusal's tjenesteType is 1000 (0 to 999).", "a", 0, 1000),
    ("bound-tjenestetype-refusal-under", "A refusal's tjenesteType is -1 (0 to 999).", "a", 0, -1),
    ("bound-tjenestetype-complaint-over", "A complaint's tjenesteType is 1000 (0 to 999).", "kl", 0, 1000),
    ("bound-tjenestetype-complaint-under", "A complaint's tjenesteType is -1 (0 to 999).", "kl", 0, -1),
    ("bound-vedtakid-over", "A vedtakID of 41 characters (at most 40).", "tv", 0, chars(41, "v")),
]


def make_payloads() -> Json:
    header, records = _text(PAYLOAD_HEADER), [_text(r) for r in PAYLOAD_RECORDS]
    record = PAYLOAD_RECORDS[0]

    def with_record(**changes: Any) -> list[str]:
        return [header, _text({**record, **changes}), _text({"antall": 1})]

    def without_member(value: Json, name: str) -> Json:
        return {k: v for k, v in value.items() if k != name}

    def service(index: int, item: Any) -> list[str]:
        changed = list(record["t"][0])
        changed[index] = item
        return with_record(t=[changed])

    ok_cases: list[tuple[str, str, list[str]]] = [
        (
            "message-1",
            "The payload of contents.json's payload-ok: the header, three records, the trailer.",
            [header, *records, _text({"antall": 3})],
        ),
        (
            "no-records",
            'A header and the trailer {"antall":0}: an export without persons.',
            [header, _text({"antall": 0})],
        ),
        (
            "every-member-filled",
            "One record with every list filled and every optional value set; hours 3.5, 4 (an integer is a number "
            "too), 0.25 and null; a complaint without its outcome; a header without bydelNr and contact.",
            [
                _text({**PAYLOAD_HEADER, "bydelNr": None, "kontaktperson": None}),
                _text(FULL_RECORD),
                _text({"antall": 1}),
            ],
        ),
        (
            "reader-tolerance",
            "message-1's values spelt differently: members unsorted, white space between tokens, a non-ASCII "
            "character as a \\u escape, hours with an exponent. Payload lines are JSON, not canonical JSON: a reader "
            "MUST accept any spelling (only writers keep to the one form).",
            [
                json.dumps(dict(reversed(list(PAYLOAD_HEADER.items()))), ensure_ascii=True, separators=(", ", ": ")),
                json.dumps(dict(reversed(list(PAYLOAD_RECORDS[0].items()))), separators=(" ,", " : ")).replace(
                    "3.5", "35e-1"
                ),
                *records[1:],
                '{ "antall" : 3 }',
            ],
        ),
        (
            "leap-day",
            "A date of 29 February in a leap year (vurdertAvLege, b item 6).",
            with_record(b=[2, 1, None, None, None, "2024-02-29", None, None]),
        ),
        (
            "bounds-upper",
            "Every value of section 6.4's Bounds at its upper limit (the strings counted in characters, each with a "
            "two-byte one and one outside the BMP), dates on 9999-12-31, hours the largest double and the header's "
            "year at 2^53 - 1 (an integer the payload does not bound; the registry compares it with the signed "
            "year). Implausible values are the logical controls' to report, not the format's.",
            [_text(BOUNDS_UPPER_HEADER), _text(BOUNDS_UPPER_RECORD), _text({"antall": 1})],
        ),
        (
            "bounds-lower",
            "Every bounded integer at its lower limit, the bounded strings empty, dates on 0001-01-01, hours the "
            "most negative double and the header's year at -(2^53 - 1).",
            [_text(BOUNDS_LOWER_HEADER), _text(BOUNDS_LOWER_RECORD), _text({"antall": 1})],
        ),
        (
            "line-at-limit",
            "The header line padded with white space to exactly 1048576 bytes (its LF, which the lines here do not "
            "carry, not counted: section 6.1), then the trailer.",
            LIMIT_LINES,
        ),
    ]
    fail_cases: list[tuple[str, str, list[str]]] = [
        ("empty", "No line at all.", []),
        ("no-trailer", "The header and three records, no trailer (a truncated payload).", [header, *records]),
        ("trailer-count-low", "The trailer counts 2 records; there are 3.", [header, *records, _text({"antall": 2})]),
        ("trailer-count-high", "The trailer counts 4 records; there are 3.", [header, *records, _text({"antall": 4})]),
        (
            "line-after-trailer",
            "A record after the trailer.",
            [header, *records[:2], _text({"antall": 2}), records[2]],
        ),
        ("trailer-count-string", 'The trailer {"antall":"3"}.', [header, *records, '{"antall":"3"}']),
        ("trailer-count-float", 'The trailer {"antall":3.0}.', [header, *records, '{"antall":3.0}']),
        (
            "trailer-extra-member",
            'A last line {"antall":3,"x":1}: not the trailer (exactly one member), and not a record.',
            [header, *records, '{"antall":3,"x":1}'],
        ),
        (
            "header-format-v1",
            "The header's format is iplos-payload/1.",
            [_text({**PAYLOAD_HEADER, "format": "iplos-payload/1"}), *records, _text({"antall": 3})],
        ),
        (
            "header-format-missing",
            "The header has no format member.",
            [_text(without_member(PAYLOAD_HEADER, "format")), *records, _text({"antall": 3})],
        ),
        (
            "header-member-missing",
            "The header has no navnEPJ.",
            [_text(without_member(PAYLOAD_HEADER, "navnEPJ")), *records, _text({"antall": 3})],
        ),
        (
            "header-member-extra",
            "The header has a member 'x'.",
            [_text({**PAYLOAD_HEADER, "x": 1}), *records, _text({"antall": 3})],
        ),
        (
            "header-year-string",
            'rapporteringsaar is the string "2024".',
            [_text({**PAYLOAD_HEADER, "rapporteringsaar": "2024"}), *records, _text({"antall": 3})],
        ),
        (
            "header-contact-member-extra",
            "kontaktperson has a fourth member.",
            [
                _text({**PAYLOAD_HEADER, "kontaktperson": {**PAYLOAD_HEADER["kontaktperson"], "x": None}}),
                *records,
                _text({"antall": 3}),
            ],
        ),
        ("header-not-first", "The first line is a record.", [records[0], header, _text({"antall": 1})]),
        (
            "record-member-missing",
            "A record without tv.",
            [header, _text(without_member(record, "tv")), _text({"antall": 1})],
        ),
        ("record-member-extra", "A record with a member 'x'.", with_record(x=1)),
        (
            "record-member-twice",
            "A record with fa twice.",
            [header, _text(record)[:-1] + ',"fa":1958}', _text({"antall": 1})],
        ),
        ("record-not-object", "A record line that is a JSON array.", [header, "[1,2]", _text({"antall": 1})]),
        ("record-not-json", "A record line that is not JSON.", [header, "{fa:1957}", _text({"antall": 1})]),
        (
            "record-birth-year-float",
            "fa is 1957.0: an integer has no fraction.",
            [header, _text(record).replace('"fa":1957', '"fa":1957.0'), _text({"antall": 1})],
        ),
        (
            "record-birth-year-exponent",
            "fa is 1.957e3: an integer has no exponent.",
            [header, _text(record).replace('"fa":1957', '"fa":1.957e3'), _text({"antall": 1})],
        ),
        (
            "header-year-beyond-2^53",
            "rapporteringsaar is 2^53: beyond the integers JSON carries exactly.",
            [_text({**PAYLOAD_HEADER, "rapporteringsaar": 2**53}), *records, _text({"antall": 3})],
        ),
        ("record-sex-unknown", "k is 'X' (M, K or null).", with_record(k="X")),
        ("record-type-lower-case", "ft is 'fnr' (FNR, DNR, HNR or FHN).", with_record(ft="fnr")),
        ("record-background-7-items", "b has 7 items, not 8.", with_record(b=record["b"][:7])),
        (
            "record-background-bool-for-int",
            "bolig (b[0]) is true, not an integer.",
            with_record(b=[True, *record["b"][1:]]),
        ),
        (
            "record-date-not-real",
            "vurdertAvLege (b[5]) is 2024-02-30.",
            with_record(b=[*record["b"][:5], "2024-02-30", None, False]),
        ),
        (
            "record-date-form",
            "vurdertAvLege (b[5]) is 2025-4-02 (YYYY-MM-DD only).",
            with_record(b=[*record["b"][:5], "2025-4-02", None, False]),
        ),
        ("record-service-8-items", "A service with 8 items, not 9.", with_record(t=[record["t"][0][:8]])),
        ("record-event-unknown", "hendelse (t[2]) is 'X' (N, M, T or C).", service(2, "X")),
        ("record-hours-string", 'timerPerUke (t[7]) is the string "3.5".', service(7, "3.5")),
        ("record-hours-bool", "timerPerUke (t[7]) is true.", service(7, True)),
        (
            "record-hours-infinite",
            "timerPerUke (t[7]) is 1e400, which is no finite number.",
            [header, _text(record).replace("3.5,", "1e400,"), _text({"antall": 1})],
        ),
        (
            "record-hours-integer-beyond-double",
            "timerPerUke (t[7]) is 10^400 written out as an integer: no double holds it.",
            [header, _text(record).replace("3.5,", "1" + "0" * 400 + ","), _text({"antall": 1})],
        ),
        (
            "record-hours-nan",
            "timerPerUke (t[7]) is NaN, which is not JSON.",
            [header, _text(record).replace("3.5,", "NaN,"), _text({"antall": 1})],
        ),
        ("record-start-date-null", "startdato (t[5]) is null (required).", service(5, None)),
        ("record-score-bool", "A function score of true.", with_record(f=[["sosialDeltakelse", True, "2024-03-01"]])),
        ("record-code-system-unknown", "A diagnosis in 'ICD-11'.", with_record(d=[["ICD-11", "6D80"]])),
        (
            "record-coercion-basis-unknown",
            "A coercion decision under 'HOL10'.",
            with_record(tv=[["TV-1", "HOL10", "2024-04-01", "2024-04-02", None]]),
        ),
        (
            "record-complaint-outcome-unknown",
            "A complaint with outcome 'ja'.",
            with_record(kl=[[21, "2024-02-20", "ja"]]),
        ),
        (
            "record-unpaired-surrogate",
            "A diagnosis code holding the escape \\ud800 alone: an unpaired surrogate is no Unicode text.",
            [header, _text(record).replace('"T90"', '"T\\ud800"'), _text({"antall": 1})],
        ),
        (
            "record-nul-character",
            "A diagnosis code holding U+0000 (the escape \\u0000), which PostgreSQL's text cannot store.",
            [header, _text(record).replace('"T90"', '"T\\u0000"'), _text({"antall": 1})],
        ),
        (
            "line-past-limit",
            "line-at-limit with one more byte of white space: a line of 1048577 bytes.",
            PAST_LIMIT_LINES,
        ),
        (
            "bound-bydelnr-over",
            "bounds-upper with a bydelNr of 7 characters (at most 6).",
            [
                _text({**BOUNDS_UPPER_HEADER, "bydelNr": chars(7, "b")}),
                _text(BOUNDS_UPPER_RECORD),
                _text({"antall": 1}),
            ],
        ),
        *(
            (
                name,
                f"bounds-{'upper' if name.endswith('over') else 'lower'} with one value one past its bound: {comment}",
                [
                    _text(BOUNDS_UPPER_HEADER if name.endswith("over") else BOUNDS_LOWER_HEADER),
                    _text(
                        _with_item(
                            BOUNDS_UPPER_RECORD if name.endswith("over") else BOUNDS_LOWER_RECORD, member, index, value
                        )
                    ),
                    _text({"antall": 1}),
                ],
            )
            for name, comment, member, index, value in PAST_BOUNDS
        ),
    ]
    cases: list[Json] = []
    for name, comment, lines in ok_cases:
        parsed = [json.loads(x) for x in lines]
        cases.append(
            {
                "name": name,
                "comment": comment,
                "lines": lines,
                "expect": "ok",
                "header": parsed[0],
                "records": parsed[1:-1],
            }
        )
    for name, comment, lines in fail_cases:
        cases.append({"name": name, "comment": comment, "lines": lines, "expect": "fail"})
    return {
        "format": "iplos-test-vectors/payloads/1",
        "description": (
            "iplos-payload/2 streams (docs/envelope-v1.md, 6.4): the lines after a payload part's content line, "
            "each given without its LF, as text (UTF-8 on the wire). expect 'ok': a reader accepts the stream; "
            "'header' is the header line's value and 'records' the record lines' values (the trailer is not "
            "repeated). expect 'fail': a reader refuses the stream (invalid-payload at the registry)."
        ),
        "cases": cases,
    }


# --- parts.json: the STREAM layer ----------------------------------------------------------------------------------


def make_parts() -> Json:
    cases: list[Json] = []
    ctx = context("identity", KOMMUNE, TPF)
    short = identity_body(IDENTITIES[:2])

    def simple(name: str, comment: str, body: bytes, recipient: Party = TPF, c: Json = ctx) -> None:
        sealer = Sealer(name, recipient, c)
        cases.append(part_case(name, comment, recipient, c, sealer.seal(body), sealer, **ok(body)))

    simple("short-body", "A body shorter than one chunk: one final chunk.", short)
    simple("empty-body", "An empty body: exactly one final chunk, of 0 plaintext bytes (16 bytes sealed).", b"")
    simple("one-byte-body", "A body of one byte.", b"\n")
    simple(
        "payload-kind",
        "Kind payload, municipality to registry.",
        payload_body(),
        REGISTRY,
        context("payload", KOMMUNE, REGISTRY),
    )
    simple(
        "pseudonyms-kind",
        "Kind pseudonyms, TPF to registry.",
        pseudonyms_body(1, PSEUDONYM_ENTRIES),
        REGISTRY,
        context("pseudonyms", TPF, REGISTRY),
    )
    simple(
        "exactly-64KiB",
        "A body of exactly 65536 bytes: ONE final chunk (no empty chunk after it).",
        pattern(CHUNK, "a"),
    )
    plus_one = pattern(CHUNK + 1, "b")
    big = Sealer("64KiB-plus-1", TPF, ctx)
    # The first chunk of 64KiB-plus-1 is stored once and shared by the cases derived from it.
    SHARED_SEGMENTS["64KiB-plus-1/chunk-0"] = big.chunk(0, False, plus_one[:CHUNK])
    final1 = big.chunk(1, True, plus_one[CHUNK:])
    assert big.header + SHARED_SEGMENTS["64KiB-plus-1/chunk-0"] + final1 == big.seal(plus_one)
    cases.append(
        part_case(
            "64KiB-plus-1",
            "65537 bytes: a full chunk, then a final chunk of 1 byte.",
            TPF,
            ctx,
            [big.header, "64KiB-plus-1/chunk-0", final1],
            big,
            **ok(plus_one),
        )
    )
    three = pattern(2 * CHUNK + 100, "c")
    simple("three-chunks", "131172 bytes: two full chunks and a final chunk of 100 bytes.", three)

    base = Sealer("short-body", TPF, ctx)
    good = base.seal(short)
    header_len = len(MAGIC) + 80

    def tampered(
        name: str, comment: str, part: bytes | list[Segment], sealer: Sealer = base, c: Json = ctx, **extra: Any
    ) -> None:
        cases.append(part_case(name, comment, TPF, c, part, sealer, **FAIL, **extra))

    tampered("magic-flipped", "short-body with bit 0 of the first magic byte flipped.", flip(good, 0))
    tampered("magic-version", "short-body with the magic 'IPLOS/2\\n'.", b"IPLOS/2\n" + good[8:])
    tampered("magic-missing", "short-body without its 8-byte magic.", good[8:])
    tampered("wrapped-enc-flipped", "short-body with a bit flipped in the HPKE encapsulated key.", flip(good, 8 + 5))
    tampered(
        "wrapped-ciphertext-flipped", "short-body with a bit flipped in the wrapped file key.", flip(good, 8 + 32 + 3)
    )
    tampered("wrapped-tag-flipped", "short-body with a bit flipped in the wrap's AEAD tag.", flip(good, 8 + 79))
    tampered(
        "wrapped-enc-low-order",
        "short-body with the encapsulated key replaced by the all-zero (low-order) point.",
        MAGIC + bytes(32) + good[8 + 32 :],
    )
    tampered("wrapped-truncated", "The magic and 40 bytes of the wrapped key, nothing else.", good[: 8 + 40])
    tampered("no-chunk", "Magic and wrapped key, but no chunk at all (even an empty body has one).", good[:header_len])
    tampered("body-flipped", "short-body with a bit flipped in the first ciphertext byte.", flip(good, header_len))
    tampered(
        "tag-flipped", "short-body with a bit flipped in the last byte (the chunk's tag).", flip(good, len(good) - 1)
    )
    tampered("final-chunk-cut", "short-body cut in the middle of its final chunk (last 7 bytes dropped).", good[:-7])
    tampered("final-chunk-too-short", "A final chunk of 10 bytes, shorter than a tag.", good[: header_len + 10])
    tampered(
        "final-flag-missing",
        "The only chunk is sealed with last flag 0x00: the part was truncated at a chunk boundary.",
        good[:header_len] + base.chunk(0, False, short),
    )
    tampered(
        "counter-starts-at-1",
        "The only chunk is sealed with counter 1 (chunk 0 missing).",
        good[:header_len] + base.chunk(1, True, short),
    )
    other = Sealer("spliced-from", TPF, ctx)
    tampered(
        "chunk-spliced",
        "short-body's header followed by a valid final chunk of another part (same context, other file key).",
        good[:header_len] + other.seal(short)[header_len:],
    )
    tampered(
        "data-after-final-chunk",
        "short-body followed by a chunk sealed with counter 1 and the last flag: data after the final chunk.",
        good + base.chunk(1, True, b"more"),
    )

    full0 = "64KiB-plus-1/chunk-0"
    tampered(
        "last-chunk-dropped",
        "64KiB-plus-1 without its final chunk: a full chunk with flag 0x00 and nothing after it.",
        [big.header, full0],
        big,
    )
    tampered(
        "chunks-reordered",
        "64KiB-plus-1 with its two chunks swapped (final chunk first).",
        [big.header, final1, full0],
        big,
    )
    tampered(
        "empty-final-after-full",
        "A 65536-byte body sealed as a full chunk (flag 0x00) and an EMPTY final chunk: valid AEAD, "
        "non-canonical (an empty final chunk is allowed only as the only chunk).",
        [big.header, full0, big.chunk(1, True, b"")],
        big,
    )

    for field, value in (
        ("kind", "payload"),
        ("sender", KOMMUNE_2.name),
        ("recipient", REGISTRY.name),
        ("recipient_kid", REGISTRY.encryption_kid),
        ("message_id", message_id("message-2")),
    ):
        wrong = {**ctx, field: value}
        cases.append(
            part_case(
                f"wrong-context-{field.replace('_', '-')}",
                f"short-body opened with context {field} = {value!r} (it was sealed with {ctx[field]!r}).",
                TPF,
                wrong,
                good,
                base,
                **FAIL,
            )
        )
    for_registry = Sealer("for-registry", REGISTRY, ctx)
    cases.append(
        part_case(
            "wrong-recipient-key",
            "A part sealed for the registry's key, opened with the TPF's key (the context is the TPF's).",
            TPF,
            ctx,
            for_registry.seal(short),
            for_registry,
            **FAIL,
        )
    )
    return {
        "format": "iplos-test-vectors/parts/1",
        "description": (
            "Sealed parts (docs/envelope-v1.md, 'Sealed part'). Open 'part' with the X25519 private key "
            "'recipient_private' (raw 32 bytes, hex) and 'context'. expect 'ok': the plaintext has "
            "plaintext_size bytes with SHA-256 plaintext_sha256 (and is given in base64 as 'plaintext' when it "
            "is at most 4096 bytes); expect 'fail': opening raises the one opaque error, at the latest when the "
            "end of the part is reached. 'part' is a list of segments to concatenate: each is base64, or "
            "'@name' for the entry 'name' of 'segments' (base64: a chunk that several cases share, stored once); "
            "part_size and part_sha256 describe the concatenation. 'info' (the HPKE info) and 'file_key' are "
            "informative: the values the sealer used, for debugging."
        ),
        "cases": cases,
        "segments": {name: b64(data) for name, data in SHARED_SEGMENTS.items()},
    }


# --- headers.json ----------------------------------------------------------------------------------------------------


def part_ref(recipient: Party, content: str, part: bytes) -> Json:
    return {
        "recipient": recipient.name,
        "recipient_kid": recipient.encryption_kid,
        "content": content,
        "size": len(part),
        "sha256": sha256(part),
    }


def make_headers(contents: Json) -> Json:
    parts = {c["name"]: base64.b64decode(c["part"]) for c in contents["cases"]}
    submission = {
        "format": FORMAT,
        "kind": "submission",
        "message_id": MESSAGE_ID,
        "sender": KOMMUNE.name,
        "signer_kid": KOMMUNE.signing_kid,
        "municipality": "0301",
        "year": 2024,
        "sequence": 1,
        "created_at": "2025-02-03T10:15:00Z",
        "record_count": 3,
        "parts": {
            "identity": part_ref(TPF, "iplos-identities/1", parts["identity-ok"]),
            "payload": part_ref(REGISTRY, "iplos-payload/2", parts["payload-ok"]),
        },
    }
    submission_bytes = canonical(submission)
    delivery = {
        "format": FORMAT,
        "kind": "delivery",
        "message_id": MESSAGE_ID,
        "sender": TPF.name,
        "signer_kid": TPF.signing_kid,
        "submission_sha256": sha256(submission_bytes),
        "created_at": "2025-02-03T10:15:02Z",
        "pseudonym_key_version": 1,
        "counts": {"records": 3, "pseudonymised": 2, "refused": 1},
        "parts": {"pseudonyms": part_ref(REGISTRY, "iplos-pseudonyms/1", parts["pseudonyms-ok"])},
    }
    receipt = {
        "format": FORMAT,
        "kind": "receipt",
        "message_id": MESSAGE_ID,
        "sender": REGISTRY.name,
        "signer_kid": REGISTRY.signing_kid,
        "submission_sha256": sha256(submission_bytes),
        "municipality": "0301",
        "year": 2024,
        "sequence": 1,
        "status": "stored",
        "reason": None,
        "records_stored": 3,
        "identities_refused": 1,
        "supersedes": None,
        "received_at": "2025-02-03T10:15:03Z",
        "report_path": f"/v1/submissions/{MESSAGE_ID}/report",
    }
    report = {
        "format": FORMAT,
        "kind": "report",
        "message_id": MESSAGE_ID,
        "sender": REGISTRY.name,
        "signer_kid": REGISTRY.signing_kid,
        "recipient": KOMMUNE.name,
        "submission_sha256": sha256(submission_bytes),
        "created_at": "2025-02-03T10:20:00Z",
        "finding_count": len(REPORT_FINDINGS),
        "parts": {"report": part_ref(KOMMUNE, "iplos-report/1", parts["report-ok"])},
    }
    refused_receipt = {
        **receipt,
        "report_path": None,
        "status": "refused",
        "reason": "stale sequence \u2013 a newer submission is active",
        "records_stored": 0,
        "supersedes": message_id("message-0"),
    }
    held_receipt = {
        **receipt,
        "status": "held",
        "reason": "held: far fewer persons than the active submission",
        "supersedes": None,
    }
    confirmation = {
        "format": FORMAT,
        "kind": "confirmation",
        "message_id": MESSAGE_ID,
        "sender": KOMMUNE.name,
        "signer_kid": KOMMUNE.signing_kid,
        "submission_sha256": sha256(submission_bytes),
        "municipality": "0301",
        "year": 2024,
        "created_at": "2025-02-04T08:00:00Z",
    }
    refusal = {
        "format": FORMAT,
        "kind": "refusal",
        "message_id": MESSAGE_ID,
        "sender": TPF.name,
        "signer_kid": TPF.signing_kid,
        "submission_sha256": sha256(submission_bytes),
        "problem": "registry-refused",
        "upstream": "unmatched-records",
        "created_at": "2025-02-03T10:15:04Z",
    }
    cases: list[Json] = []

    def add(
        name: str,
        comment: str,
        verify_as: str,
        header: bytes,
        signer: Party | SigningKey,
        expect: str,
        *,
        label: bytes = SIGN_LABEL,
        signature: bytes | None = None,
        **extra: Any,
    ) -> None:
        key = signer.signing if isinstance(signer, Party) else signer
        sig = key.sign(label + header).signature if signature is None else signature
        case: Json = {
            "name": name,
            "comment": comment,
            "verify_as": verify_as,
            "header": header.decode("latin-1"),
            "signature": sig.hex(),
            "signer_public": bytes(key.verify_key).hex(),
            "expect": expect,
        }
        if expect == "valid":
            assert isinstance(signer, Party)
            case["signer_party"] = signer.name
            case["header_sha256"] = sha256(header)
        case.update(extra)
        cases.append(case)

    def variant(base: Json, **changes: Any) -> bytes:
        return canonical({**base, **changes})

    def without(base: Json, key: str) -> bytes:
        return canonical({k: v for k, v in base.items() if k != key})

    add(
        "submission",
        "The municipality's header for the parts in contents.json.",
        "submission",
        submission_bytes,
        KOMMUNE,
        "valid",
    )
    add(
        "delivery",
        "The TPF's header; submission_sha256 is the SHA-256 of the submission case's header bytes.",
        "delivery",
        canonical(delivery),
        TPF,
        "valid",
    )
    add(
        "receipt-stored", "The registry's receipt for the submission.", "receipt", canonical(receipt), REGISTRY, "valid"
    )
    add(
        "receipt-refused",
        "A refusal receipt; reason holds a non-ASCII character, escaped as \\u2013.",
        "receipt",
        canonical(refused_receipt),
        REGISTRY,
        "valid",
    )
    add(
        "receipt-held",
        "A held receipt (section 7.5): stored but not applied until the municipality confirms; supersedes null.",
        "receipt",
        canonical(held_receipt),
        REGISTRY,
        "valid",
    )
    add(
        "confirmation",
        "The municipality's confirmation (section 7.8) that its held submission replace the active one; "
        "submission_sha256 is the SHA-256 of the submission case's header bytes.",
        "confirmation",
        canonical(confirmation),
        KOMMUNE,
        "valid",
    )
    add(
        "confirmation-year-out-of-range",
        "A confirmation whose year is 1999: the schema's range is 2000 to 2100.",
        "confirmation",
        variant(confirmation, year=1999),
        KOMMUNE,
        "invalid",
    )
    add(
        "confirmation-as-receipt",
        "The confirmation verified as a receipt: the kind differs, the opaque error (section 7.7 step 2).",
        "receipt",
        canonical(confirmation),
        KOMMUNE,
        "invalid",
    )
    add(
        "receipt-as-confirmation",
        "The held receipt verified as a confirmation: the opaque error.",
        "confirmation",
        canonical(held_receipt),
        REGISTRY,
        "invalid",
    )
    add(
        "refusal",
        "The TPF's signed refusal (section 7.10) of the submission, final for it: the registry refused it for good "
        "(upstream unmatched-records); submission_sha256 is the SHA-256 of the submission case's header bytes.",
        "refusal",
        canonical(refusal),
        TPF,
        "valid",
    )
    add(
        "refusal-upstream-null",
        "A refusal of the TPF's own (wrong-recipient): upstream is null.",
        "refusal",
        variant(refusal, problem="wrong-recipient", upstream=None),
        TPF,
        "valid",
    )
    add(
        "refusal-problem-not-a-code",
        "A refusal whose problem is free text, not a code of section 11's form: the opaque error.",
        "refusal",
        variant(refusal, problem="Refused: see the registry"),
        TPF,
        "invalid",
    )
    add(
        "refusal-as-receipt",
        "The refusal verified as a receipt: the kind differs, the opaque error (section 7.7 step 2).",
        "receipt",
        canonical(refusal),
        TPF,
        "invalid",
    )
    add(
        "report",
        "The registry's report header for the report-ok part of contents.json, sealed for kommune-0301; "
        "submission_sha256 is the SHA-256 of the submission case's header bytes.",
        "report",
        canonical(report),
        REGISTRY,
        "valid",
    )
    report_sig = REGISTRY.signing.sign(SIGN_LABEL + canonical(report)).signature
    add(
        "report-byte-flipped",
        "The report header with finding_count changed from 4 to 3 after signing.",
        "report",
        canonical(report).replace(b'"finding_count":4', b'"finding_count":3'),
        REGISTRY,
        "invalid",
        signature=report_sig,
    )
    add(
        "report-signature-flipped",
        "The report header with bit 0 of the signature's last byte flipped.",
        "report",
        canonical(report),
        REGISTRY,
        "invalid",
        signature=flip(report_sig, 63),
    )
    add(
        "report-missing-recipient",
        "The report header without its recipient member (signed).",
        "report",
        without(report, "recipient"),
        REGISTRY,
        "invalid",
    )
    add(
        "report-finding-count-too-large",
        "finding_count is 1000001 (a Count is at most 1000000; signed).",
        "report",
        variant(report, finding_count=1_000_001),
        REGISTRY,
        "invalid",
    )
    add(
        "report-as-receipt",
        "A valid report header verified where a receipt is expected.",
        "receipt",
        canonical(report),
        REGISTRY,
        "invalid",
    )
    add(
        "receipt-as-report",
        "A valid receipt verified where a report header is expected.",
        "report",
        canonical(receipt),
        REGISTRY,
        "invalid",
    )
    good_sig = KOMMUNE.signing.sign(SIGN_LABEL + submission_bytes).signature
    add(
        "header-byte-flipped",
        "The submission with record_count changed from 3 to 2 after signing.",
        "submission",
        submission_bytes.replace(b'"record_count":3', b'"record_count":2'),
        KOMMUNE,
        "invalid",
        signature=good_sig,
    )
    add(
        "signature-byte-flipped",
        "The submission with bit 0 of the signature's first byte flipped.",
        "submission",
        submission_bytes,
        KOMMUNE,
        "invalid",
        signature=flip(good_sig, 0),
    )
    add(
        "signature-63-bytes",
        "The submission's signature without its last byte.",
        "submission",
        submission_bytes,
        KOMMUNE,
        "invalid",
        signature=good_sig[:63],
    )
    add(
        "signature-other-key",
        "A well-formed signature by a key that is not the one signer_kid names.",
        "submission",
        submission_bytes,
        OUTSIDER.signing,
        "invalid",
    )
    add(
        "non-canonical-spacing",
        "Signed bytes with a space after every ':' (json.dumps default spacing).",
        "submission",
        json.dumps(submission, sort_keys=True, separators=(",", ": ")).encode(),
        KOMMUNE,
        "invalid",
    )
    add(
        "unsorted-keys",
        "Signed bytes with the members in declaration order, not sorted.",
        "submission",
        json.dumps(submission, separators=(",", ":")).encode(),
        KOMMUNE,
        "invalid",
    )
    add(
        "duplicate-key",
        "Signed bytes with the member year twice (same value).",
        "submission",
        submission_bytes.replace(b'"year":2024', b'"year":2024,"year":2024'),
        KOMMUNE,
        "invalid",
    )
    add(
        "float-value",
        "Signed bytes with year written as 2024.0.",
        "submission",
        submission_bytes.replace(b'"year":2024', b'"year":2024.0'),
        KOMMUNE,
        "invalid",
    )
    add("trailing-newline", "Signed bytes followed by LF.", "submission", submission_bytes + b"\n", KOMMUNE, "invalid")
    add(
        "raw-non-ascii",
        "A receipt whose reason holds a raw UTF-8 character instead of its \\u escape.",
        "receipt",
        json.dumps(refused_receipt, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8"),
        REGISTRY,
        "invalid",
    )
    add(
        "label-missing",
        "Signed over the header bytes alone, without the label.",
        "submission",
        submission_bytes,
        KOMMUNE,
        "invalid",
        label=b"",
    )
    add(
        "label-without-nul",
        "Signed over 'iplos/v1/signature' || header, without the 0x00.",
        "submission",
        submission_bytes,
        KOMMUNE,
        "invalid",
        label=SIGN_LABEL[:-1],
    )
    add(
        "label-of-parts",
        "Signed with the HPKE info label 'iplos/v1/part' 0x00 instead.",
        "submission",
        submission_bytes,
        KOMMUNE,
        "invalid",
        label=WRAP_LABEL,
    )
    add(
        "kind-mismatch",
        "A valid delivery header verified where a submission is expected.",
        "submission",
        canonical(delivery),
        TPF,
        "invalid",
    )
    add(
        "unknown-member",
        "The submission with an extra member 'note' (signed).",
        "submission",
        variant(submission, note="x"),
        KOMMUNE,
        "invalid",
    )
    add(
        "missing-member",
        "The submission without record_count (signed).",
        "submission",
        without(submission, "record_count"),
        KOMMUNE,
        "invalid",
    )
    add(
        "missing-format",
        "The submission without its format member (signed).",
        "submission",
        without(submission, "format"),
        KOMMUNE,
        "invalid",
    )
    add(
        "missing-kind",
        "The submission without its kind member (signed).",
        "submission",
        without(submission, "kind"),
        KOMMUNE,
        "invalid",
    )
    add(
        "format-v2",
        "format is 'iplos-envelope/2'.",
        "submission",
        variant(submission, format="iplos-envelope/2"),
        KOMMUNE,
        "invalid",
    )
    add(
        "year-as-string",
        'year is the string "2024".',
        "submission",
        variant(submission, year="2024"),
        KOMMUNE,
        "invalid",
    )
    add(
        "count-as-bool",
        "record_count is true.",
        "submission",
        variant(submission, record_count=True),
        KOMMUNE,
        "invalid",
    )
    add(
        "count-at-bound",
        "record_count is 1000000, the largest Count (signed; the parts' digests are not checked here).",
        "submission",
        variant(submission, record_count=1_000_000),
        KOMMUNE,
        "valid",
    )
    add(
        "count-too-large",
        "record_count is 1000001 (a Count is at most 1000000).",
        "submission",
        variant(submission, record_count=1_000_001),
        KOMMUNE,
        "invalid",
    )
    add(
        "delivery-key-version-at-bound",
        "pseudonym_key_version is 999999999, the largest KeyVersion (signed; the parts' digests are not checked here).",
        "delivery",
        variant(delivery, pseudonym_key_version=MAX_KEY_VERSION),
        TPF,
        "valid",
    )
    add(
        "delivery-key-version-too-large",
        "pseudonym_key_version is 1000000000: a KeyVersion has at most nine digits (section 7.2).",
        "delivery",
        variant(delivery, pseudonym_key_version=MAX_KEY_VERSION + 1),
        TPF,
        "invalid",
    )
    add(
        "uppercase-digest",
        "The identity part's sha256 in upper-case hex.",
        "submission",
        variant(
            submission,
            parts={
                **submission["parts"],
                "identity": {
                    **submission["parts"]["identity"],
                    "sha256": submission["parts"]["identity"]["sha256"].upper(),
                },
            },
        ),
        KOMMUNE,
        "invalid",
    )
    add(
        "message-id-not-v4",
        "message_id with version nibble 1 instead of 4.",
        "submission",
        variant(submission, message_id=MESSAGE_ID[:14] + "1" + MESSAGE_ID[15:]),
        KOMMUNE,
        "invalid",
    )
    for name, field, value, comment in (
        ("created-at-february-30", "created_at", "2025-02-30T10:15:00Z", "30 February does not exist"),
        ("created-at-february-29-not-leap", "created_at", "2025-02-29T10:15:00Z", "2025 is not a leap year"),
        ("created-at-month-13", "created_at", "2025-13-03T10:15:00Z", "there is no month 13"),
        ("created-at-day-00", "created_at", "2025-02-00T10:15:00Z", "there is no day 0"),
        ("created-at-hour-24", "created_at", "2025-02-03T24:00:00Z", "hours run from 00 to 23"),
        ("created-at-minute-60", "created_at", "2025-02-03T10:60:00Z", "minutes run from 00 to 59"),
        ("created-at-leap-second", "created_at", "2016-12-31T23:59:60Z", "a leap second is not a Timestamp"),
        ("created-at-year-0000", "created_at", "0000-02-03T10:15:00Z", "years start at 0001"),
    ):
        add(
            name,
            f"created_at is {value}, which matches the Timestamp pattern but names no instant: {comment} (signed).",
            "submission",
            variant(submission, **{field: value}),
            KOMMUNE,
            "invalid",
        )
    add(
        "created-at-february-29-leap-year",
        "created_at is 2024-02-29T10:15:00Z: 2024 is a leap year, so this Timestamp is valid (signed).",
        "submission",
        variant(submission, created_at="2024-02-29T10:15:00Z"),
        KOMMUNE,
        "valid",
    )
    add(
        "receipt-received-at-february-30",
        "A receipt whose received_at is 2025-02-30T10:15:03Z: not a real instant (signed).",
        "receipt",
        variant(receipt, received_at="2025-02-30T10:15:03Z"),
        REGISTRY,
        "invalid",
    )
    add(
        "report-created-at-hour-24",
        "A report header whose created_at is 2025-02-03T24:20:00Z: not a real instant (signed).",
        "report",
        variant(report, created_at="2025-02-03T24:20:00Z"),
        REGISTRY,
        "invalid",
    )
    add(
        "size-beyond-2^53",
        "The identity part's size is 2^53 (integers are at most 2^53 - 1).",
        "submission",
        variant(
            submission, parts={**submission["parts"], "identity": {**submission["parts"]["identity"], "size": 2**53}}
        ),
        KOMMUNE,
        "invalid",
    )
    add(
        "unknown-signer-kid",
        "signer_kid names no key in the directory (an outsider's key signed).",
        "submission",
        variant(submission, signer_kid=OUTSIDER.signing_kid),
        OUTSIDER,
        "refused:unknown-key",
    )
    add(
        "signer-kid-is-encryption-key",
        "signer_kid names the municipality's X25519 key.",
        "submission",
        variant(submission, signer_kid=KOMMUNE.encryption_kid),
        KOMMUNE,
        "refused:unknown-key",
    )
    add(
        "unknown-kid-before-signature",
        "Unknown signer_kid AND a bad signature: the kid is looked up first.",
        "submission",
        variant(submission, signer_kid=OUTSIDER.signing_kid),
        OUTSIDER,
        "refused:unknown-key",
        signature=bytes(64),
    )
    add(
        "non-canonical-before-kid",
        "Unknown signer_kid in non-canonical bytes: the encoding is checked first.",
        "submission",
        json.dumps({**submission, "signer_kid": OUTSIDER.signing_kid}).encode(),
        OUTSIDER,
        "invalid",
    )
    # 7.7 step 2 (format and kind) comes before the key lookup; the schema and the signature's length after it.
    unknown = {**submission, "signer_kid": OUTSIDER.signing_kid}
    add(
        "unknown-kid-format-v2",
        "Unknown signer_kid AND format 'iplos-envelope/2': format and kind are checked before the key lookup.",
        "submission",
        variant(unknown, format="iplos-envelope/2"),
        OUTSIDER,
        "invalid",
    )
    add(
        "unknown-kid-missing-format",
        "Unknown signer_kid AND no format member: format and kind are checked before the key lookup.",
        "submission",
        without(unknown, "format"),
        OUTSIDER,
        "invalid",
    )
    add(
        "unknown-kid-missing-kind",
        "Unknown signer_kid AND no kind member: format and kind are checked before the key lookup.",
        "submission",
        without(unknown, "kind"),
        OUTSIDER,
        "invalid",
    )
    add(
        "unknown-kid-other-kind",
        "Unknown signer_kid AND kind 'delivery' where a submission is expected: the kind is checked before the "
        "key lookup.",
        "submission",
        variant(unknown, kind="delivery"),
        OUTSIDER,
        "invalid",
    )
    add(
        "unknown-kid-before-schema",
        "Unknown signer_kid AND an unknown member 'note': the key lookup comes before the schema.",
        "submission",
        variant(unknown, note="x"),
        OUTSIDER,
        "refused:unknown-key",
    )
    add(
        "unknown-kid-before-signature-length",
        "Unknown signer_kid AND a signature of 63 bytes: the key lookup comes before the signature's length.",
        "submission",
        canonical(unknown),
        OUTSIDER,
        "refused:unknown-key",
        signature=OUTSIDER.signing.sign(SIGN_LABEL + canonical(unknown)).signature[:63],
    )
    add(
        "sender-mismatch",
        "Signed by kommune-0301's key, but the header names kommune-4601 as sender.",
        "submission",
        variant(submission, sender=KOMMUNE_2.name),
        KOMMUNE,
        "refused:sender-mismatch",
    )
    add(
        "sender-mismatch-after-schema",
        "Sender mismatch AND an unknown member: the schema is checked first.",
        "submission",
        variant(submission, sender=KOMMUNE_2.name, note="x"),
        KOMMUNE,
        "invalid",
    )
    # Receipts and reports carry their signature in strict base64 (section 1): a case with 'signature_b64' gives
    # the signature as the transport carries it, and a decoder that is not strict lets a second spelling through.
    receipt_sig = REGISTRY.signing.sign(SIGN_LABEL + canonical(receipt)).signature
    receipt_b64 = b64(receipt_sig)
    assert receipt_b64.endswith("==")
    last = receipt_b64[-3]  # the last data character: 2 bits of the signature and 4 unused bits
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    for name, text, expect, comment in (
        ("receipt-signature-base64", receipt_b64, "valid", "The stored receipt's signature in strict base64."),
        (
            "receipt-signature-unused-bits",
            receipt_b64[:-3] + alphabet[alphabet.index(last) ^ 1] + "==",
            "invalid",
            "The signature's last data character with its lowest unused bit set: it decodes to the same 64 bytes, "
            "but it is not the canonical encoding.",
        ),
        (
            "receipt-signature-no-padding",
            receipt_b64[:-2],
            "invalid",
            "The signature without its '==' padding.",
        ),
        (
            "receipt-signature-line-break",
            receipt_b64[:44] + "\n" + receipt_b64[44:],
            "invalid",
            "The signature with a line break after 44 characters (MIME style).",
        ),
        (
            "receipt-signature-url-alphabet",
            receipt_b64.replace("+", "-").replace("/", "_"),
            "invalid",
            "The signature in the base64url alphabet ('-' and '_' for '+' and '/').",
        ),
    ):
        assert name != "receipt-signature-url-alphabet" or text != receipt_b64, "the signature has no + or /"
        add(name, comment, "receipt", canonical(receipt), REGISTRY, expect, signature=receipt_sig, signature_b64=text)
    add(
        "signature-small-order-r",
        "Signed by kommune-0301's key with the nonce point R the identity (a point of small order) and S = k*a: "
        "the RFC 8032 group equation holds, but a verifier MUST reject a small-order R (section 7.1).",
        "submission",
        submission_bytes,
        KOMMUNE,
        "invalid",
        signature=small_order_r_signature(KOMMUNE.signing, SIGN_LABEL + submission_bytes),
    )
    return {
        "format": "iplos-test-vectors/headers/1",
        "description": (
            "Signed headers (docs/envelope-v1.md, 'Signed headers' and 'Verifying a signed header'). Verify "
            "'header' (the exact bytes: each character is one byte, U+0000-U+00FF; valid headers are ASCII) with "
            "the Ed25519 'signature' (hex) against 'directory' (an iplos-directory/1 document), as the header kind "
            "'verify_as'. expect: 'valid' (signer_party is the party that signed), 'invalid' (the opaque error), "
            "or 'refused:<code>' (a policy refusal with that code). Where 'signature_b64' is given, the signature "
            "is that text as a receipt or report carries it: decode it as strict base64 (a decoding failure is "
            "'invalid'); 'signature' is then the hex of the signature it was made from. signer_public is "
            "informative."
        ),
        "directory": directory_document(),
        "cases": cases,
    }


# Ed25519 arithmetic (RFC 8032), only to build a signature with a small-order R that a lax verifier accepts.
_ED_L = 2**252 + 27742317777372353535851937790883648493
_ED_IDENTITY = bytes([1]) + bytes(31)  # the encoding of the neutral point (0, 1): order 1


def small_order_r_signature(key: SigningKey, message: bytes) -> bytes:
    """R = the neutral point, S = k * a mod L: [S]B = R + [k]A holds, so only the small-order check refuses it."""
    digest = hashlib.sha512(bytes(key)[:32]).digest()
    scalar = bytearray(digest[:32])
    scalar[0] &= 248
    scalar[31] &= 127
    scalar[31] |= 64
    a = int.from_bytes(scalar, "little")
    public = bytes(key.verify_key)
    k = int.from_bytes(hashlib.sha512(_ED_IDENTITY + public + message).digest(), "little") % _ED_L
    signature = _ED_IDENTITY + ((k * a) % _ED_L).to_bytes(32, "little")
    # The group equation holds: a verifier without the check (OpenSSL's, for one) accepts it.
    Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    return signature


# --- canonical.json ----------------------------------------------------------------------------------------------


def make_canonical() -> Json:
    accept = [
        ("empty-object", "{}"),
        ("sorted-members", '{"a":1,"b":"x","c":null}'),
        ("literals", '{"f":false,"n":null,"t":true}'),
        ("nested", '{"a":{"b":{"c":[]}},"z":[1,{"x":1,"y":2}]}'),
        ("array-order-kept", '{"a":[3,1,2]}'),
        ("integers", '{"max":9007199254740991,"min":-9007199254740991,"neg":-1,"zero":0}'),
        ("empty-string-key", '{"":1,"a":2}'),
        ("prefix-sorts-first", '{"a":1,"aa":2,"ab":3,"b":4}'),
        ("upper-before-lower", '{"B":1,"a":2,"b":3}'),
        ("short-escapes", '{"s":"\\"\\\\\\b\\f\\n\\r\\t"}'),
        ("control-escape", '{"s":"\\u0000\\u001f"}'),
        ("del-escaped", '{"s":"\\u007f"}'),
        ("solidus-raw", '{"s":"a/b"}'),
        ("non-ascii-escaped", '{"s":"\\u00e9\\u2028\\uffff"}'),
        ("astral-surrogate-pair", '{"s":"\\ud83d\\ude00"}'),
        ("escaped-key-sorts-by-code-point", '{"z":2,"\\u00e9":1}'),
        ("code-point-order", '{"\\ufb01":1,"\\ud83d\\ude00":2}'),
    ]
    reject: list[tuple[str, str | bytes, str | None, str | None]] = [
        ("space-after-colon", '{"a": 1}', '{"a":1}', None),
        ("space-after-comma", '{"a":1, "b":2}', '{"a":1,"b":2}', None),
        ("leading-space", ' {"a":1}', '{"a":1}', None),
        ("trailing-newline", '{"a":1}\n', '{"a":1}', None),
        ("pretty-printed", '{\n  "a": 1\n}', '{"a":1}', None),
        ("unsorted", '{"b":1,"a":2}', '{"a":2,"b":1}', None),
        ("unsorted-nested", '{"a":{"c":1,"b":2}}', '{"a":{"b":2,"c":1}}', None),
        ("utf16-order", '{"\\ud83d\\ude00":2,"\\ufb01":1}', '{"\\ufb01":1,"\\ud83d\\ude00":2}', None),
        ("duplicate-key", '{"a":1,"a":1}', None, None),
        ("duplicate-key-nested", '{"a":{"b":1,"b":2}}', None, None),
        ("float", '{"a":1.0}', None, None),
        ("exponent", '{"a":1e2}', None, None),
        ("negative-zero", '{"a":-0}', '{"a":0}', None),
        ("leading-zero", '{"a":01}', None, None),
        ("plus-sign", '{"a":+1}', None, None),
        ("nan", '{"a":NaN}', None, None),
        ("infinity", '{"a":Infinity}', None, None),
        ("beyond-2^53", '{"a":9007199254740992}', None, None),
        ("below-minus-2^53", '{"a":-9007199254740992}', None, None),
        ("uppercase-hex-escape", '{"s":"\\u00E9"}', '{"s":"\\u00e9"}', None),
        ("escaped-ascii-letter", '{"s":"\\u0041"}', '{"s":"A"}', None),
        ("escaped-solidus", '{"s":"\\/"}', '{"s":"/"}', None),
        ("long-escape-for-short", '{"s":"\\u0008"}', '{"s":"\\b"}', None),
        ("raw-del", '{"s":"\x7f"}', '{"s":"\\u007f"}', None),
        ("raw-tab", '{"s":"\t"}', None, None),
        ("raw-utf8", '{"s":"\u00e9"}'.encode(), '{"s":"\\u00e9"}', None),
        ("invalid-utf8", b'{"s":"\xff"}', None, None),
        ("utf8-bom", b"\xef\xbb\xbf{}", None, None),
        ("lone-high-surrogate", '{"s":"\\ud800"}', None, None),
        ("lone-low-surrogate", '{"s":"\\ude00x"}', None, None),
        ("top-level-array", "[]", None, None),
        ("top-level-string", '"a"', None, None),
        ("empty-input", "", None, None),
        ("truncated", '{"a":1', None, None),
        ("trailing-comma", '{"a":1,}', None, None),
        ("single-quotes", "{'a':1}", None, None),
        ("two-objects", '{"a":1}{"b":2}', None, None),
    ]
    cases: list[Json] = [{"name": name, "input": text, "expect": "accept", "canonical": text} for name, text in accept]
    for name, text, canon, divergence in reject:
        case: Json = {"name": name}
        if isinstance(text, bytes):
            case["input_b64"] = b64(text)
        else:
            case["input"] = text
        case["expect"] = "reject"
        if canon is not None:
            case["canonical"] = canon
        if divergence:
            case["divergence"] = divergence
        cases.append(case)
    return {
        "format": "iplos-test-vectors/canonical/1",
        "description": (
            "Canonical JSON (docs/envelope-v1.md, 'Canonical JSON'). The input bytes are 'input' encoded as UTF-8, "
            "or 'input_b64' decoded. A decoder accepts the input or rejects it. 'canonical', where given, is the "
            "canonical encoding of the value the input denotes: for accepted inputs it equals the input."
        ),
        "cases": cases,
    }


# --- pseudonyms.json and key_ids.json --------------------------------------------------------------------------


def make_pseudonyms() -> Json:
    numbers = {
        "tenor-1957": FNR_A,
        "tenor-2004": FNR_B,
        "tenor-d-number-1988": FNR_C,
        "tenor-1892": FNR_D,
        "tenor-2020-02-29": FNR_E,
    }
    key_sizes = {1: "32-byte key", 2: "64-byte key (HMAC block size)", 3: "80-byte key (hashed by HMAC)"}
    cases: list[Json] = []
    for version, key in PSEUDONYM_KEYS.items():
        for label, number in list(numbers.items())[: 5 if version == 1 else 2]:
            value = pseudonym(key, number)
            cases.append(
                {
                    "name": f"v{version}-{label}",
                    "comment": key_sizes[version],
                    "key_version": version,
                    "key": key.hex(),
                    "fnr": number,
                    "type": "DNR" if number == FNR_C else "FNR",
                    "synthetic_accepted": True,
                    "expect": "ok",
                    "pseudonym_hex": value.hex(),
                    "pseudonym_b64url": b64url(value),
                }
            )
    day_32 = _with_check("3281" + "50", 123)
    not_century = _with_check("1481" + "50", 600)
    # (name, number, declared type, synthetic numbers accepted, rule, comment)
    refusals = [
        ("ten-digits", FNR_A[:10], "FNR", True, "length", "ten digits"),
        ("twelve-digits", FNR_A + "0", "FNR", True, "length", "twelve digits"),
        ("leading-space", " " + FNR_A[1:], "FNR", True, "digits", "a space instead of the first digit"),
        (
            "arabic-indic-digit",
            FNR_A[:5] + "\u0661" + FNR_A[6:],
            "FNR",
            True,
            "digits",
            "an Arabic-Indic digit one (not ASCII)",
        ),
        ("check-digit", FNR_BAD_CHECK, "FNR", True, "check-digit", "the second check digit off by one"),
        ("day-32", day_32, "FNR", True, "date", "day 32 (month 81: Tenor form), both check digits valid"),
        ("no-century", not_century, "FNR", True, "individual-number", "individnummer 600 with year 50: no century"),
        # The policy rules come after the number rules, the declared type before synthetic numbers.
        ("d-number-declared-fnr", FNR_C, "FNR", True, "type-mismatch", "a valid D-number declared FNR"),
        ("fnr-declared-dnr", FNR_A, "DNR", True, "type-mismatch", "a valid ordinary number declared DNR"),
        ("fnr-declared-hnr", FNR_A, "HNR", True, "type-mismatch", "a valid ordinary number declared HNR"),
        ("fnr-declared-fhn", FNR_A, "FHN", True, "type-mismatch", "a valid ordinary number declared FHN"),
        (
            "synthetic-not-accepted",
            FNR_A,
            "FNR",
            False,
            "synthetic-number",
            "a valid Tenor number (month + 80), correctly declared, at a TPF that does not accept synthetic numbers",
        ),
        (
            "synthetic-d-number-not-accepted",
            FNR_C,
            "DNR",
            False,
            "synthetic-number",
            "a valid Tenor D-number (day + 40, month + 80), correctly declared, synthetic numbers not accepted",
        ),
        (
            "type-before-synthetic",
            FNR_C,
            "FNR",
            False,
            "type-mismatch",
            "a Tenor D-number declared FNR, synthetic numbers not accepted: the declared type is checked first",
        ),
        (
            "number-rules-before-policy",
            FNR_BAD_CHECK,
            "DNR",
            False,
            "check-digit",
            "a bad check digit, the wrong type and a synthetic number: the number rules come first",
        ),
    ]
    for name, number, declared, accepted, rule, comment in refusals:
        cases.append(
            {
                "name": f"refused-{name}",
                "key_version": 1,
                "key": PSEUDONYM_KEYS[1].hex(),
                "fnr": number,
                "type": declared,
                "synthetic_accepted": accepted,
                "expect": "refused",
                "rule": rule,
                "comment": comment,
            }
        )
    return {
        "format": "iplos-test-vectors/pseudonyms/1",
        "description": (
            "Pseudonyms (docs/envelope-v1.md, 'Pseudonyms'): HMAC-SHA256(key, label || 0x00 || fnr as ASCII). "
            "All numbers are synthetic (Tenor form, month + 80). 'type' is the number type the identity part "
            "declares for the record, 'synthetic_accepted' whether the TPF accepts synthetic numbers (a test "
            "TPF does, a production TPF does not). expect 'refused': the number gets no pseudonym; 'rule' is the "
            "refusal code the TPF writes in the pseudonym part, the first rule of section 12.2 that fails: the "
            "number rules, then the policy rules."
        ),
        "label": PSEUDONYM_LABEL.decode("ascii"),
        "cases": cases,
    }


def _with_check(first6: str, individual: int) -> str:
    """Six digits and the first individnummer from ``individual`` on whose classic check digits exist."""
    for candidate in range(individual, individual + 40):
        try:
            return f"{first6}{candidate:03d}" + check_digits(f"{first6}{candidate:03d}")
        except InvalidCheckDigit:
            continue
    raise ValueError("no check digits near that individual number")


def make_key_ids() -> Json:
    cases = []
    for party in (KOMMUNE, TPF, REGISTRY):
        cases.append(
            {
                "name": f"{party.name}-X25519",
                "party": party.name,
                "alg": "X25519",
                "private": party.encryption.private_bytes_raw().hex(),
                "public": party.encryption_public.hex(),
                "kid": party.encryption_kid,
            }
        )
        cases.append(
            {
                "name": f"{party.name}-Ed25519",
                "party": party.name,
                "alg": "Ed25519",
                "private": party.signing.encode().hex(),
                "public": party.signing_public.hex(),
                "kid": party.signing_kid,
            }
        )
    document = directory_document()
    entry = document["parties"]["tpf"]
    wrong_kid = json.loads(json.dumps(document))
    wrong_kid["parties"]["tpf"]["keys"][0]["kid"] = entry["keys"][1]["kid"]
    wrong_alg = json.loads(json.dumps(document))
    wrong_alg["parties"]["tpf"]["keys"][0]["alg"] = "x25519"
    short_key = json.loads(json.dumps(document))
    short_key["parties"]["tpf"]["keys"][0]["public"] = b64(TPF.encryption_public[:31])
    wrong_role = json.loads(json.dumps(document))
    wrong_role["parties"]["tpf"]["role"] = "pseudonymiser"
    wrong_format = {**document, "format": "iplos-directory/2"}
    duplicate = json.loads(json.dumps(document))
    duplicate["parties"]["kommune-4601"]["keys"].append(document["parties"]["kommune-0301"]["keys"][1])
    # The TPF's X25519 key (32 bytes: 43 base64 characters and '='; the last character holds 2 unused bits).
    text = entry["keys"][0]["public"]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    unused_bits = json.loads(json.dumps(document))
    unused_bits["parties"]["tpf"]["keys"][0]["public"] = text[:-2] + alphabet[alphabet.index(text[-2]) ^ 1] + "="
    small_order = json.loads(json.dumps(document))
    small_order["parties"]["tpf"]["keys"][1] = {
        "kid": key_id("Ed25519", _ED_IDENTITY),
        "alg": "Ed25519",
        "public": b64(_ED_IDENTITY),
    }
    directory_cases = [
        {"name": "example", "document": document, "expect": "ok"},
        {
            "name": "kid-mismatch",
            "comment": "The TPF's X25519 entry carries the id of its Ed25519 key.",
            "document": wrong_kid,
            "expect": "fail",
        },
        {
            "name": "alg-lowercase",
            "comment": "alg 'x25519': algorithm names are case-sensitive.",
            "document": wrong_alg,
            "expect": "fail",
        },
        {"name": "key-31-bytes", "comment": "A public key of 31 bytes.", "document": short_key, "expect": "fail"},
        {"name": "unknown-role", "comment": "role 'pseudonymiser'.", "document": wrong_role, "expect": "fail"},
        {"name": "format-v2", "comment": "format 'iplos-directory/2'.", "document": wrong_format, "expect": "fail"},
        {
            "name": "duplicate-kid",
            "comment": "kommune-4601 also lists kommune-0301's signing key: one kid would name two parties.",
            "document": duplicate,
            "expect": "fail",
        },
        {
            "name": "public-unused-bits",
            "comment": "The TPF's X25519 key with a non-zero unused bit in its last base64 character: it decodes to "
            "the same key, whose kid matches, but strict base64 is the canonical encoding only.",
            "document": unused_bits,
            "expect": "fail",
        },
        {
            "name": "ed25519-small-order",
            "comment": "The TPF's signing key replaced by the neutral point (order 1), with its matching kid: a "
            "signature that verifies under it needs no private key, so a loader MUST refuse it.",
            "document": small_order,
            "expect": "fail",
        },
    ]
    return {
        "format": "iplos-test-vectors/key-ids/1",
        "description": (
            "Key ids (docs/envelope-v1.md, 'Keys and key ids'): kid = hex(SHA-256('iplos/v1/kid' || 0x00 || alg || "
            "0x00 || raw public key))[:16]. 'private' is the raw private key (X25519 scalar, Ed25519 seed) from "
            "which 'public' derives. directory_cases: iplos-directory/1 documents a loader accepts or refuses."
        ),
        "cases": cases,
        "directory_cases": directory_cases,
    }


# --- output ------------------------------------------------------------------------------------------------------

_ELEVEN_DIGITS = re.compile(r"(?<![0-9])[0-9]{11}(?![0-9])")
_W1 = (3, 7, 6, 1, 8, 9, 4, 5, 2)
_W2 = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)


def _passes_ordinary_fnr_check(run: str) -> bool:
    """True if an eleven-digit run looks like a real person's number (month 01-12, both classic check digits)."""
    digits = [int(c) for c in run]
    day, month = int(run[0:2]) % 40, int(run[2:4])
    if not (1 <= day <= 31 and 1 <= month <= 12):
        return False

    def check(values: list[int], weights: tuple[int, ...]) -> int:
        k = 11 - sum(a * b for a, b in zip(values, weights, strict=True)) % 11
        return 0 if k == 11 else k

    return check(digits[:9], _W1) == digits[9] and check(digits[:10], _W2) == digits[10]


def render(document: Json) -> str:
    text = json.dumps(document, indent=1, ensure_ascii=True) + "\n"
    for match in _ELEVEN_DIGITS.finditer(text):
        if _passes_ordinary_fnr_check(match.group()):
            raise SystemExit(f"an eleven-digit run near offset {match.start()} passes the ordinary fnr check")
    return text


def documents() -> dict[str, str]:
    contents = make_contents()
    return {
        "canonical.json": render(make_canonical()),
        "key_ids.json": render(make_key_ids()),
        "pseudonyms.json": render(make_pseudonyms()),
        "headers.json": render(make_headers(contents)),
        "contents.json": render(contents),
        "payloads.json": render(make_payloads()),
        "parts.json": render(make_parts()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the files instead of writing them")
    args = parser.parse_args(argv)
    stale = []
    for name, text in documents().items():
        path = HERE / name
        if args.check:
            if not path.exists() or path.read_text(encoding="ascii") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="ascii")
            print(f"wrote {path.relative_to(HERE.parents[1])} ({len(text)} bytes)")
    if stale:
        print("stale vector files (run tests/vectors/make_vectors.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
