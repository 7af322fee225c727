"""Keyed pseudonyms: HMAC-SHA256(K_v, "iplos/v1/pseudonym" || 0x00 || normalised identity number).

The valid identity-number space is small (about 1.2 x 10^8 numbers), so an unkeyed hash would be reversed by
enumeration in minutes; the key is the only protection and lives only at the TPF. The full 256-bit output is
kept (never an 11-digit value that could pass for a real number), stored as bytes with its key version, so a
rotation is explicit: a pseudonym made under v1 is never compared with one made under v2.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from typing import Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.hmac import HMAC

from shared import fnr
from shared.fnr import IdentityNumber

DOMAIN_LABEL: Final = b"iplos/v1/pseudonym"
KEY_SIZE: Final = 32
PSEUDONYM_SIZE: Final = 32
#: Key versions run from 1 to 999 999 999 (docs/envelope-v1.md 7.2, KeyVersion): the registry stores the version
#: with every pseudonym in a 32-bit integer column, and the audit logs refuse a number of ten or eleven digits as
#: shaped like an identity number (shared.audit.entries), so a TPF must never name a key beyond either.
MAX_KEY_VERSION: Final = 10**9 - 1

# The refusal codes of docs/envelope-v1.md 12.2: the number rules (shared.fnr's, in the order it checks them),
# then the TPF's policy rules.
NUMBER_RULES: Final = ("length", "digits", "check-digit", "date", "individual-number")
TYPE_MISMATCH: Final = "type-mismatch"
SYNTHETIC_NUMBER: Final = "synthetic-number"
POLICY_RULES: Final = (TYPE_MISMATCH, SYNTHETIC_NUMBER)
RULE_CODES: Final = NUMBER_RULES + POLICY_RULES
# What any rule code looks like, known or not: words of lowercase ASCII letters joined by hyphens, at most 32
# characters. No digit and no free text: a refusal code cannot carry an identity number to the registry.
# "ok" is reserved (a registry's word for a record that got a pseudonym) and is never a rule code.
_RULE_CODE = re.compile(r"^[a-z]+(-[a-z]+)*$")
RULE_CODE_MAX: Final = 32
RESERVED_CODE: Final = "ok"

# The kinds of number each declared type (the export's fid/@type) may be.
_DECLARED_KINDS: Final = {
    "FNR": frozenset({fnr.FnrKind.FNR, fnr.FnrKind.SYNTHETIC_TENOR}),
    "DNR": frozenset({fnr.FnrKind.D_NUMBER}),
    "HNR": frozenset({fnr.FnrKind.H_NUMBER}),
    "FHN": frozenset({fnr.FnrKind.FH_NUMBER}),
}


def is_rule_code(value: object) -> bool:
    """True for a well-formed refusal code, whether or not this implementation knows it."""
    return (
        isinstance(value, str)
        and len(value) <= RULE_CODE_MAX
        and value != RESERVED_CODE
        and _RULE_CODE.match(value) is not None
    )


def screen(value: str, declared_type: str, *, accept_synthetic: bool) -> IdentityNumber | str:
    """The parsed number, or the code of the first rule it breaks (docs/envelope-v1.md 12.2): the number rules,
    then the policy rules (the declared type, then synthetic numbers where they are not accepted). Only the code
    leaves: the number is reported by its record's reference, never by itself."""
    try:
        number = fnr.parse(value)
    except fnr.InvalidIdentityNumber as exc:
        return exc.rule
    if number.kind not in _DECLARED_KINDS.get(declared_type, frozenset()):
        return TYPE_MISMATCH
    if number.synthetic and not accept_synthetic:
        return SYNTHETIC_NUMBER
    return number


@dataclass(frozen=True, slots=True)
class PseudonymKey:
    version: int
    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not 1 <= self.version <= MAX_KEY_VERSION:
            raise ValueError(f"pseudonym key version must be from 1 to {MAX_KEY_VERSION}")
        if len(self.secret) < KEY_SIZE:
            raise ValueError("pseudonym key must be at least 256 bits")


class Pseudonymiser:
    """Computes pseudonyms under one key version; the HMAC is keyed once and copied per number (3x faster)."""

    def __init__(self, key: PseudonymKey) -> None:
        self.key_version = key.version
        keyed = HMAC(key.secret, hashes.SHA256())
        keyed.update(DOMAIN_LABEL + b"\x00")
        self._keyed = keyed

    def __repr__(self) -> str:
        return f"Pseudonymiser(key_version={self.key_version}, ***)"

    def pseudonym(self, number: IdentityNumber) -> bytes:
        # Taking a parsed IdentityNumber, not a str, means only numbers that passed both check digits are hashed.
        mac = self._keyed.copy()
        mac.update(number.value.encode("ascii"))
        return mac.finalize()


def encode_pseudonym(value: bytes) -> str:
    """Text form for JSON: unpadded base64url (43 characters for 32 bytes; never digits only)."""
    return pseudonym_ascii(value).decode("ascii")


def pseudonym_ascii(value: bytes) -> bytes:
    """:func:`encode_pseudonym` as the ASCII bytes a line is written in (no round trip through str)."""
    return base64.urlsafe_b64encode(value).rstrip(b"=")


_TEXT_FORM = re.compile(r"^[A-Za-z0-9_-]{43}$")


def decode_pseudonym(text: str) -> bytes:
    """Strict inverse of ``encode_pseudonym``: exactly one text form per pseudonym."""
    if not _TEXT_FORM.match(text):
        raise ValueError("a pseudonym is 43 characters of unpadded base64url")
    value = base64.urlsafe_b64decode(text + "=")
    if encode_pseudonym(value) != text:  # non-zero spare bits in the last character
        raise ValueError("a pseudonym is 43 characters of unpadded base64url")
    return value
