"""Writing an ``iplos-folkeregister/1`` extract: what the generator and the tests produce, and exactly what
``read_extract`` reads back."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import IO, Any

from shared.population._format import EXTRACT_FORMAT
from shared.population.model import ExtractHeader, RegisterPerson

__all__ = ["encode_person", "write_extract"]


def _line(value: dict[str, Any]) -> bytes:
    return (json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True) + "\n").encode()


def _day(value: Any) -> str | None:
    return None if value is None else str(value.isoformat())


def encode_person(person: RegisterPerson) -> bytes:
    return _line(
        {
            "identifikasjonsnummer": [
                {
                    "nummer": entry.number,
                    "type": str(entry.type),
                    "gyldigFra": _day(entry.valid_from),
                    "gyldigTil": _day(entry.valid_to),
                }
                for entry in person.numbers
            ],
            "kjoenn": None if person.sex is None else str(person.sex),
            "foedselsaar": person.birth_year,
            "bosted": [
                {"kommunenummer": p.municipality, "fra": p.start.isoformat(), "til": _day(p.end)}
                for p in person.residence
            ],
            "doedsdato": _day(person.death_date),
        }
    )


def write_extract(out: IO[bytes], header: ExtractHeader, persons: Iterable[RegisterPerson]) -> int:
    """Write the extract to ``out``, streaming; the number of persons written."""
    out.write(
        _line(
            {
                "format": EXTRACT_FORMAT,
                "uttrekksId": header.extract_id,
                "aar": header.year,
                "dannet": header.created.isoformat(),
            }
        )
    )
    count = 0
    for person in persons:
        out.write(encode_person(person))
        count += 1
    out.write(_line({"antall": count}))
    return count
