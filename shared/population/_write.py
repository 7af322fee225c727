"""Writing an ``iplos-folkeregister/1`` extract: what the generator and the tests produce, and exactly what
``read_extract`` reads back. Compact JSON with sorted keys, one object per line."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from typing import IO, Any

from shared.population._format import EXTRACT_FORMAT
from shared.population.model import ExtractHeader, RegisterPerson

__all__ = ["day", "encode_person", "header_object", "line", "person_object", "write_extract"]


def line(value: dict[str, Any]) -> bytes:
    return (json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True) + "\n").encode()


def day(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def header_object(header: ExtractHeader, format_name: str = EXTRACT_FORMAT) -> dict[str, Any]:
    return {
        "format": format_name,
        "uttrekksId": header.extract_id,
        "kommunenummer": header.municipality,
        "aar": header.year,
        "dannet": header.created.isoformat(),
    }


def person_object(person: RegisterPerson) -> dict[str, Any]:
    return {
        "identifikasjonsnummer": [
            {"nummer": e.number, "type": str(e.type), "gyldigFra": day(e.valid_from), "gyldigTil": day(e.valid_to)}
            for e in person.numbers
        ],
        "kjoenn": None if person.sex is None else str(person.sex),
        "foedselsaar": person.birth_year,
        "bosted": [
            {"kommunenummer": p.municipality, "fra": p.start.isoformat(), "til": day(p.end)} for p in person.residence
        ],
        "doedsdato": day(person.death_date),
    }


def encode_person(person: RegisterPerson) -> bytes:
    return line(person_object(person))


def write_extract(out: IO[bytes], header: ExtractHeader, persons: Iterable[RegisterPerson]) -> int:
    """Write the extract to ``out``, streaming; the number of persons written."""
    out.write(line(header_object(header)))
    count = 0
    for person in persons:
        out.write(encode_person(person))
        count += 1
    out.write(line({"antall": count}))
    return count
