"""A person as the population register (Folkeregisteret) extract describes them, for one reporting year.

The extract format is ``docs/population-register.md``; ``shared.population`` reads and writes it. The model
holds identity numbers: it is the municipality-side and generator-side view. The numbers never go further than the
gateway (the TPF sees them sealed, the registry never).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

from shared.fnr import Sex

__all__ = [
    "ExtractHeader",
    "IdentityEntry",
    "NumberType",
    "ReferencedNumber",
    "RegisterPerson",
    "RegisterRecord",
    "Residence",
    "Sex",
]


class NumberType(StrEnum):
    """The kind of an identity number in the register: a fødselsnummer or a D-number."""

    FNR = "FNR"
    DNR = "DNR"


@dataclass(frozen=True, slots=True)
class IdentityEntry:
    """One identity number of a person, with the period it was the person's number in use (``valid_to`` None:
    still in use). A D-number replaced by a fødselsnummer, or a corrected number, leaves a closed entry."""

    number: str = field(repr=False)
    type: NumberType
    valid_from: dt.date | None
    valid_to: dt.date | None


@dataclass(frozen=True, slots=True)
class Residence:
    """A period of residence (bostedsadresse) in one municipality, both days included (``end`` None: ongoing)."""

    municipality: str
    start: dt.date
    end: dt.date | None

    def overlaps(self, first: dt.date, last: dt.date) -> bool:
        return self.start <= last and (self.end is None or self.end >= first)

    def covers(self, day: dt.date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


@dataclass(frozen=True, slots=True)
class RegisterPerson:
    """One person of the extract: every identity number they have had, sex and birth year as registered, the
    residence history (oldest first) and the date of death."""

    numbers: tuple[IdentityEntry, ...]
    sex: Sex | None
    birth_year: int | None
    residence: tuple[Residence, ...]
    death_date: dt.date | None = None

    @property
    def current(self) -> IdentityEntry:
        """The number in use (the reader guarantees exactly one open entry)."""
        return next(entry for entry in self.numbers if entry.valid_to is None)

    def municipality_on(self, day: dt.date) -> str | None:
        """Where the person lived on ``day`` (None: not resident in Norway that day, or dead)."""
        return _municipality_on(self.residence, day)

    def resident_in(self, municipality: str, year: int) -> bool:
        """Whether the person lived in ``municipality`` at any time in ``year``."""
        return _resident_in(self.residence, municipality, year)


@dataclass(frozen=True, slots=True)
class ReferencedNumber:
    """An identity number as the registry's part of the extract carries it: by its record reference (the TPF's
    pseudonym for it arrives under the same reference), with its type and validity."""

    ref: str
    type: NumberType
    valid_from: dt.date | None
    valid_to: dt.date | None


@dataclass(frozen=True, slots=True)
class RegisterRecord:
    """A person of the extract as the registry receives it (``iplos-folkeregister-payload/1``): the numbers by
    reference, everything else as the extract has it."""

    numbers: tuple[ReferencedNumber, ...]
    sex: Sex | None
    birth_year: int | None
    residence: tuple[Residence, ...]
    death_date: dt.date | None = None

    def municipality_on(self, day: dt.date) -> str | None:
        return _municipality_on(self.residence, day)

    def resident_in(self, municipality: str, year: int) -> bool:
        return _resident_in(self.residence, municipality, year)


def _municipality_on(residence: tuple[Residence, ...], day: dt.date) -> str | None:
    for period in residence:
        if period.covers(day):
            return period.municipality
    return None


def _resident_in(residence: tuple[Residence, ...], municipality: str, year: int) -> bool:
    first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
    return any(p.municipality == municipality and p.overlaps(first, last) for p in residence)


@dataclass(frozen=True, slots=True)
class ExtractHeader:
    """What the extract is: its id, the municipality and reporting year it covers and the day it was made. An extract
    lists the persons who lived in its municipality at any time in its year, each with their whole history."""

    extract_id: str
    municipality: str
    year: int
    created: dt.date
