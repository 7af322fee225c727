"""Audit log entries and signed checkpoints.

An entry says what one service did with one message (``sealed``, ``forwarded``, ``stored``, ...) with ids,
digests and counts. Its canonical JSON (``shared.envelope._canonical``, the encoding headers are signed in) is
the Merkle leaf data: ``leaf_hash(encode_entry(entry))``. Entries are served to auditors, so what an entry may
hold is closed: a fixed list of fact keys, each with a value shape (a digest, a count, a short token), and no
value that looks like an identity number. A pseudonym could still be passed off as a ``*_sha256`` digest (both
are 64 hex digits); only the services' code can prevent that, by passing digests of whole parts.

A checkpoint is a log's signed statement "my tree of ``tree_size`` entries has root ``root_hash``", signed with
the log's party key (the one in the public directory) over ``"iplos-audit-checkpoint/1" || 0x00 || body``. The
label differs from the headers' ``"iplos/v1/signature"``, so a checkpoint signature can never be replayed as a
header signature or the other way round.

Every parse or verify failure raises ``InvalidAuditData`` with a stable ``code``; its message names the rule,
never the offending value (which may be the very identity number being kept out).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey

from shared.audit.merkle import HASH_SIZE, leaf_hash
from shared.envelope import MAX_SAFE_INTEGER, canonical_json, parse_canonical
from shared.errors import InvalidEnvelope, IplosError, UnknownKey
from shared.keys import ALG_ED25519, PartyInfo, PublicDirectory, key_id

ENTRY_FORMAT: Final = "iplos-audit-entry/1"
CHECKPOINT_FORMAT: Final = "iplos-audit-checkpoint/1"
CHECKPOINT_LABEL: Final = b"iplos-audit-checkpoint/1\x00"
SIGNATURE_SIZE: Final = 64

SERVICES: Final = frozenset({"gateway", "tpf", "registry"})
#: The message id of an entry about a message whose header could not be read (a refusal before parsing).
UNKNOWN_MESSAGE: Final = "unknown"

FactValue = str | int | None

_TOKEN = re.compile(r"[A-Za-z0-9:._/-]{0,100}")
# An identity number written out: 11 digits, or 6 + 5 with one separator (DDMMYY-NNNNN, as people write it).
_IDENTITY_LIKE = re.compile(r"[0-9]{6}[-./:_]?[0-9]{5}")
_DIGEST = re.compile(r"[0-9a-f]{64}")
_MUNICIPALITY = re.compile(r"[0-9]{4}")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Letters and hyphens only: an event name cannot carry a number.
_EVENT = re.compile(r"[a-z][a-z-]{0,39}")
_PARTY = re.compile(r"[a-z0-9-]{1,40}")
_KID = re.compile(r"[0-9a-f]{16}")
_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")

_COUNT, _DIGEST_KIND, _TOKEN_KIND, _MESSAGE_KIND, _MUNICIPALITY_KIND = "count", "digest", "token", "message", "kommune"
#: The fact keys an entry may carry, and the shape of each one's value (``None`` is always allowed).
FACT_KINDS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "municipality": _MUNICIPALITY_KIND,
        # The party that signed the message (a municipality's party name, or the population register's).
        "sender": _TOKEN_KIND,
        "year": _COUNT,
        "sequence": _COUNT,
        "records": _COUNT,
        "pseudonymised": _COUNT,
        "refused": _COUNT,
        "stored": _COUNT,
        "key_version": _COUNT,
        "identity_sha256": _DIGEST_KIND,
        "payload_sha256": _DIGEST_KIND,
        "pseudonyms_sha256": _DIGEST_KIND,
        "submission_sha256": _DIGEST_KIND,
        "delivery_sha256": _DIGEST_KIND,
        "report_sha256": _DIGEST_KIND,
        "confirmation_sha256": _DIGEST_KIND,
        "outcome": _TOKEN_KIND,
        "problem": _TOKEN_KIND,
        "receipt_status": _TOKEN_KIND,
        "superseded_by": _MESSAGE_KIND,
        "supersedes": _MESSAGE_KIND,
        # A load of the business register's bulk file (the registry's ``business-register-loaded``): the file's kind
        # of unit, the day it was taken, its digest, how many units it listed and how many it no longer listed,
        # the operator's credential, and how many business register findings of care submissions changed.
        "unit_kind": _TOKEN_KIND,
        "as_of": _TOKEN_KIND,
        "file_sha256": _DIGEST_KIND,
        "units": _COUNT,
        "gone": _COUNT,
        "caller": _TOKEN_KIND,
        "findings_changed": _COUNT,
        # An operator lifting a sequence block (the registry's ``sequence-block-lifted``): the lifted ``sequence``,
        # the ``floor`` a next submission must exceed, the operator's ``caller`` and the ``reason``, a short
        # reference (a case or ticket id): a token, never free text.
        "floor": _COUNT,
        "reason": _TOKEN_KIND,
    }
)
ALLOWED_FACTS: Final = frozenset(FACT_KINDS)


class InvalidAuditData(IplosError, ValueError):
    """An audit entry or checkpoint that is malformed, holds a forbidden fact, or fails verification.

    ``code`` is stable: ``malformed``, ``forbidden-fact``, ``identity-like``, ``unknown-key``, ``bad-signature``,
    ``log-mismatch``. The message names the rule, never a value.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _malformed(what: str) -> InvalidAuditData:
    return InvalidAuditData("malformed", what)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_timestamp(value: object, name: str) -> None:
    if not isinstance(value, str) or not _TIMESTAMP.fullmatch(value):
        raise _malformed(f"{name} is not an RFC 3339 UTC timestamp (YYYY-MM-DDTHH:MM:SSZ)")
    try:
        dt.datetime.strptime(value, _TIMESTAMP_FORMAT)
    except ValueError:
        raise _malformed(f"{name} is not a valid date and time") from None


def _looks_like_identity_number(value: str | int) -> bool:
    """An 11-digit value could be a fødselsnummer or D-number, whatever key it is filed under.

    The token pattern alone lets "01010112345" through (digits are token characters, and short tokens like
    "0301" or "2025" must stay allowed), so an identity number could reach an auditor as an "outcome". No fact
    ever legitimately has this shape: counts are below 10^7, years have 4 digits, gateway sequences are
    millisecond times (13 digits). An integer of 10 digits is refused too: a birth number whose day is 01-09
    loses its leading zero when read as a number.
    """
    if isinstance(value, int):
        return 10**9 <= abs(value) < 10**11
    return _IDENTITY_LIKE.fullmatch(value) is not None


def identity_safe(value: int) -> int | None:
    """``value`` as an audit fact, or None where it has the shape of an identity number.

    For a number a sender chose and signed, such as a submission's ``sequence``: any value from 1 to 2^53 - 1 is
    valid in the format (a sequence in seconds has 10 digits), and the message must not fail for it, but no audit
    entry may hold an identity-shaped value. The entry keeps the header's digest, which names the value anyway.
    """
    return None if _looks_like_identity_number(value) else value


def check_fact(key: str, value: object) -> None:
    """Raise ``InvalidAuditData`` unless ``key`` is an allowed fact and ``value`` fits its shape."""
    kind = FACT_KINDS.get(key) if isinstance(key, str) else None
    if kind is None:
        # The key itself may be the leak ("01010112345": 3), so it is not named.
        raise InvalidAuditData("forbidden-fact", "an audit fact key is not in the allow-list")
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _malformed(f"audit fact {key} is not a string, an integer or null")
    if _looks_like_identity_number(value):
        raise InvalidAuditData("identity-like", f"audit fact {key} has the shape of an identity number")
    if kind == _COUNT:
        if isinstance(value, str) or not 0 <= value <= MAX_SAFE_INTEGER:
            raise _malformed(f"audit fact {key} is not a non-negative integer")
        return
    if isinstance(value, int) or not _TOKEN.fullmatch(value):
        raise _malformed(f"audit fact {key} is not a short token ([A-Za-z0-9:._/-], at most 100)")
    pattern = {_DIGEST_KIND: _DIGEST, _MUNICIPALITY_KIND: _MUNICIPALITY, _MESSAGE_KIND: _UUID}.get(kind)
    if pattern is not None and not pattern.fullmatch(value):
        raise _malformed(f"audit fact {key} does not have the expected shape ({kind})")


def sanitise_facts(facts: Mapping[str, object]) -> dict[str, FactValue]:
    """The facts that ``check_fact`` accepts, with every other value replaced by null and unknown keys dropped.

    For recording a *refusal* whose facts come from the refused (untrusted) message itself: a sender that puts
    an 11-digit sequence in its header must get a refusal entry, not a failed audit append.
    """
    clean: dict[str, FactValue] = {}
    for key, value in facts.items():
        if key not in FACT_KINDS:
            continue
        try:
            check_fact(key, value)
        except InvalidAuditData:
            clean[key] = None
        else:
            clean[key] = value if isinstance(value, str | int) else None
    return clean


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One log entry. Constructing it validates every field; ``facts`` is kept as a read-only copy."""

    service: str
    index: int
    event: str
    message_id: str
    at: str
    facts: Mapping[str, FactValue] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if self.service not in SERVICES:
            raise _malformed("service is not gateway, tpf or registry")
        if not (_is_int(self.index) and 0 <= self.index <= MAX_SAFE_INTEGER):
            raise _malformed("index is not a non-negative integer")
        if not isinstance(self.event, str) or not _EVENT.fullmatch(self.event):
            raise _malformed("event is not a lower-case word (letters and hyphens)")
        if not isinstance(self.message_id, str) or not (
            self.message_id == UNKNOWN_MESSAGE or _UUID.fullmatch(self.message_id)
        ):
            raise _malformed("message_id is not a UUID")
        _check_timestamp(self.at, "at")
        if not isinstance(self.facts, Mapping):
            raise _malformed("facts is not an object")
        for key, value in self.facts.items():
            check_fact(key, value)
        # A frozen dataclass does not freeze a dict it holds: copy it, so the caller's dict can change
        # afterwards without changing an entry whose leaf hash was already computed.
        object.__setattr__(self, "facts", MappingProxyType(dict(self.facts)))

    def document(self) -> dict[str, Any]:
        return {
            "format": ENTRY_FORMAT,
            "service": self.service,
            "index": self.index,
            "event": self.event,
            "message_id": self.message_id,
            "at": self.at,
            "facts": dict(self.facts),
        }


def encode_entry(entry: AuditEntry) -> bytes:
    """The entry's canonical JSON: the Merkle leaf data."""
    return canonical_json(entry.document())


def entry_leaf_hash(entry: AuditEntry) -> bytes:
    return leaf_hash(encode_entry(entry))


_ENTRY_KEYS: Final = frozenset({"format", "service", "index", "event", "message_id", "at", "facts"})


def _canonical_object(data: bytes, keys: frozenset[str], format_name: str, what: str) -> dict[str, Any]:
    """``data`` as canonical JSON with exactly ``keys`` and ``format`` = ``format_name``; else ``malformed``."""
    try:
        document = parse_canonical(data)
    except InvalidEnvelope:
        raise _malformed(f"the {what} is not canonical JSON") from None
    if set(document) != keys or document["format"] != format_name:
        raise _malformed(f"the {what} is not an {format_name} object")
    return document


def parse_entry(data: bytes) -> AuditEntry:
    """An entry from its canonical JSON; refuses any other spelling of it, so one entry has one leaf hash."""
    document = _canonical_object(data, _ENTRY_KEYS, ENTRY_FORMAT, "entry")
    return AuditEntry(
        service=document["service"],
        index=document["index"],
        event=document["event"],
        message_id=document["message_id"],
        at=document["at"],
        facts=document["facts"],
    )


# --- checkpoints ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A log's claim: the tree of its first ``tree_size`` entries has root ``root_hash`` (hex)."""

    log: str
    tree_size: int
    root_hash: str
    created_at: str
    signer_kid: str

    def __post_init__(self) -> None:
        if not isinstance(self.log, str) or not _PARTY.fullmatch(self.log):
            raise _malformed("log is not a party name")
        if not (_is_int(self.tree_size) and 0 <= self.tree_size <= MAX_SAFE_INTEGER):
            raise _malformed("tree_size is not a non-negative integer")
        if not isinstance(self.root_hash, str) or not _DIGEST.fullmatch(self.root_hash):
            raise _malformed("root_hash is not 64 lower-case hex digits")
        _check_timestamp(self.created_at, "created_at")
        if not isinstance(self.signer_kid, str) or not _KID.fullmatch(self.signer_kid):
            raise _malformed("signer_kid is not a key id")

    @property
    def root(self) -> bytes:
        return bytes.fromhex(self.root_hash)

    def document(self) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "log": self.log,
            "tree_size": self.tree_size,
            "root_hash": self.root_hash,
            "created_at": self.created_at,
            "signer_kid": self.signer_kid,
        }


@dataclass(frozen=True, slots=True)
class SignedCheckpoint:
    checkpoint: Checkpoint
    body: bytes
    signature: bytes

    def document(self) -> dict[str, str]:
        """The wire form: the exact signed bytes (canonical JSON, ASCII) and the signature in base64."""
        return {"body": self.body.decode("ascii"), "signature": base64.b64encode(self.signature).decode("ascii")}


def new_checkpoint(log: str, tree_size: int, root: bytes, key: SigningKey, created_at: str) -> SignedCheckpoint:
    """Build and sign a checkpoint with ``key``, which must be the log party's key in the directory."""
    if len(root) != HASH_SIZE:
        raise _malformed("a root is 32 bytes")
    checkpoint = Checkpoint(
        log=log,
        tree_size=tree_size,
        root_hash=root.hex(),
        created_at=created_at,
        signer_kid=key_id(ALG_ED25519, bytes(key.verify_key)),
    )
    return sign_checkpoint(checkpoint, key)


def encode_checkpoint(checkpoint: Checkpoint) -> bytes:
    return canonical_json(checkpoint.document())


def sign_checkpoint(checkpoint: Checkpoint, key: SigningKey) -> SignedCheckpoint:
    if checkpoint.signer_kid != key_id(ALG_ED25519, bytes(key.verify_key)):
        raise ValueError("the checkpoint's signer_kid does not name the signing key")
    body = encode_checkpoint(checkpoint)
    return SignedCheckpoint(checkpoint, body, key.sign(CHECKPOINT_LABEL + body).signature)


_CHECKPOINT_KEYS: Final = frozenset({"format", "log", "tree_size", "root_hash", "created_at", "signer_kid"})


def parse_checkpoint(body: bytes) -> Checkpoint:
    """A checkpoint from its canonical JSON, *without* checking any signature (see ``verify_checkpoint``)."""
    document = _canonical_object(body, _CHECKPOINT_KEYS, CHECKPOINT_FORMAT, "checkpoint")
    return Checkpoint(
        log=document["log"],
        tree_size=document["tree_size"],
        root_hash=document["root_hash"],
        created_at=document["created_at"],
        signer_kid=document["signer_kid"],
    )


def verify_checkpoint(
    body: bytes, signature: bytes, directory: PublicDirectory, *, log: str | None = None
) -> tuple[Checkpoint, PartyInfo]:
    """Check a signed checkpoint against the public directory and return it with the party that signed it.

    The signer is found by the body's ``signer_kid`` and must be the party the body names as ``log`` (and,
    if given, the expected ``log``): one party cannot sign checkpoints for another's log.
    """
    checkpoint = parse_checkpoint(body)
    try:
        party, verify_key = directory.verify_key(checkpoint.signer_kid)
    except UnknownKey:
        raise InvalidAuditData("unknown-key", "the checkpoint's signer_kid is not a registered signing key") from None
    if not isinstance(signature, bytes) or len(signature) != SIGNATURE_SIZE:
        raise InvalidAuditData("bad-signature", "the checkpoint signature is not 64 bytes")
    try:
        verify_key.verify(CHECKPOINT_LABEL + body, signature)
    except BadSignatureError:
        raise InvalidAuditData("bad-signature", "the checkpoint signature does not verify") from None
    if not hmac.compare_digest(party.name.encode(), checkpoint.log.encode()):
        raise InvalidAuditData("log-mismatch", "the checkpoint is signed by another party than the log it names")
    if log is not None and not hmac.compare_digest(log.encode(), checkpoint.log.encode()):
        raise InvalidAuditData("log-mismatch", "the checkpoint is for another log than expected")
    return checkpoint, party


def verify_checkpoint_document(
    document: object, directory: PublicDirectory, *, log: str | None = None
) -> SignedCheckpoint:
    """``verify_checkpoint`` for the wire form ``{"body": "<canonical JSON>", "signature": "<base64>"}``."""
    if not isinstance(document, dict):
        raise _malformed("a signed checkpoint is an object with body and signature")
    body, signature = document.get("body"), document.get("signature")
    if not isinstance(body, str) or not isinstance(signature, str):
        raise _malformed("a signed checkpoint is an object with body and signature")
    try:
        raw_body = body.encode("ascii")
        raw_signature = base64.b64decode(signature, validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise _malformed("the checkpoint body is not ASCII or its signature is not base64") from None
    checkpoint, _ = verify_checkpoint(raw_body, raw_signature, directory, log=log)
    return SignedCheckpoint(checkpoint, raw_body, raw_signature)
