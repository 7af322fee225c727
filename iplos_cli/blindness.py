"""``iplos audit tpf-blindness``: an auditor's one-command evidence that the TPF cannot read the payload.

Three independent checks against a running chain and the state folder ``iplos up --state-dir`` wrote:

1. **Key custody.** A fresh canary payload part is sealed for the registry's current X25519 key (from
   ``keys/directory.json``). Every secret the TPF holds (each file under ``keys/tpf``, and anything key-like in
   its state folder ``tpf/``) is tried against it in every plausible interpretation; none may open it. The
   registry's own key (``keys/registry/encryption.pem``) must open it: otherwise the check would prove nothing.
2. **Canary run.** A synthetic export whose payload fields carry unique ASCII canaries goes through the chain
   until the registry has stored it. Nothing the TPF wrote or answers may hold a canary (plain, UTF-16, hex,
   base64 in every alignment); what the registry stored must (positive control). The same for the registry and
   the export's identity numbers: none at the registry, all of them in the export file (positive control).
3. **Import contracts.** ``lint-imports`` with the project's own contracts, each KEPT or BROKEN.

The report names where something was found by file, offset, line and the canary's or identity number's index,
never by the value itself, so that the report and the console output can be passed around.

The payload is opened here with the generic part opener (``shared.envelope._part``) and the registry's key is
loaded with ``cryptography`` directly: the command line may not import ``shared.envelope.payload_open`` or
``shared.keys.registry`` (import contract), and an auditor's tool should not depend on the registry's code to
say whether a key opens a part anyway.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import hashlib
import html
import io
import json
import mmap
import os
import re
import secrets
import shutil
import subprocess
import sys
import tomllib
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from markdown_it import MarkdownIt
from nacl.bindings import crypto_sign_ed25519_sk_to_curve25519, crypto_sign_seed_keypair

from iplos_cli import client
from iplos_cli.chain import CREDENTIALS_FOLDER, municipality_token_file, served_municipalities
from iplos_testkit.generator import generate_records
from iplos_testkit.writer import write_export
from shared.envelope import PartContext
from shared.envelope.payload_open import open_payload_with
from shared.envelope.payload_seal import PayloadSealer
from shared.errors import InvalidEnvelope, IplosError
from shared.iplos.model import Coercion, ExportHeader, PersonRecord
from shared.iplos.payload import PAYLOAD_FORMAT, encode_header, encode_trailer
from shared.iplos.reporting_year import FIRST_REPORTING_YEAR
from shared.keys import ALG_X25519, ENCRYPTION_FILE, PublicDirectory, key_id
from shared.keys.municipality import party_name

CANARY_PREFIX: Final = "CANARY-"
# The register's first reporting year (the registry refuses earlier ones). A canary submission is stored like any
# other, so it runs where synthetic numbers are accepted (a test or staging chain: a production TPF refuses them);
# there, in the oldest year it is least likely to meet real work, and if that year holds a larger submission the
# registry holds the canary rather than let it replace the year.
DEFAULT_YEAR: Final = FIRST_REPORTING_YEAR
DEFAULT_PERSONS: Final = 12
REPORT_STEM: Final = "tpf-blindness"
_CANARY_LABEL: Final = "iplos-chain/tpf-blindness/1"
_MAX_HITS_PER_NEEDLE: Final = 20
_MAX_AUDIT_PAGES: Final = 1000
_REQUIRED_TPF_FORBIDDEN: Final = ("shared.envelope.payload_open", "shared.keys.registry")

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


# ---------------------------------------------------------------------------------------------- canaries


def _canary(key: str, number: int) -> str:
    digest = hashlib.sha256(f"{_CANARY_LABEL}\0{key}\0{number}".encode()).hexdigest()
    # 7 + 24 characters: within tjenesteID's 40 and tekstType's 100, and only [A-Za-z0-9-], which every
    # field's pattern allows, so the canary survives schema validation unchanged.
    return CANARY_PREFIX + digest[:24]


def canary(seed: int, number: int) -> str:
    """The canary ``number`` (1-based) that a run with ``--seed seed`` puts into its export. Without a seed the
    canaries are drawn fresh for every run."""
    return _canary(f"seed:{seed}", number)


@dataclass(frozen=True)
class Canary:
    number: int
    carried_in: str
    """Where it travels, e.g. ``tjenesteID of service 2 of record 5``."""
    stored_by_registry: bool
    """Whether the registry keeps this field (it keeps services and coercion decisions, not the EPJ header)."""
    value: str = field(repr=False)


@dataclass(frozen=True)
class Needle:
    kind: str  # "canary" or "identity number"
    number: int
    form: str
    data: bytes = field(repr=False)

    @property
    def label(self) -> str:
        return f"{self.kind} #{self.number}"


def needle_forms(text: str) -> list[tuple[str, bytes]]:
    """The encodings a value could be written in by mistake: plain, UTF-16, hex and base64 (standard and URL
    alphabets). Base64 is searched in all three alignments: a value that starts at byte 1 or 2 of a 3-byte
    group encodes differently, so the needle is the encoding of the value's bytes from the first group
    boundary on, whole groups only (those characters depend on the value alone)."""
    raw = text.encode("utf-8")
    forms: list[tuple[str, bytes]] = [
        ("plain", raw),
        ("UTF-16LE", text.encode("utf-16-le")),
        ("UTF-16BE", text.encode("utf-16-be")),
        ("hex", raw.hex().encode("ascii")),
    ]
    for shift in range(3):
        part = raw[shift:]
        usable = len(part) // 3 * 3
        if usable < 9:  # fewer than 12 base64 characters would match by chance in a large file
            continue
        forms.append((f"base64 (alignment {shift})", base64.b64encode(part[:usable])))
        forms.append((f"base64url (alignment {shift})", base64.urlsafe_b64encode(part[:usable])))
    seen: set[bytes] = set()
    unique = []
    for name, data in forms:
        if data not in seen:
            seen.add(data)
            unique.append((name, data))
    return unique


def _needles(kind: str, values: Sequence[tuple[int, str]]) -> list[Needle]:
    return [Needle(kind, number, form, data) for number, value in values for form, data in needle_forms(value)]


# ---------------------------------------------------------------------------------------------- searching


@dataclass(frozen=True)
class Hit:
    where: str
    """A file relative to the state folder, or an answer (``TPF GET /v1/messages/{id}``)."""
    offset: int
    line: int | None
    needle: Needle

    def describe(self) -> str:
        at = f"offset {self.offset}" + (f", line {self.line}" if self.line is not None else "")
        return f"{self.needle.label} ({self.needle.form}) at {at}"


@dataclass
class Searched:
    """What one search covered, so the report can name every file and answer it looked at."""

    files: list[tuple[str, int]] = field(default_factory=list)
    answers: list[tuple[str, str]] = field(default_factory=list)
    """(what was asked, what came back: "HTTP 200, 1234 bytes" or why it was not searched)."""
    unreadable: list[str] = field(default_factory=list)
    vanished: list[str] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)

    @property
    def answers_searched(self) -> int:
        return sum(1 for _, outcome in self.answers if outcome.endswith(", searched"))


def _looks_textual(data: bytes | mmap.mmap) -> bool:
    return b"\0" not in data[:8192]


def search_bytes(where: str, data: bytes | mmap.mmap, needles: Iterable[Needle]) -> list[Hit]:
    hits = []
    textual = _looks_textual(data)
    for needle in needles:
        start = 0
        for _ in range(_MAX_HITS_PER_NEEDLE):
            offset = data.find(needle.data, start)
            if offset < 0:
                break
            # A line number helps in a log; in a database file it means nothing.
            line = data[:offset].count(b"\n") + 1 if textual else None
            hits.append(Hit(where, offset, line, needle))
            start = offset + 1
    return hits


def walk_files(folder: Path) -> list[Path]:
    """Every regular file under ``folder``, following symbolic links (a link to a key is as good as the key),
    each real folder once."""
    found: list[Path] = []
    seen: set[str] = set()
    for root, dirs, files in os.walk(folder, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        dirs.sort()
        for name in sorted(files):
            path = Path(root) / name
            if path.is_file():
                found.append(path)
    return found


@dataclass
class _Opened:
    data: bytes | mmap.mmap
    handle: io.BufferedReader | None = None
    mapping: mmap.mmap | None = None

    def close(self) -> None:
        if self.mapping is not None:
            self.mapping.close()
        if self.handle is not None:
            self.handle.close()


def _open_bytes(path: Path) -> _Opened:
    handle = path.open("rb")
    try:
        size = os.fstat(handle.fileno()).st_size
        if size == 0:
            handle.close()
            return _Opened(b"")
        # Mapped rather than read: a registry database can be large, and a search only needs to look at it.
        mapping = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    except BaseException:
        handle.close()
        raise
    return _Opened(mapping, handle, mapping)


def search_folder(state_dir: Path, folder: Path, needles: Sequence[Needle], searched: Searched) -> None:
    for path in walk_files(folder):
        where = _relative(state_dir, path)
        try:
            opened = _open_bytes(path)
        except FileNotFoundError:
            searched.vanished.append(where)  # a temporary file the service removed in between
            continue
        except OSError as exc:
            searched.unreadable.append(f"{where}: {type(exc).__name__}")
            continue
        try:
            searched.files.append((where, len(opened.data)))
            searched.hits.extend(search_bytes(where, opened.data, needles))
        finally:
            opened.close()


def _relative(state_dir: Path, path: Path) -> str:
    try:
        return path.relative_to(state_dir).as_posix()
    except ValueError:
        return path.as_posix()


# ---------------------------------------------------------------------------------------------- 1. key custody


@dataclass(frozen=True)
class CanaryEnvelope:
    part: bytes = field(repr=False)
    body: bytes = field(repr=False)
    context: PartContext
    sha256: str


@dataclass
class KeyAttempt:
    interpretation: str
    result: str
    opened: bool = False
    inconclusive: bool = False


@dataclass
class KeyFile:
    file: str
    size: int | None
    attempts: list[KeyAttempt] = field(default_factory=list)
    note: str | None = None

    @property
    def opened(self) -> list[KeyAttempt]:
        return [a for a in self.attempts if a.opened]

    @property
    def inconclusive(self) -> bool:
        return any(a.inconclusive for a in self.attempts)


@dataclass
class KeyCustody:
    registry_kid: str | None = None
    envelope: CanaryEnvelope | None = None
    control_file: str | None = None
    control_kid: str | None = None
    control_result: str = "not run"
    control_opened: bool = False
    files: list[KeyFile] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def openers(self) -> list[tuple[KeyFile, KeyAttempt]]:
        return [(f, a) for f in self.files for a in f.opened]

    @property
    def ok(self) -> bool:
        return (
            not self.errors and self.control_opened and not self.openers and not any(f.inconclusive for f in self.files)
        )

    def summary(self) -> str:
        if self.errors:
            return self.errors[0]
        if self.openers:
            names = sorted({f.file for f, _ in self.openers})
            return f"{', '.join(names)} opens the canary payload envelope"
        if not self.control_opened:
            return f"positive control {self.control_result}"
        if any(f.inconclusive for f in self.files):
            return "some of the TPF's files could not be tried"
        tried = sum(len(f.attempts) for f in self.files)
        return f"{len(self.files)} files, {tried} interpretations tried, none opens; the registry's key does"


_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]{1,64})-----\r?\n(.{0,16384}?)-----END \1-----", re.DOTALL)
# 32 bytes as text: 43 or 44 base64 characters (with or without padding, either alphabet), or 64 hex digits;
# 64 bytes (a libsodium secret key: seed || public): 86-88 base64 characters or 128 hex digits. The lookarounds
# keep a longer run (a signature, a digest list) from being cut into false candidates.
_B64_TOKEN = re.compile(
    rb"(?<![A-Za-z0-9+/_=-])(?:[A-Za-z0-9+/_-]{43}=?|[A-Za-z0-9+/_-]{86}(?:==)?)(?![A-Za-z0-9+/_=-])"
)
_HEX_TOKEN = re.compile(rb"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{64}|[0-9A-Fa-f]{128})(?![0-9A-Fa-f])")
_WHOLE_FILE_LIMIT: Final = 1 << 20  # a key file is small; a larger file is only searched for keys inside it
_KEYISH_NAME = re.compile(
    r"(key|secret|priv|seed|\.pem$|\.der$|\.p8$|\.pk8$|\.pkcs8$|\.jwk$|\.sk$|\.raw$|\.x25519$)", re.IGNORECASE
)


def _x25519_raw(secret: bytes) -> X25519PrivateKey:
    return X25519PrivateKey.from_private_bytes(secret)


def _ed25519_seed_to_x25519(seed: bytes) -> X25519PrivateKey:
    # libsodium's crypto_sign_ed25519_sk_to_curve25519: the X25519 scalar of the Ed25519 key's SHA-512 hash,
    # the same point a "sign and encrypt with one key" design would use.
    _, secret_key = crypto_sign_seed_keypair(seed)
    return X25519PrivateKey.from_private_bytes(crypto_sign_ed25519_sk_to_curve25519(secret_key))


def _raw_interpretations(what: str, secret: bytes) -> list[tuple[str, X25519PrivateKey]]:
    if len(secret) == 32:
        return [
            (f"{what} as a raw X25519 secret", _x25519_raw(secret)),
            (f"{what} as an Ed25519 seed converted to X25519", _ed25519_seed_to_x25519(secret)),
        ]
    if len(secret) == 64:
        # A libsodium Ed25519 secret key is seed || public key; a concatenation of two secrets also fits.
        return [
            (f"{what}, first 32 bytes as a raw X25519 secret", _x25519_raw(secret[:32])),
            (f"{what}, first 32 bytes as an Ed25519 seed converted to X25519", _ed25519_seed_to_x25519(secret[:32])),
            (f"{what}, last 32 bytes as a raw X25519 secret", _x25519_raw(secret[32:])),
        ]
    return []


def _key_interpretations(what: str, key: object) -> tuple[list[tuple[str, X25519PrivateKey]], str | None]:
    """(candidates, note) for a loaded private key of any type."""
    if isinstance(key, X25519PrivateKey):
        return [(f"{what}: X25519 private key", key)], None
    if isinstance(key, Ed25519PrivateKey):
        seed = key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        return [
            (f"{what}: Ed25519 private key converted to X25519", _ed25519_seed_to_x25519(seed)),
            (f"{what}: Ed25519 seed used as a raw X25519 secret", _x25519_raw(seed)),
        ], None
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size == 256:
        scalar = key.private_numbers().private_value.to_bytes(32, "big")
        return [(f"{what}: {key.curve.name} scalar used as a raw X25519 secret", _x25519_raw(scalar))], None
    return [], f"{what}: a {type(key).__name__.removeprefix('_')} cannot open an X25519 HPKE part"


def _interpretations(
    data: bytes | mmap.mmap, whole: bytes | None
) -> tuple[list[tuple[str, X25519PrivateKey]], list[KeyAttempt]]:
    """Every way ``data`` could hold an X25519 secret, and notes about what could not be tried.

    PEM blocks and base64/hex values embedded anywhere are always tried (a key pasted into a log or a database
    row); ``whole``, the file's bytes when it is key-like, is also tried as one key (DER, raw bytes)."""
    candidates: list[tuple[str, X25519PrivateKey]] = []
    notes: list[KeyAttempt] = []
    for match in _PEM_BLOCK.finditer(data):
        label = match.group(1).decode("ascii")
        what = f"PEM block '{label}' at offset {match.start()}"
        if "PRIVATE KEY" not in label:
            notes.append(KeyAttempt(what, "not a private key: nothing to try"))
            continue
        try:
            key = serialization.load_pem_private_key(match.group(0), password=None)
        except TypeError:
            notes.append(
                KeyAttempt(
                    what, "encrypted: cannot be tried without its password; find where that is kept", False, True
                )
            )
            continue
        except (ValueError, UnsupportedAlgorithm):
            body = b"".join(match.group(2).split())
            try:
                decoded = base64.b64decode(body, validate=True)
            except binascii.Error:
                notes.append(KeyAttempt(what, "neither a loadable key nor base64"))
                continue
            # A PKCS#8 X25519 or Ed25519 key is 16 bytes of structure followed by the 32-byte secret.
            found = _raw_interpretations(f"{what} (not loadable), last 32 bytes", decoded[-32:]) if decoded else []
            candidates.extend(found)
            if not found:
                notes.append(KeyAttempt(what, "not a loadable private key"))
            continue
        found, note = _key_interpretations(what, key)
        candidates.extend(found)
        if note:
            notes.append(KeyAttempt(note, "not tried"))
    if whole is not None:
        if whole[:1] == b"\x30":
            try:
                key = serialization.load_der_private_key(whole, password=None)
            except TypeError:
                notes.append(
                    KeyAttempt("whole file as DER", "encrypted: cannot be tried without its password", False, True)
                )
            except (ValueError, UnsupportedAlgorithm):
                pass
            else:
                found, note = _key_interpretations("whole file as DER", key)
                candidates.extend(found)
                if note:
                    notes.append(KeyAttempt(note, "not tried"))
        candidates.extend(_raw_interpretations("whole file (raw bytes)", whole))
        stripped = whole.strip()
        if stripped != whole:
            candidates.extend(_raw_interpretations("whole file without surrounding whitespace (raw bytes)", stripped))
    for match in _B64_TOKEN.finditer(data):
        token = match.group(0)
        padded = token.rstrip(b"=") + b"=" * (-len(token.rstrip(b"=")) % 4)
        decoded_forms: list[bytes] = []
        for alphabet, decode in (("base64", base64.b64decode), ("base64url", base64.urlsafe_b64decode)):
            try:
                secret = decode(padded)
            except (binascii.Error, ValueError):
                continue
            if secret in decoded_forms:
                continue  # a token without '+/' or '-_' reads the same in both alphabets
            decoded_forms.append(secret)
            candidates.extend(_raw_interpretations(f"{alphabet} text at offset {match.start()}", secret))
    for match in _HEX_TOKEN.finditer(data):
        secret = bytes.fromhex(match.group(0).decode("ascii"))
        candidates.extend(_raw_interpretations(f"hex text at offset {match.start()}", secret))
    return candidates, notes


def seal_canary_envelope(directory: PublicDirectory, body_marker: str) -> CanaryEnvelope:
    """A payload part as a gateway seals it (content line, payload header, trailer) for the registry's current
    key, carrying ``body_marker``. Sealed with the payload sealer itself, so it is a real payload part."""
    kid, public = directory.encryption_key("registry")
    municipalities = sorted(p.municipality for p in directory.parties() if p.role == "municipality" and p.municipality)
    sender = party_name(municipalities[0]) if municipalities else "kommune-0000"
    message_id = str(uuid.uuid4())
    context = PartContext(kind="payload", sender=sender, recipient="registry", recipient_kid=kid, message_id=message_id)
    header = ExportHeader(
        melding_guid=str(uuid.uuid4()),
        format_version="1.1",
        navn_epj=body_marker,
        leverandor="tpf-blindness audit",
        versjon_epj="1",
        rapporteringsaar=DEFAULT_YEAR,
        kommune_nr=municipalities[0] if municipalities else "0000",
    )
    out = io.BytesIO()
    sealer = PayloadSealer(
        out,
        sender=sender,
        recipient="registry",
        recipient_kid=kid,
        recipient_key=public,
        message_id=message_id,
        content=PAYLOAD_FORMAT,
    )
    lines = encode_header(header) + encode_trailer(0)
    sealer.write(lines)
    sealer.close()
    body = b'{"content":"' + PAYLOAD_FORMAT.encode() + b'"}\n' + lines
    part = out.getvalue()
    return CanaryEnvelope(part=part, body=body, context=context, sha256=hashlib.sha256(part).hexdigest())


def opens(envelope: CanaryEnvelope, key: X25519PrivateKey) -> bool:
    """True if ``key`` opens the whole part (every chunk authenticated) to the body that was sealed."""
    try:
        plain = b"".join(open_payload_with(io.BytesIO(envelope.part), key, envelope.context))
    except InvalidEnvelope:
        return False
    # AES-GCM authenticated every chunk: a different body cannot come out. Compared anyway, as evidence.
    return plain == envelope.body


def _public_kid(key: X25519PrivateKey) -> str:
    return key_id(ALG_X25519, key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))


def check_key_custody(state_dir: Path, progress: Progress = _quiet) -> KeyCustody:
    result = KeyCustody()
    try:
        directory = PublicDirectory.load(state_dir / "keys" / "directory.json")
        result.registry_kid, _ = directory.encryption_key("registry")
    except IplosError as exc:
        result.errors.append(f"the public-key directory could not be used: {exc}")
        return result
    marker = "KEY-CUSTODY-CANARY-" + secrets.token_hex(16)
    envelope = seal_canary_envelope(directory, marker)
    result.envelope = envelope
    progress("key custody: canary payload envelope sealed for the registry; trying the TPF's keys")

    _control(state_dir, envelope, result)

    tried: dict[bytes, bool] = {}  # one HPKE attempt per distinct secret, however many files hold it

    def attempt(key: X25519PrivateKey) -> bool:
        secret = key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        if secret not in tried:
            tried[secret] = opens(envelope, key)
        return tried[secret]

    key_folder = state_dir / "keys" / "tpf"
    state_folder = state_dir / "tpf"
    if not key_folder.is_dir():
        result.errors.append("keys/tpf does not exist: the TPF's keys are not where 'iplos up' puts them")
    sources = [(path, True) for path in walk_files(key_folder)] if key_folder.is_dir() else []
    if state_folder.is_dir():
        sources += [(path, bool(_KEYISH_NAME.search(path.name))) for path in walk_files(state_folder)]
    else:
        result.notes.append("the TPF's state folder tpf/ does not exist: only keys/tpf was searched")
    for path, whole_file in sources:
        entry = KeyFile(_relative(state_dir, path), None)
        result.files.append(entry)
        try:
            opened = _open_bytes(path)
        except FileNotFoundError:
            entry.note = "removed by the TPF while the check ran"
            continue
        except OSError as exc:
            entry.attempts.append(KeyAttempt("reading the file", f"unreadable ({type(exc).__name__})", False, True))
            continue
        try:
            data = opened.data
            entry.size = len(data)
            if path.is_symlink():
                entry.note = f"symbolic link to {os.path.realpath(path)}"
            # A small file in the state folder is tried as a whole too: a 32-byte file is a key whatever its name.
            small = bytes(data) if len(data) <= _WHOLE_FILE_LIMIT else None
            whole = small is not None and (
                whole_file
                or len(small) in (32, 64)
                or (len(small) < 4096 and bool(_B64_TOKEN.fullmatch(small.strip())))
            )
            candidates, notes = _interpretations(data, small if whole else None)
        finally:
            opened.close()
        entry.attempts.extend(notes)
        for interpretation, key in candidates:
            if attempt(key):
                entry.attempts.append(KeyAttempt(interpretation, "OPENS the canary payload envelope", opened=True))
            else:
                entry.attempts.append(KeyAttempt(interpretation, "does not open"))
    progress(f"key custody: {len(tried)} distinct secrets tried from {len(result.files)} files")
    return result


def _control(state_dir: Path, envelope: CanaryEnvelope, result: KeyCustody) -> None:
    path = state_dir / "keys" / "registry" / ENCRYPTION_FILE
    result.control_file = _relative(state_dir, path)
    if not path.is_file():
        result.control_result = (
            "not run: the registry's key is not in this state folder, so the check cannot show that the canary "
            "envelope opens at all"
        )
        return
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError, UnsupportedAlgorithm) as exc:
        result.control_result = f"not run: the registry's key file could not be loaded ({type(exc).__name__})"
        return
    if not isinstance(key, X25519PrivateKey):
        result.control_result = "not run: the registry's encryption key file holds no X25519 key"
        return
    result.control_kid = _public_kid(key)
    if result.control_kid != result.registry_kid:
        result.control_result = (
            f"failed: the registry's key file holds key {result.control_kid}, the directory names "
            f"{result.registry_kid} as the registry's current key"
        )
        return
    if opens(envelope, key):
        result.control_opened = True
        result.control_result = "opens the canary payload envelope (every chunk authenticated, body as sealed)"
    else:
        result.control_result = "failed: the registry's own key does not open the canary envelope"


# ---------------------------------------------------------------------------------------------- 2. canary run


@dataclass
class CanaryRun:
    municipality: str | None = None
    year: int = DEFAULT_YEAR
    seed: int | None = None
    export_file: str | None = None
    canaries: list[Canary] = field(default_factory=list)
    identity_count: int = 0
    submission_id: str | None = None
    state: str | None = None
    tpf: Searched = field(default_factory=Searched)
    registry_canaries: Searched = field(default_factory=Searched)
    registry_identities: Searched = field(default_factory=Searched)
    registry_database_files: list[str] = field(default_factory=list)
    export_identity_hits: set[int] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def stored_canaries(self) -> list[Canary]:
        return [c for c in self.canaries if c.stored_by_registry]

    def found_at_registry(self) -> dict[int, list[str]]:
        found: dict[int, list[str]] = {}
        for hit in self.registry_canaries.hits:
            places = found.setdefault(hit.needle.number, [])
            if hit.where not in places:
                places.append(hit.where)
        return found

    @property
    def missing_at_registry(self) -> list[Canary]:
        found = self.found_at_registry()
        return [c for c in self.stored_canaries if c.number not in found]

    @property
    def missing_in_export(self) -> list[int]:
        return [n for n in range(1, self.identity_count + 1) if n not in self.export_identity_hits]

    @property
    def ok(self) -> bool:
        return (
            not self.errors
            and self.state == "stored"
            and not self.tpf.hits
            and not self.tpf.unreadable
            and not self.registry_identities.hits
            and not self.registry_identities.unreadable
            and bool(self.registry_database_files)
            and bool(self.stored_canaries)
            and not self.missing_at_registry
            and self.identity_count > 0
            and not self.missing_in_export
        )

    def summary(self) -> str:
        if self.errors:
            return self.errors[0]
        if self.tpf.hits:
            return f"canaries found at the TPF: {_places(self.tpf.hits)}"
        if self.registry_identities.hits:
            return f"identity numbers found at the registry: {_places(self.registry_identities.hits)}"
        if self.tpf.unreadable or self.registry_identities.unreadable:
            return "some files could not be read, so they could not be searched"
        if not self.registry_database_files:
            return "positive control not run: no SQLite database file under registry/ (not a file database?)"
        if self.missing_at_registry:
            return (
                f"positive control failed: {len(self.missing_at_registry)} of {len(self.stored_canaries)} canaries "
                "are not in what the registry stored, so the search proves nothing"
            )
        if self.missing_in_export:
            return "positive control failed: identity numbers not found in the export file"
        return (
            f"{len(self.canaries)} canaries: none in {len(self.tpf.files)} TPF files and {self.tpf.answers_searched} "
            f"TPF answers, all {len(self.stored_canaries)} stored ones at the registry; {self.identity_count} "
            "identity numbers: none at the registry, all in the export"
        )


def _places(hits: Sequence[Hit], limit: int = 3) -> str:
    """Where, briefly, for the console: file and line (or offset) and which value, never the value."""
    ordered = sorted(hits, key=lambda h: (h.where, h.offset))
    shown = [
        f"{h.where} {'line ' + str(h.line) if h.line is not None else 'offset ' + str(h.offset)} ({h.needle.label})"
        for h in ordered[:limit]
    ]
    more = f" and {len(ordered) - limit} more" if len(ordered) > limit else ""
    return ", ".join(shown) + more


def build_canary_export(
    municipality: str, year: int, persons: int, seed: int | None
) -> tuple[ExportHeader, list[PersonRecord], list[Canary]]:
    """A synthetic export (synthetic identity numbers only) whose free-text payload fields are canaries.

    Fields: the EPJ header texts and the contact's name (payload header; the registry does not keep them), every
    service's tjenesteID and every coercion decision's vedtakID (payload records; the registry stores both).
    These are the payload's free-text fields whose schema patterns admit ``CANARY-<hex>``; the others are codes,
    dates, numbers or patterned values (orgNr, telephone, e-mail)."""
    key = f"seed:{seed}" if seed is not None else secrets.token_hex(16)
    canaries: list[Canary] = []

    def new(where: str, stored: bool) -> str:
        value = _canary(key, len(canaries) + 1)
        canaries.append(Canary(len(canaries) + 1, where, stored, value))
        return value

    header, records = generate_records(municipality, year, persons, seed)
    contact = header.kontaktperson
    header = dataclasses.replace(
        header,
        # A message of its own every run, even with a fixed seed: the gateway answers a byte-identical export
        # with the submission it already is (identical-resubmission) instead of sending it again.
        melding_guid=str(uuid.uuid4()),
        navn_epj=new("navnEPJ (export header)", False),
        leverandor=new("leverandor (export header)", False),
        versjon_epj=new("versjonEPJ (export header)", False),
        kontaktperson=None if contact is None else dataclasses.replace(contact, navn=new("kontaktperson.navn", False)),
    )
    people: list[PersonRecord] = []
    for record_number, person in enumerate(records, start=1):
        services = tuple(
            dataclasses.replace(s, tjeneste_id=new(f"tjenesteID of service {n} of record {record_number}", True))
            for n, s in enumerate(person.services, start=1)
        )
        coercion = tuple(
            dataclasses.replace(c, vedtak_id=new(f"vedtakID of coercion decision {n} of record {record_number}", True))
            for n, c in enumerate(person.coercion, start=1)
        )
        people.append(dataclasses.replace(person, services=services, coercion=coercion))
    if people and not any(p.coercion for p in people):
        # A small export often has no coercion decision: add one, so that field carries a canary as well.
        decision = Coercion(
            vedtak_id=new("vedtakID of coercion decision 1 of record 1 (added)", True),
            legal_basis="HOL9",
            decision_date=dt.date(year, 1, 10),
            start_date=dt.date(year, 1, 15),
            end_date=None,
        )
        people[0] = dataclasses.replace(people[0], coercion=(decision,))
    return header, people, canaries


def _read_token(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii").strip() or None
    except (OSError, UnicodeDecodeError):
        return None


def _fetch(url: str, token: str | None) -> tuple[int | None, bytes, str]:
    """(status, body, error) of one GET; status None when the service could not be reached."""
    try:
        response = httpx.get(url, headers={"Authorization": f"Bearer {token}"} if token else {}, timeout=30.0)
    except httpx.HTTPError as exc:
        return None, b"", type(exc).__name__
    return response.status_code, response.content, ""


# Answers that mean "this deployment does not let the operator read this (yet)", not "something is wrong".
_NOT_SERVED: Final = {401: "needs a credential this service does not accept", 403: "forbidden", 404: "not found"}


def _search_answer(
    service: str,
    base: str,
    path: str,
    token: str | None,
    needles: Sequence[Needle],
    searched: Searched,
    *,
    required: bool,
    errors: list[str],
) -> bytes | None:
    label = f"{service} GET {path}"
    status, body, error = _fetch(base.rstrip("/") + path, token)
    if status == 200:
        searched.answers.append((label, f"HTTP 200, {len(body)} bytes, searched"))
        searched.hits.extend(search_bytes(label, body, needles))
        return body
    why = f"not reachable ({error})" if status is None else f"HTTP {status}"
    if status in _NOT_SERVED:
        why += f" ({_NOT_SERVED[status]})"
    searched.answers.append((label, f"{why}: not searched"))
    if required or status is None or status >= 500:
        errors.append(f"{label} could not be searched: {why}")
    return None


def _search_audit_answers(
    service: str,
    base: str,
    message_id: str,
    token: str | None,
    needles: Sequence[Needle],
    searched: Searched,
    errors: list[str],
    notes: list[str],
    *,
    required: bool,
) -> None:
    """The service's audit log as its endpoints serve it: every page of entries and the inclusion proof for the
    message. ``required``: an answer that cannot be searched fails the check; otherwise it is noted (the
    registry's audit answers are searched as a bonus, the TPF's are part of what the TPF says about the message).
    """
    start = 0
    for _ in range(_MAX_AUDIT_PAGES):
        path = f"/v1/audit/entries?start={start}"
        body = _search_answer(service, base, path, token, needles, searched, required=required, errors=errors)
        if body is None:
            if not required:
                notes.append(f"{service}'s audit log entries: {searched.answers[-1][1]}")
            break
        try:
            entries = json.loads(body).get("entries", [])
        except (ValueError, AttributeError):
            errors.append(f"{service} GET {path} is not the JSON the audit endpoint serves")
            break
        if not entries:
            break
        start += len(entries)
    else:
        errors.append(f"{service}'s audit log has more than {_MAX_AUDIT_PAGES} pages: not all of it was searched")
    path = f"/v1/audit/proof/inclusion?message_id={message_id}"
    answer = _search_answer(service, base, path, token, needles, searched, required=required, errors=errors)
    if answer is None and not required:
        notes.append(f"{service}'s inclusion proof for the canary message: {searched.answers[-1][1]}")


def run_canaries(
    state_dir: Path,
    gateway: str,
    tpf: str,
    registry: str,
    export_path: Path,
    *,
    seed: int | None,
    municipality: str | None = None,
    year: int = DEFAULT_YEAR,
    persons: int = DEFAULT_PERSONS,
    timeout_s: float = 120.0,
    progress: Progress = _quiet,
) -> CanaryRun:
    run = CanaryRun(year=year, seed=seed)
    served = served_municipalities(state_dir)
    with_token = [nr for nr in served if municipality_token_file(state_dir, nr).is_file()]
    if municipality is None:
        if not with_token:
            run.errors.append(
                f"no municipality token in {CREDENTIALS_FOLDER}/ for any municipality the gateway serves "
                f"({', '.join(served) or 'none found in keys/municipalities'})"
            )
            return run
        municipality = with_token[0]
    run.municipality = municipality
    municipality_token = _read_token(municipality_token_file(state_dir, municipality))
    operator_token = _read_token(state_dir / CREDENTIALS_FOLDER / "operator-token")
    if municipality_token is None:
        run.errors.append(f"no readable token file {CREDENTIALS_FOLDER}/municipality-{municipality}-token")
        return run
    if operator_token is None:
        run.errors.append(f"no readable {CREDENTIALS_FOLDER}/operator-token (needed to read the registry's answer)")
        return run

    header, people, run.canaries = build_canary_export(municipality, year, persons, seed)
    numbers = [person.fid for person in people]
    run.identity_count = len(numbers)
    export_path.parent.mkdir(parents=True, exist_ok=True)
    write_export(export_path, header, people)
    run.export_file = export_path.as_posix()
    canary_needles = _needles("canary", [(c.number, c.value) for c in run.canaries])
    number_needles = _needles("identity number", list(enumerate(numbers, start=1)))

    # Positive control for the identity-number search: the same search finds every number in the export.
    export_hits = search_bytes("export", export_path.read_bytes(), [n for n in number_needles if n.form == "plain"])
    run.export_identity_hits = {hit.needle.number for hit in export_hits}

    progress(
        f"canary run: submitting {len(people)} records with {len(run.canaries)} canaries for {municipality}/{year}"
    )
    try:
        accepted = client.submit(export_path, gateway, token=municipality_token)
        run.submission_id = str(accepted["submission_id"])
        final = client.wait_final(gateway, run.submission_id, timeout_s, token=municipality_token)
    except client.ChainError as exc:
        run.errors.append(f"the canary submission did not go through: {exc}")
        return run
    run.state = str(final.get("state"))
    if run.state != "stored":
        run.errors.append(f"the canary submission ended {run.state}, not stored: {final.get('last_error')}")
        return run
    message_id = run.submission_id

    progress("canary run: stored; searching what the TPF wrote and answers")
    tpf_folder = state_dir / "tpf"
    if tpf_folder.is_dir():
        search_folder(state_dir, tpf_folder, canary_needles, run.tpf)
    else:
        run.errors.append("the TPF's state folder tpf/ does not exist: nothing the TPF wrote could be searched")
    _search_answer(
        "TPF",
        tpf,
        f"/v1/messages/{message_id}",
        operator_token,
        canary_needles,
        run.tpf,
        required=True,
        errors=run.errors,
    )
    _search_audit_answers(
        "TPF", tpf, message_id, operator_token, canary_needles, run.tpf, run.errors, run.notes, required=True
    )

    progress("canary run: searching what the registry stored and answers")
    registry_folder = state_dir / "registry"
    if registry_folder.is_dir():
        search_folder(state_dir, registry_folder, canary_needles, run.registry_canaries)
        search_folder(state_dir, registry_folder, number_needles, run.registry_identities)
        run.registry_database_files = [
            where for where, _ in run.registry_canaries.files if _is_sqlite(state_dir / where)
        ]
    else:
        run.errors.append("the registry's state folder registry/ does not exist")
    _search_answer(
        "registry",
        registry,
        f"/v1/submissions/{message_id}",
        operator_token,
        number_needles,
        run.registry_identities,
        required=True,
        errors=run.errors,
    )
    _search_audit_answers(
        "registry",
        registry,
        message_id,
        operator_token,
        number_needles,
        run.registry_identities,
        run.errors,
        run.notes,
        required=False,
    )
    return run


def _is_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(16) == b"SQLite format 3\0"
    except OSError:
        return False


# ---------------------------------------------------------------------------------------------- 3. import contracts


@dataclass
class ImportContracts:
    command: str = ""
    config: str | None = None
    returncode: int | None = None
    contracts: list[tuple[str, str]] = field(default_factory=list)
    output_tail: str = ""
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and bool(self.contracts) and all(status == "KEPT" for _, status in self.contracts)

    def summary(self) -> str:
        if self.errors:
            return self.errors[0]
        broken = [name for name, status in self.contracts if status != "KEPT"]
        if broken:
            return f"{len(broken)} broken: {'; '.join(broken)}"
        return f"{len(self.contracts)} kept, 0 broken"


def project_root() -> Path:
    """The source tree the installed ``iplos_cli`` package runs from (an editable install: the repository)."""
    return Path(__file__).resolve().parent.parent


def _lint_imports_executable() -> str | None:
    beside = Path(sys.executable).parent / "lint-imports"
    if beside.is_file():
        return str(beside)
    return shutil.which("lint-imports")


def _words(text: str) -> str:
    return " ".join(text.split())


def check_import_contracts(progress: Progress = _quiet) -> ImportContracts:
    result = ImportContracts()
    root = project_root()
    config = root / "pyproject.toml"
    result.config = config.as_posix()
    try:
        document = tomllib.loads(config.read_text(encoding="utf-8"))
        declared: list[dict[str, Any]] = document["tool"]["importlinter"]["contracts"]
        names = [str(contract["name"]) for contract in declared]
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError) as exc:
        result.errors.append(f"the project's import contracts could not be read from {config} ({type(exc).__name__})")
        return result
    # Kept contracts prove nothing if the one that matters was deleted: the TPF must be forbidden the payload
    # opener and the registry's key loader by some contract.
    guarding = [
        c
        for c in declared
        if c.get("type") == "forbidden"
        and "services.tpf" in c.get("source_modules", [])
        and all(m in c.get("forbidden_modules", []) for m in _REQUIRED_TPF_FORBIDDEN)
    ]
    if not guarding:
        result.errors.append(
            "no import contract forbids services.tpf from importing " + " and ".join(_REQUIRED_TPF_FORBIDDEN)
        )
    executable = _lint_imports_executable()
    if executable is None:
        result.errors.append("lint-imports is not installed (pip install -e '.[dev]')")
        return result
    command = [executable, "--config", str(config), "--no-logo", "--no-cache"]
    result.command = " ".join(["lint-imports", *command[1:]])
    progress("import contracts: running lint-imports")
    # A wide, colourless terminal: rich would otherwise wrap long contract names over lines.
    env = {**os.environ, "COLUMNS": "10000", "NO_COLOR": "1", "TERM": "dumb"}
    try:
        completed = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=300, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        result.errors.append(f"lint-imports could not be run ({type(exc).__name__})")
        return result
    result.returncode = completed.returncode
    output = _words(completed.stdout + "\n" + completed.stderr)
    result.output_tail = "\n".join((completed.stdout + completed.stderr).strip().splitlines()[-40:])
    for name in names:
        match = re.search(re.escape(_words(name)) + r" (KEPT|BROKEN)\b", output)
        result.contracts.append((name, match.group(1) if match else "NOT REPORTED"))
    missing = [name for name, status in result.contracts if status == "NOT REPORTED"]
    if missing:
        result.errors.append(f"lint-imports did not report on {len(missing)} contract(s): {'; '.join(missing)}")
    all_kept = all(status == "KEPT" for _, status in result.contracts)
    if (completed.returncode == 0) != all_kept:
        result.errors.append(f"lint-imports exited {completed.returncode}, which contradicts its contract lines")
    return result


# ---------------------------------------------------------------------------------------------- the report


def _cell(text: object) -> str:
    """Table cell text: pipes escaped and lines joined, so a file name cannot break the table."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _code(text: object) -> str:
    """A code span for any text (a file name may hold backticks)."""
    value = str(text).replace("\n", " ")
    longest = max((len(run) for run in re.findall(r"`+", value)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if value.startswith("`") or value.endswith("`") or not value else ""
    return f"{fence}{pad}{value}{pad}{fence}"


def _notes(notes: list[str]) -> list[str]:
    """A section's notes as a Markdown list, followed by a blank line (nothing if there are none)."""
    return [*(f"- Note: {note}" for note in notes), ""] if notes else []


def _verdict(ok: bool) -> str:
    return "**PASS**" if ok else "**FAIL**"


_STYLE: Final = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d1d1f; margin: 0; }
main { max-width: 70rem; margin: 2rem auto; padding: 0 1.5rem; }
h1 { font-size: 1.6rem; border-bottom: 2px solid #ccc; padding-bottom: .3rem; }
h2 { font-size: 1.25rem; margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
h3 { font-size: 1.05rem; margin-top: 1.4rem; }
table { border-collapse: collapse; margin: .6rem 0 1rem; font-size: .9rem; }
th, td { border: 1px solid #ccc; padding: .25rem .5rem; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
code { font: .85rem/1.3 ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; background: #f5f5f5;
       padding: 0 .2rem; border-radius: 3px; }
pre { background: #f5f5f5; padding: .6rem; overflow-x: auto; }
strong.pass { color: #0a7d27; }
strong.fail { color: #b00020; }
"""


@dataclass
class BlindnessReport:
    state_dir: Path
    gateway: str
    tpf: str
    registry: str
    seed: int | None
    started_at: dt.datetime
    key_custody: KeyCustody
    canary_run: CanaryRun
    import_contracts: ImportContracts
    finished_at: dt.datetime | None = None
    markdown_path: Path | None = None
    html_path: Path | None = None

    @property
    def ok(self) -> bool:
        return self.key_custody.ok and self.canary_run.ok and self.import_contracts.ok

    def summary_lines(self) -> list[str]:
        lines = [
            f"TPF blindness: {'PASS' if self.ok else 'FAIL'}",
            f"  key custody:      {'PASS' if self.key_custody.ok else 'FAIL'} - {self.key_custody.summary()}",
            f"  canary run:       {'PASS' if self.canary_run.ok else 'FAIL'} - {self.canary_run.summary()}",
            f"  import contracts: {'PASS' if self.import_contracts.ok else 'FAIL'} - {self.import_contracts.summary()}",
        ]
        if self.markdown_path is not None and self.html_path is not None:
            lines.append(f"report: {self.markdown_path} and {self.html_path}")
        return lines

    # -- Markdown

    def markdown(self) -> str:
        out: list[str] = []
        add = out.append
        add("# TPF blindness audit")
        add("")
        add(f"Result: {_verdict(self.ok)}")
        add("")
        add("| | |")
        add("|---|---|")
        add(f"| state folder | {_cell(_code(self.state_dir))} |")
        add(f"| gateway | {_cell(_code(self.gateway))} |")
        add(f"| TPF | {_cell(_code(self.tpf))} |")
        add(f"| registry | {_cell(_code(self.registry))} |")
        add(f"| seed | {'none (canaries drawn fresh)' if self.seed is None else self.seed} |")
        add(f"| started | {self.started_at.strftime('%Y-%m-%dT%H:%M:%SZ')} |")
        if self.finished_at is not None:
            add(f"| finished | {self.finished_at.strftime('%Y-%m-%dT%H:%M:%SZ')} |")
        add("")
        add(
            "File names are relative to the state folder. Findings name a canary or an identity number by its "
            "number in the canary export, never by its value; the export file named below holds the values."
        )
        add("")
        add("| check | result | |")
        add("|---|---|---|")
        add(f"| 1. Key custody | {_verdict(self.key_custody.ok)} | {_cell(self.key_custody.summary())} |")
        add(f"| 2. Canary run | {_verdict(self.canary_run.ok)} | {_cell(self.canary_run.summary())} |")
        add(
            f"| 3. Import contracts | {_verdict(self.import_contracts.ok)} | {_cell(self.import_contracts.summary())} |"
        )
        add("")
        out.extend(self._key_custody_markdown())
        out.extend(self._canary_markdown())
        out.extend(self._contracts_markdown())
        return "\n".join(out) + "\n"

    def _key_custody_markdown(self) -> list[str]:
        k = self.key_custody
        out = ["## 1. Key custody", "", f"Result: {_verdict(k.ok)}", ""]
        out.append(
            "A fresh canary payload part (`iplos-payload/2`, HPKE X25519-HKDF-SHA256-AES-256-GCM, "
            "docs/envelope-v1.md section 5) is sealed for the registry's current encryption key from "
            "`keys/directory.json`. Every file under `keys/tpf` and every file in the TPF's state folder `tpf/` "
            "is tried against it: PEM private keys of any type (X25519 directly; Ed25519 converted to X25519 and "
            "its seed as a raw X25519 secret; a 256-bit EC scalar as a raw X25519 secret), DER, the whole file as "
            "raw 32 or 64 bytes, and every 32- or 64-byte value written as base64, base64url or hex. Files in "
            "`keys/tpf`, small files and files named like keys are tried whole; in other state files only PEM "
            "blocks and base64/hex values are (32-byte windows of binary database pages are not tried). "
            "An attempt opens the part only if every chunk authenticates and the body is the one sealed."
        )
        out.append("")
        for error in k.errors:
            out += [f"- **Error:** {error}"]
        if k.errors:
            out.append("")
        if k.envelope is not None:
            c = k.envelope.context
            out += [
                "| canary envelope | |",
                "|---|---|",
                f"| kind, sender, recipient | `{c.kind}`, `{c.sender}`, `{c.recipient}` |",
                f"| recipient key id | `{c.recipient_kid}` (the registry's current X25519 key in the directory) |",
                f"| message id | `{c.message_id}` |",
                f"| size, SHA-256 | {len(k.envelope.part)} bytes, `{k.envelope.sha256}` |",
                "",
            ]
        out += ["### Positive control: the registry's key opens the canary envelope", ""]
        out += [
            "| key file | key id | result |",
            "|---|---|---|",
            f"| {_cell(_code(k.control_file or '-'))} | {_cell(k.control_kid or '-')} | "
            f"{'**OPENS**' if k.control_opened else '**FAIL**'}: {_cell(k.control_result)} |",
            "",
        ]
        if k.openers:
            out += ["### Files that open the canary envelope", ""]
            for file, attempt in k.openers:
                out.append(f"- **{_code(file.file)}**: {attempt.interpretation}")
            out.append("")
        out += ["### Every file tried", ""]
        out += ["| file | size | interpretations tried | result |", "|---|---|---|---|"]
        for f in k.files:
            tried = [a for a in f.attempts if a.result in ("does not open",) or a.opened]
            if f.opened:
                result = "**OPENS**: " + "; ".join(a.interpretation for a in f.opened)
            elif f.inconclusive:
                result = "**could not be tried**: " + "; ".join(
                    f"{a.interpretation}: {a.result}" for a in f.attempts if a.inconclusive
                )
            elif tried:
                result = "does not open"
            else:
                result = f.note or "nothing key-like in it"
            others = [a for a in f.attempts if not a.opened and not a.inconclusive and a.result != "does not open"]
            if others:
                result += " (" + "; ".join(f"{a.interpretation}: {a.result}" for a in others) + ")"
            if f.note and (tried or f.opened):
                result += f" ({f.note})"
            size = "-" if f.size is None else str(f.size)
            out.append(f"| {_cell(_code(f.file))} | {size} | {_cell(_describe_tried(tried))} | {_cell(result)} |")
        out.append("")
        return out + _notes(k.notes)

    def _canary_markdown(self) -> list[str]:
        r = self.canary_run
        out = ["## 2. Canary run", "", f"Result: {_verdict(r.ok)}", ""]
        out.append(
            "A synthetic export (synthetic identity numbers only) whose free-text payload fields carry unique "
            "ASCII canaries is submitted through the gateway with the municipality's token and followed until the "
            "registry has stored it. Then every file under `tpf/` (raw bytes, recursively: databases with their "
            "-wal/-journal files, logs, outbox, tmp) and the TPF's answers about the message (its message status, "
            "every page of its audit log, the inclusion proof for the message) are searched for "
            "every canary, and every file under `registry/` and the registry's answers for every identity number "
            "of the export, each as plain bytes, UTF-16LE/BE, hex, and base64 and base64url in all three "
            "alignments."
        )
        out.append("")
        for error in r.errors:
            out.append(f"- **Error:** {error}")
        if r.errors:
            out.append("")
        out += [
            "| | |",
            "|---|---|",
            f"| municipality, year | {r.municipality or '-'}, {r.year} |",
            f"| export file | {_cell(_code(r.export_file or '-'))} |",
            f"| records, canaries | {r.identity_count}, {len(r.canaries)} |",
            f"| submission | {_cell(_code(r.submission_id or '-'))}, gateway state {_cell(r.state or '-')} |",
            "",
        ]
        out += ["### The TPF holds no canary", ""]
        out.extend(_hits_markdown(r.tpf.hits, "No canary in any file or answer of the TPF."))
        out.extend(_searched_markdown(r.tpf))
        found = r.found_at_registry()
        out += ["### Positive control: the canaries are in what the registry stored", ""]
        if r.registry_database_files:
            out.append(
                "The registry's SQLite database file(s): "
                + ", ".join(_code(f) for f in r.registry_database_files)
                + "."
            )
        else:
            out.append(
                "**No SQLite database file under `registry/`**: the registry does not keep a file database here "
                "(PostgreSQL?), so the positive control cannot run and the check fails."
            )
        out.append("")
        if r.stored_canaries and not r.missing_at_registry:
            out.append(f"All {len(r.stored_canaries)} canaries in fields the registry stores were found there.")
        elif r.missing_at_registry:
            out.append(
                f"**{len(r.missing_at_registry)} of {len(r.stored_canaries)} canaries in fields the registry stores "
                "were not found there: the search cannot be trusted, the check fails.**"
            )
        out.append("")
        out += ["| canary | field | registry stores it | found at the registry in |", "|---|---|---|---|"]
        for c in r.canaries:
            places = ", ".join(_code(p) for p in found.get(c.number, [])) or (
                "**not found**" if c.stored_by_registry else "not found (not kept by the registry)"
            )
            out.append(
                f"| #{c.number} | {_cell(c.carried_in)} | {'yes' if c.stored_by_registry else 'no'} | {_cell(places)} |"
            )
        out.append("")
        out += ["### The registry holds no identity number", ""]
        out.extend(
            _hits_markdown(r.registry_identities.hits, "No identity number in any file or answer of the registry.")
        )
        out.extend(_searched_markdown(r.registry_identities))
        out += ["### Positive control: the identity numbers are in the export file", ""]
        if r.identity_count and not r.missing_in_export:
            out.append(f"All {r.identity_count} identity numbers of the export were found in the export file.")
        elif r.identity_count:
            missing = ", ".join(f"#{n}" for n in r.missing_in_export)
            out.append(f"**Identity numbers {missing} were not found in the export file: the search is broken.**")
        else:
            out.append("**No export was made, so this control did not run.**")
        out.append("")
        return out + _notes(r.notes)

    def _contracts_markdown(self) -> list[str]:
        c = self.import_contracts
        out = ["## 3. Import contracts", "", f"Result: {_verdict(c.ok)}", ""]
        out.append(
            f"`{c.command or 'lint-imports'}` with the project's own configuration {_code(c.config or '-')}, "
            f"exit code {c.returncode if c.returncode is not None else '-'}. The contracts must include one that "
            "forbids `services.tpf` to import `shared.envelope.payload_open` and `shared.keys.registry`."
        )
        out.append("")
        for error in c.errors:
            out.append(f"- **Error:** {error}")
        if c.errors:
            out.append("")
        if c.contracts:
            out += ["| contract | status |", "|---|---|"]
            out += [f"| {_cell(name)} | **{status}** |" for name, status in c.contracts]
            out.append("")
        if not c.ok and c.output_tail:
            out += ["```", c.output_tail.replace("```", "'''"), "```", ""]
        return out

    # -- HTML

    def html(self) -> str:
        renderer = MarkdownIt("commonmark", {"html": False}).enable("table")
        body = renderer.render(self.markdown())
        body = body.replace("<strong>PASS</strong>", '<strong class="pass">PASS</strong>')
        body = body.replace("<strong>FAIL</strong>", '<strong class="fail">FAIL</strong>')
        title = f"TPF blindness audit: {'PASS' if self.ok else 'FAIL'}"
        return (
            "<!DOCTYPE html>\n"
            '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n"
            f"<body>\n<main>\n{body}</main>\n</body>\n</html>\n"
        )

    def write(self, out_dir: Path, stamp: str) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        self.markdown_path = out_dir / f"{REPORT_STEM}-{stamp}.md"
        self.html_path = out_dir / f"{REPORT_STEM}-{stamp}.html"
        self.markdown_path.write_text(self.markdown(), encoding="utf-8")
        self.html_path.write_text(self.html(), encoding="utf-8")


def _describe_tried(attempts: Sequence[KeyAttempt]) -> str:
    if not attempts:
        return "-"
    if len(attempts) <= 4:
        return "; ".join(a.interpretation for a in attempts)
    kinds: dict[str, int] = {}
    for attempt in attempts:
        kind = re.sub(r" at offset [0-9]+", "", attempt.interpretation)
        kinds[kind] = kinds.get(kind, 0) + 1
    return "; ".join(f"{kind} (x{count})" if count > 1 else kind for kind, count in kinds.items())


def _hits_markdown(hits: Sequence[Hit], none: str) -> list[str]:
    if not hits:
        return [none, ""]
    out = [f"**{len(hits)} finding(s):**", "", "| where | what | offset | line |", "|---|---|---|---|"]
    for hit in sorted(hits, key=lambda h: (h.where, h.offset)):
        line = "-" if hit.line is None else str(hit.line)
        what = f"{hit.needle.label} ({hit.needle.form})"
        out.append(f"| {_cell(_code(hit.where))} | {_cell(what)} | {hit.offset} | {line} |")
    out.append("")
    return out


def _searched_markdown(searched: Searched) -> list[str]:
    out = ["| searched | |", "|---|---|"]
    for where, size in searched.files:
        out.append(f"| {_cell(_code(where))} | {size} bytes |")
    for label, outcome in searched.answers:
        out.append(f"| {_cell(_code(label))} | {_cell(outcome)} |")
    for where in searched.unreadable:
        out.append(f"| {_cell(_code(where))} | **unreadable**: not searched |")
    for where in searched.vanished:
        out.append(f"| {_cell(_code(where))} | removed by the service while the check ran |")
    out.append("")
    return out


# ---------------------------------------------------------------------------------------------- entry point


class BlindnessUsageError(ValueError):
    """The arguments cannot describe a chain to audit (no state folder, a report folder inside a service's)."""


def default_out_dir(state_dir: Path) -> Path:
    return state_dir / "audit-reports"


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def run_blindness(
    state_dir: Path,
    gateway: str,
    tpf: str,
    registry: str,
    out_dir: Path | None = None,
    seed: int | None = None,
    *,
    municipality: str | None = None,
    year: int = DEFAULT_YEAR,
    persons: int = DEFAULT_PERSONS,
    timeout_s: float = 120.0,
    progress: Progress = _quiet,
) -> BlindnessReport:
    """Run the three checks and write the report (Markdown and HTML) into ``out_dir`` (default
    ``state_dir/audit-reports``), with the canary export beside it."""
    if not state_dir.is_dir():
        raise BlindnessUsageError(f"{state_dir} is not a folder ('iplos up --state-dir' writes one)")
    out_dir = out_dir if out_dir is not None else default_out_dir(state_dir)
    for service in ("tpf", "registry"):
        # The export holds the canaries and identity numbers: inside a service's folder it would be found there.
        if _inside(out_dir, state_dir / service):
            raise BlindnessUsageError(f"the report folder must not be inside the {service}'s state folder")
    started = dt.datetime.now(dt.UTC)
    stamp = started.strftime("%Y%m%dT%H%M%S%fZ")
    canary_run = run_canaries(
        state_dir,
        gateway,
        tpf,
        registry,
        out_dir / f"{REPORT_STEM}-{stamp}-export.xml",
        seed=seed,
        municipality=municipality,
        year=year,
        persons=persons,
        timeout_s=timeout_s,
        progress=progress,
    )
    # After the canary run, so that whatever the TPF wrote while it handled the canary is looked at for keys too.
    key_custody = check_key_custody(state_dir, progress)
    contracts = check_import_contracts(progress)
    report = BlindnessReport(
        state_dir=state_dir,
        gateway=gateway,
        tpf=tpf,
        registry=registry,
        seed=seed,
        started_at=started,
        key_custody=key_custody,
        canary_run=canary_run,
        import_contracts=contracts,
        finished_at=dt.datetime.now(dt.UTC),
    )
    report.write(out_dir, stamp)
    return report


def iter_report_sections(markdown: str) -> Iterator[tuple[str, str]]:
    """(heading, text) of each ``## `` section of a report: what tests and tools use to look into one check."""
    parts = re.split(r"^## ", markdown, flags=re.MULTILINE)
    for part in parts[1:]:
        heading, _, text = part.partition("\n")
        yield heading.strip(), text
