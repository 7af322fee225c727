"""Canaries and needles: the unique values the canary export carries, and every form a search looks for.

A canary is ``CANARY-`` and 24 hex digits of a keyed hash: with ``--seed`` the same run gives the same canaries
(:func:`canary`), without it they are drawn fresh. Every value searched for (canary or identity number) becomes
needles: plain, UTF-16, hex and base64 in every alignment (:func:`needle_forms`).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from shared.iplos.free_fields import text_fits
from shared.iplos.reporting_year import FIRST_REPORTING_YEAR

__all__ = [
    "CANARY_PREFIX",
    "DEFAULT_PERSONS",
    "DEFAULT_YEAR",
    "Canary",
    "Needle",
    "canary",
    "canary_value",
    "needle_forms",
    "needles_for",
]

CANARY_PREFIX: Final = "CANARY-"
# The register's first reporting year (the registry refuses earlier ones). A canary submission is stored like any
# other, so it runs where synthetic numbers are accepted (a test or staging chain: a production TPF refuses them);
# there, in the oldest year it is least likely to meet real work, and if that year holds a larger submission the
# registry holds the canary rather than let it replace the year.
DEFAULT_YEAR: Final = FIRST_REPORTING_YEAR
DEFAULT_PERSONS: Final = 12
_CANARY_LABEL: Final = "iplos-chain/tpf-blindness/1"


def canary_value(key: str, number: int) -> str:
    # 7 + 24 characters: within tjenesteID's 40 and tekstType's 100, and only [A-Za-z0-9-], which every
    # field's pattern allows, so the canary survives schema validation unchanged. Nine decimal digits in a row
    # (about one canary in eight) would be refused as a possible identity number (shared.iplos.free_fields):
    # such a canary is drawn again from a salted hash, and every other stays what it was.
    salt = 0
    while True:
        text = f"{_CANARY_LABEL}\0{key}\0{number}" + ("" if salt == 0 else f"\0{salt}")
        value = CANARY_PREFIX + hashlib.sha256(text.encode()).hexdigest()[:24]
        if text_fits(value):
            return value
        salt += 1


def canary(seed: int, number: int) -> str:
    """The canary ``number`` (1-based) that a run with ``--seed seed`` puts into its export. Without a seed the
    canaries are drawn fresh for every run."""
    return canary_value(f"seed:{seed}", number)


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


def needles_for(kind: str, values: Sequence[tuple[int, str]]) -> list[Needle]:
    return [Needle(kind, number, form, data) for number, value in values for form, data in needle_forms(value)]
