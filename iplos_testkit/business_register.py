"""A synthetic extract of Enhetsregisteret, in Brønnøysundregistrene's bulk formats, with the units the synthetic
exports name: each municipality of SSB's 2024 list is a main unit (KOMM) with sub-units for each kind of care it
performs, and beside them a private care company, a shop, and a nursing home closed down in 2019.

Organisation numbers are made, not drawn: ``9`` + the 2024 municipality number + a three-digit serial + the mod-11
check digit, so every municipality's units are known without generating the others, and no two collide. Numbers
the extract must not hold (a fault's "not in the register") begin with ``8`` instead. A municipality number of
2020-2023 that changed in 2024 takes the units of its (first) successor, as the real register would list them today.

The fault units (:func:`fault_units`) are what the fault injector puts in a service to provoke exactly one of the
business register controls: a number not in the extract (K036), the closed-down nursing home (K037), the shop (K038)
and a care unit of another municipality (K039).
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Final, Literal

from shared.business_register import BusinessUnit, UnitKind, write_units_csv, write_units_json
from shared.iplos.controls import org_nr_is_valid
from shared.iplos.municipalities import municipality_name, successors_2024, valid_municipalities

__all__ = [
    "UNIT_INDUSTRY",
    "FaultUnits",
    "fault_units",
    "municipal_units",
    "synthetic_units",
    "write_synthetic_register",
]

_LIST_YEAR: Final = 2024
#: The industry code (SN2007) of each kind of municipal unit the generator assigns services to (all health or care).
UNIT_INDUSTRY: Final = {
    "hjemmetjeneste": "86.901",  # home nursing
    "sykehjem": "87.101",  # nursing home
    "funksjonshemmede": "88.101",  # social care without accommodation for the elderly and disabled
    "aktivitet": "88.991",  # other social care without accommodation: day activity centres
    "tildeling": "84.120",  # the allocation office: public administration of health and social services
}
_KIND_NAMES: Final = {
    "hjemmetjeneste": "HJEMMETJENESTEN",
    "sykehjem": "SYKEHJEM",
    "funksjonshemmede": "TJENESTER FOR FUNKSJONSHEMMEDE",
    "aktivitet": "DAGSENTER",
    "tildeling": "TILDELINGSKONTORET",
}
# Serial blocks of each municipality's numbers (a block per kind of unit; the serial's check digit decides which
# serials of a block give a valid number).
_KOMMUNE, _CARE_COMPANY, _CARE_HOME, _SHOP, _SHOP_BRANCH, _CLOSED, _ABSENT = 0, 700, 710, 800, 810, 900, 950
_KIND_BLOCK: Final = {kind: 100 * (i + 1) for i, kind in enumerate(UNIT_INDUSTRY)}
_REGISTERED: Final = dt.date(1995, 2, 20)
#: The day the closed nursing home was closed down: before any reporting year the chain takes (2020 on).
CLOSED_ON: Final = dt.date(2019, 6, 30)


def _number(first: str, municipality: str, serial: int) -> str:
    """The first valid organisation number ``first`` + ``municipality`` + a serial from ``serial`` on."""
    for candidate in range(serial, serial + 20):
        base = f"{first}{municipality}{candidate:03d}"
        for check in range(10):
            if org_nr_is_valid(base + str(check)):
                return base + str(check)
    raise AssertionError("no valid organisation number in 20 serials")  # pragma: no cover - 1 in 11 fail each


def _numbers(first: str, municipality: str, block: int, count: int) -> tuple[str, ...]:
    out: list[str] = []
    serial = block
    while len(out) < count:
        number = _number(first, municipality, serial)
        out.append(number)
        serial = int(number[5:8]) + 1
    return tuple(out)


def _listed(municipality: str) -> str:
    """The 2024 number the register lists a municipality's units under."""
    if municipality in valid_municipalities(_LIST_YEAR):
        return municipality
    successors = successors_2024(municipality)
    if not successors:
        raise ValueError(f"{municipality} is not a municipality number of 2020-2024")
    return min(successors)


def _count(municipality: str, kind: str) -> int:
    """Two or three units of a kind, fixed per municipality."""
    return 2 + hashlib.sha256(f"iplos-synthetic/units/{municipality}/{kind}".encode()).digest()[0] % 2


@cache
def municipal_units(municipality: str) -> dict[str, tuple[str, ...]]:
    """The organisation numbers of ``municipality``'s care units, by kind (``UNIT_INDUSTRY``'s keys)."""
    listed = _listed(municipality)
    return {kind: _numbers("9", listed, _KIND_BLOCK[kind], _count(listed, kind)) for kind in UNIT_INDUSTRY}


@dataclass(frozen=True, slots=True)
class FaultUnits:
    """The organisation numbers that give a service of ``municipality`` exactly one business register finding."""

    not_in_register: str  # K036
    closed: str  # K037: closed down in 2019
    not_care: str  # K038: a shop
    elsewhere: str  # K039: a care unit of another municipality


@cache
def fault_units(municipality: str) -> FaultUnits:
    listed = _listed(municipality)
    same = {municipality, listed} | set(successors_2024(municipality))
    codes = sorted(valid_municipalities(_LIST_YEAR))
    neighbour = next(code for code in codes[codes.index(listed) + 1 :] + codes if code not in same)
    return FaultUnits(
        not_in_register=_number("8", listed, _ABSENT),
        closed=_number("9", listed, _CLOSED),
        not_care=_number("9", listed, _SHOP_BRANCH),
        elsewhere=municipal_units(neighbour)["hjemmetjeneste"][0],
    )


def _municipality_units(code: str) -> Iterator[BusinessUnit]:
    name = (municipality_name(code, _LIST_YEAR) or code).upper()
    kommune = _number("9", code, _KOMMUNE)
    company = _number("9", code, _CARE_COMPANY)
    shop = _number("9", code, _SHOP)

    def unit(
        org_nr: str,
        kind: UnitKind,
        unit_name: str,
        form: str,
        industry: str,
        parent: str | None,
        deleted_on: dt.date | None = None,
    ) -> BusinessUnit:
        return BusinessUnit(org_nr, kind, unit_name, form, industry, code, _REGISTERED, deleted_on, parent)

    yield unit(kommune, UnitKind.ENHET, f"{name} KOMMUNE", "KOMM", "84.110", None)
    yield unit(company, UnitKind.ENHET, f"OMSORG {name} AS", "AS", "87.101", None)
    yield unit(shop, UnitKind.ENHET, f"DAGLIGVARE {name} AS", "AS", "47.111", None)
    for kind, numbers in municipal_units(code).items():
        for i, number in enumerate(numbers, 1):
            label = f"{name} KOMMUNE {_KIND_NAMES[kind]} {i}"
            yield unit(number, UnitKind.UNDERENHET, label, "BEDR", UNIT_INDUSTRY[kind], kommune)
    yield unit(
        _number("9", code, _CARE_HOME), UnitKind.UNDERENHET, f"OMSORG {name} AS SYKEHJEM", "BEDR", "87.101", company
    )
    yield unit(_number("9", code, _SHOP_BRANCH), UnitKind.UNDERENHET, f"DAGLIGVARE {name}", "BEDR", "47.111", shop)
    faults = fault_units(code)
    yield unit(
        faults.closed, UnitKind.UNDERENHET, f"{name} KOMMUNE GAMLE SYKEHJEM", "BEDR", "87.101", kommune, CLOSED_ON
    )


def synthetic_units(kind: UnitKind) -> Iterator[BusinessUnit]:
    """Every unit of ``kind`` in the synthetic extract, municipality by municipality (SSB's 2024 list)."""
    for code in sorted(valid_municipalities(_LIST_YEAR)):
        yield from (unit for unit in _municipality_units(code) if unit.kind is kind)


def write_synthetic_register(
    directory: Path, *, file_format: Literal["csv", "json"] = "csv", compress: bool = True
) -> dict[UnitKind, Path]:
    """Write the synthetic extract's two files (main units, sub-units) under ``directory`` as Brønnøysundregistrene
    serves them (``enheter.csv.gz`` and ``underenheter.csv.gz``, or ``.json``); their paths by kind."""
    directory.mkdir(parents=True, exist_ok=True)
    paths: dict[UnitKind, Path] = {}
    for kind in UnitKind:
        name = {UnitKind.ENHET: "enheter", UnitKind.UNDERENHET: "underenheter"}[kind]
        path = directory / f"{name}.{file_format}{'.gz' if compress else ''}"
        write = write_units_csv if file_format == "csv" else write_units_json
        with path.open("wb") as raw:
            if compress:
                # mtime 0: the same extract gives the same bytes, day after day.
                with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as out:
                    write(synthetic_units(kind), out, kind)
            else:
                write(synthetic_units(kind), raw, kind)
        paths[kind] = path
    return paths
