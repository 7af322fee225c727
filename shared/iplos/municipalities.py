"""Norwegian municipality numbers (kommunenummer) valid in a reporting year, from shipped SSB snapshots.

The lists are package data in ``shared/iplos/data`` (SSB classification 131, NLOD; see the README there), read
once with ``importlib.resources`` and cached; nothing outside the package is read.

* Reporting years 2020-2023: ``kommuner-2020.csv`` (356 municipalities).
* Reporting year 2024 and later: ``kommuner-2024.csv`` (357 municipalities). The codes were unchanged in 2025 and
  2026; a later reform needs a new snapshot and a new entry in ``_PERIODS``.
* Years before 2020: **no list is shipped, and the functions raise** ``NoMunicipalityList`` rather than return
  an empty set. An empty set would make every municipality look invalid (or, to a careless caller, make the
  check silently pass on ``not in``); raising forces the caller to decide what an unverifiable year means. The
  logical controls report it as a finding (K001) on the submission.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import cache
from importlib import resources

__all__ = [
    "FIRST_YEAR",
    "NoMunicipalityList",
    "counties",
    "county_of",
    "municipality_name",
    "successors_2024",
    "valid_municipalities",
]

_DATA_PACKAGE = "shared.iplos.data"

# (first reporting year, file). Each list holds for its first year and every year until the next entry.
_PERIODS: tuple[tuple[int, str], ...] = (
    (2020, "kommuner-2020.csv"),
    (2024, "kommuner-2024.csv"),
)
FIRST_YEAR = _PERIODS[0][0]
_TRANSITION_2024 = "kommuner-overgang-2024.csv"


class NoMunicipalityList(ValueError):
    """No municipality list is shipped for that reporting year (years before 2020)."""

    def __init__(self, year: int) -> None:
        super().__init__(f"no municipality list is shipped for reporting year {year} (the first is {FIRST_YEAR})")
        self.year = year


@dataclass(frozen=True, slots=True)
class _Municipalities:
    names: dict[str, str]
    codes: frozenset[str]
    counties: dict[str, str]


#: SSB's county names (classification 104) by county number, for the periods of the municipality lists.
_COUNTY_NAMES: dict[str, dict[str, str]] = {
    "kommuner-2020.csv": {
        "03": "Oslo", "11": "Rogaland", "15": "Møre og Romsdal", "18": "Nordland", "30": "Viken",
        "34": "Innlandet", "38": "Vestfold og Telemark", "42": "Agder", "46": "Vestland", "50": "Trøndelag",
        "54": "Troms og Finnmark",
    },
    "kommuner-2024.csv": {
        "03": "Oslo", "11": "Rogaland", "15": "Møre og Romsdal", "18": "Nordland", "31": "Østfold",
        "32": "Akershus", "33": "Buskerud", "34": "Innlandet", "39": "Vestfold", "40": "Telemark", "42": "Agder",
        "46": "Vestland", "50": "Trøndelag", "55": "Troms", "56": "Finnmark",
    },
}  # fmt: skip


def _read_csv(name: str) -> list[dict[str, str]]:
    text = resources.files(_DATA_PACKAGE).joinpath(name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text, newline="")))


@cache
def _load(name: str) -> _Municipalities:
    names: dict[str, str] = {}
    counties: dict[str, str] = {}
    for row in _read_csv(name):
        code = row["kommunenummer"]
        if len(code) != 4 or not (code.isascii() and code.isdigit()) or code in names:
            raise ValueError(f"{name}: malformed or repeated municipality number")
        if row["fylkesnummer"] not in _COUNTY_NAMES[name]:
            raise ValueError(f"{name}: a municipality of an unknown county")
        names[code] = row["navn"]
        counties[code] = row["fylkesnummer"]
    return _Municipalities(names, frozenset(names), counties)


@cache
def _transition_2024() -> dict[str, frozenset[str]]:
    mapping: dict[str, set[str]] = {}
    for row in _read_csv(_TRANSITION_2024):
        mapping.setdefault(row["kommunenummer_2023"], set()).add(row["kommunenummer_2024"])
    return {old: frozenset(new) for old, new in mapping.items()}


def _file_for(year: int) -> str:
    chosen: str | None = None
    for first, name in _PERIODS:
        if year >= first:
            chosen = name
    if chosen is None:
        raise NoMunicipalityList(year)
    return chosen


def valid_municipalities(year: int) -> frozenset[str]:
    """The municipality numbers valid in reporting year ``year`` (4-digit strings).

    Raises ``NoMunicipalityList`` for years before 2020 (see the module docstring)."""
    return _load(_file_for(year)).codes


def municipality_name(code: str, year: int) -> str | None:
    """SSB's name of municipality ``code`` in reporting year ``year``, or None if it is not valid that year.

    Raises ``NoMunicipalityList`` for years before 2020."""
    return _load(_file_for(year)).names.get(code)


def county_of(code: str, year: int) -> str | None:
    """The county number (fylkesnummer) of municipality ``code`` in reporting year ``year``, or None if it is not
    valid that year. Raises ``NoMunicipalityList`` for years before 2020."""
    return _load(_file_for(year)).counties.get(code)


def counties(year: int) -> dict[str, str]:
    """SSB's counties of reporting year ``year``: number -> name. Raises ``NoMunicipalityList`` before 2020."""
    return dict(_COUNTY_NAMES[_file_for(year)])


def successors_2024(code_2023: str) -> frozenset[str]:
    """The 2024 number(s) of a municipality valid in 2020-2023 (itself when unchanged; 1507 Ålesund gives 1508
    and 1580); empty for a number that was not valid in 2023."""
    return _transition_2024().get(code_2023, frozenset())
