"""The registry's part of an extract (``iplos-folkeregister-payload/1``) and the split that makes it.

``split_person`` is what the gateway does to each person of an extract, as it does to each record of a care export:
every identity number gets a fresh reference and goes into the identity part for the TPF (``ref``, number, type);
the person's line for the registry carries the references in the numbers' place, with their type and validity, and
everything else unchanged. The TPF never learns which numbers are one person's; the registry never learns a number.
``read_register_payload`` is the registry's reader of those lines, with every rule of the extract (the numbers by
reference) checked the same way. docs/population-register.md, "Where each part goes".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

from shared.population._format import MAX_NUMBERS
from shared.population._read import fail, list_of, one_in_use, person_facts, read_lines, validity
from shared.population._write import day, header_object, line, person_object
from shared.population.model import ExtractHeader, NumberType, ReferencedNumber, RegisterPerson, RegisterRecord

__all__ = [
    "REGISTER_PAYLOAD_FORMAT",
    "IdentityLine",
    "encode_register_header",
    "encode_register_trailer",
    "read_register_payload",
    "split_person",
]

REGISTER_PAYLOAD_FORMAT: Final = "iplos-folkeregister-payload/1"

_RECORD_KEYS: Final = frozenset({"nummer", "kjoenn", "foedselsaar", "bosted", "doedsdato"})
_ENTRY_KEYS: Final = frozenset({"ref", "type", "gyldigFra", "gyldigTil"})
_REF: Final = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True, slots=True)
class IdentityLine:
    """One line of the identity part for the TPF: a reference, the number it stands for (not in the repr: a repr
    ends up in logs), and its type."""

    ref: str
    fid: str = field(repr=False)
    type: str


def encode_register_header(header: ExtractHeader) -> bytes:
    return line(header_object(header, REGISTER_PAYLOAD_FORMAT))


def encode_register_trailer(persons: int) -> bytes:
    return line({"antall": persons})


def split_person(person: RegisterPerson, refs: Iterator[str]) -> tuple[list[IdentityLine], bytes]:
    """``person``'s identity lines (one per number, each with the next reference of ``refs``) and its line for the
    registry, in which each number is its reference."""
    identities = []
    numbers = []
    for entry in person.numbers:
        ref = next(refs)
        identities.append(IdentityLine(ref, entry.number, str(entry.type)))
        numbers.append(
            {"ref": ref, "type": str(entry.type), "gyldigFra": day(entry.valid_from), "gyldigTil": day(entry.valid_to)}
        )
    body = person_object(person)
    del body["identifikasjonsnummer"]
    body["nummer"] = numbers
    return identities, line(body)


def _numbers(value: object, line_number: int) -> tuple[ReferencedNumber, ...]:
    items = list_of(value, line_number, "nummer", MAX_NUMBERS)
    if not items:
        fail(line_number, "nummer must hold at least one reference")
    entries = []
    for item in items:
        if not isinstance(item, dict) or item.keys() != _ENTRY_KEYS:
            fail(line_number, "a nummer entry must have exactly ref, type, gyldigFra and gyldigTil")
        ref, kind = item["ref"], item["type"]
        if not isinstance(ref, str) or not _REF.fullmatch(ref):
            fail(line_number, "ref must be 32 lowercase hex digits")
        if kind not in ("FNR", "DNR"):
            fail(line_number, "type must be FNR or DNR")
        valid_from, valid_to = validity(item, line_number)
        entries.append(ReferencedNumber(ref, NumberType(kind), valid_from, valid_to))
    one_in_use([entry.valid_to for entry in entries], [entry.ref for entry in entries], line_number)
    return tuple(entries)


def _record(obj: dict[str, Any], line_number: int, header: ExtractHeader) -> RegisterRecord:
    if obj.keys() != _RECORD_KEYS:
        fail(line_number, "the person has unknown or missing keys")
    return RegisterRecord(_numbers(obj["nummer"], line_number), *person_facts(obj, line_number, header))


def read_register_payload(lines: Iterable[bytes]) -> tuple[ExtractHeader, Iterator[RegisterRecord]]:
    """The registry's part of an extract: its header now, its persons lazily, the trailer's count at the end;
    ``ExtractInvalid`` at the first broken line. That every reference appears once in the message, and matches one
    line of the TPF's pseudonyms, is the join's to check (as for care data)."""
    return read_lines(lines, REGISTER_PAYLOAD_FORMAT, _record)
