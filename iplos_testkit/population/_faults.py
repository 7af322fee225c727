"""Faults against the population register, injected into a population's care exports, with their answer key.

Four kinds, each what one of the registry's register controls must find (issue 14) and nothing else:

* ``not-resident``: a person who lived in another municipality all year is in this municipality's export;
* ``after-death``: the municipality does not know a resident died: no death date, services on after it;
* ``differs``: the register gives another birth year or sex than the reported number encodes (a register
  fault of that year's extract; every export of the year that reports the person carries it);
* ``unknown``: a number the register does not know (a person never registered).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from enum import StrEnum

from iplos_testkit.population._care import CareExport, care_record
from iplos_testkit.population._simulation import Population, SimPerson
from shared.fnr import Sex
from shared.iplos.controls import DIFFERS_FROM_REGISTER, NOT_RESIDENT, SERVICE_AFTER_REGISTER_DEATH
from shared.iplos.model import FidType

__all__ = ["REPORTED_AS", "RegisterFault", "RegisterFaultKind", "inject_register_faults"]


class RegisterFaultKind(StrEnum):
    NOT_RESIDENT = "not-resident"
    AFTER_DEATH = "after-death"
    DIFFERS = "differs"
    UNKNOWN = "unknown"


#: The register control each kind is reported as in the municipality's control report. An unknown number is "not
#: resident" to the municipality (K035, unknown to the whole register, is the registry's operators' alone).
REPORTED_AS: dict[RegisterFaultKind, str] = {
    RegisterFaultKind.NOT_RESIDENT: NOT_RESIDENT,
    RegisterFaultKind.UNKNOWN: NOT_RESIDENT,
    RegisterFaultKind.AFTER_DEATH: SERVICE_AFTER_REGISTER_DEATH,
    RegisterFaultKind.DIFFERS: DIFFERS_FROM_REGISTER,
}


@dataclass(frozen=True, slots=True)
class RegisterFault:
    """One record that carries one register fault: the export (year, municipality) and the record's brukerNr."""

    year: int
    municipality: str
    bruker_nr: str
    kind: RegisterFaultKind


@dataclass(frozen=True, slots=True)
class RegisterChange:
    """A fault written into the register itself: ``person``'s entry in ``year``'s extract says another birth year
    or sex than the truth."""

    year: int
    pid: int
    birth_year: int
    sex: Sex


def inject_register_faults(
    population: Population, exports: dict[tuple[int, str], CareExport], rate: float
) -> tuple[list[RegisterFault], list[RegisterChange]]:
    """Inject about ``rate`` x records faults in every export, the kinds in turn; the faults and the register
    changes they need. Deterministic: each export's own random stream draws them."""
    faults: list[RegisterFault] = []
    changes: list[RegisterChange] = []
    changed: set[tuple[int, int]] = set()
    kinds = list(RegisterFaultKind)
    turn = 0  # the kinds in turn across all exports, so that even one small export gets each kind
    for (year, municipality), export in sorted(exports.items()):
        count = round(len(export.records) * rate)
        faulted = {f.bruker_nr for f in faults if (f.year, f.municipality) == (year, municipality)}
        for _ in range(count):
            kind = kinds[turn % len(kinds)]
            turn += 1
            injected = _INJECT[kind](population, export, len(export.records) + 1, faulted)
            if injected is None:
                continue
            faulted.add(injected)
            if kind is RegisterFaultKind.DIFFERS:
                person = export.persons[injected]
                assert person is not None
                if (year, person.pid) not in changed:
                    changed.add((year, person.pid))
                    changes.append(_changed(person, year, export))
                continue
            faults.append(RegisterFault(year, municipality, injected, kind))
    # A register fault of sex or birth year is the year's extract's: every record of that year that reports the
    # person carries it, whichever export it is in and whenever it was added (a record added later included).
    for change in changes:
        for (year, municipality), export in sorted(exports.items()):
            if year == change.year:
                faults += [
                    RegisterFault(year, municipality, bruker_nr, RegisterFaultKind.DIFFERS)
                    for bruker_nr, someone in export.persons.items()
                    if someone is not None and someone.pid == change.pid
                ]
    return faults, changes


def _changed(person: SimPerson, year: int, export: CareExport) -> RegisterChange:
    if export.rng.random() < 0.5:
        # Another birth year the extract can hold (not after its year).
        shift = export.rng.choice((-2, -1, 1, 2))
        birth_year = person.birth.year + shift if person.birth.year + shift <= year else person.birth.year - abs(shift)
        return RegisterChange(year, person.pid, birth_year, person.sex)
    other = Sex.MALE if person.sex is Sex.FEMALE else Sex.FEMALE
    return RegisterChange(year, person.pid, person.birth.year, other)


def _not_resident(population: Population, export: CareExport, next_nr: int, faulted: set[str]) -> str | None:
    year, first = export.year, dt.date(export.year, 1, 1)
    residents = population.residents(year)
    here = {p.pid for p in residents[export.municipality]}
    reported = {p.pid for p in export.persons.values() if p is not None}
    # In the register, in another municipality's extract of the year, alive on 1 January, not reported here.
    candidates = [
        p
        for m, persons in residents.items()
        if m != export.municipality
        for p in persons
        if p.pid not in here and p.pid not in reported and p.alive_on(first)
    ]
    if not candidates:
        return None
    person = export.rng.choice(sorted({p.pid: p for p in candidates}.values(), key=lambda p: p.pid))
    bruker_nr = f"F{next_nr}"
    export.records[bruker_nr] = care_record(export, person, bruker_nr, (first, dt.date(year, 12, 31)))
    export.persons[bruker_nr] = person
    return bruker_nr


def _after_death(population: Population, export: CareExport, next_nr: int, faulted: set[str]) -> str | None:
    year = export.year
    bruker_nr_of = {id(p): b for b, p in export.persons.items() if p is not None}
    candidates = [
        p
        for p in population.residents(year)[export.municipality]
        if p.death is not None and p.death.year == year and bruker_nr_of.get(id(p)) not in faulted
    ]
    if not candidates:
        return None
    person = export.rng.choice(candidates)
    # Replace the person's record if the municipality reports them already; otherwise add one.
    bruker_nr = bruker_nr_of.get(id(person), f"F{next_nr}")
    window = person.windows_in(export.municipality, year)
    assert window is not None
    assert person.death is not None
    record = care_record(export, person, bruker_nr, window, honour_death=False)
    if not any(s.end_date is None or s.end_date > person.death for s in record.services):
        longest = max(record.services, key=lambda s: s.start_date)
        services = tuple(replace(s, end_date=None) if s is longest else s for s in record.services)
        record = replace(record, services=services)
    export.records[bruker_nr] = record
    export.persons[bruker_nr] = person
    return bruker_nr


def _differs(population: Population, export: CareExport, next_nr: int, faulted: set[str]) -> str | None:
    known = [b for b, p in export.persons.items() if p is not None and b not in faulted]
    return export.rng.choice(sorted(known)) if known else None


def _unknown(population: Population, export: CareExport, next_nr: int, faulted: set[str]) -> str | None:
    rng = export.rng
    birth = dt.date(export.year - rng.randint(67, 95), rng.randint(1, 12), rng.randint(1, 28))
    sex = Sex.FEMALE if rng.random() < 0.6 else Sex.MALE
    number = population.new_number(birth, sex, d_number=False)
    stranger = SimPerson(0, birth, sex, [], [])
    bruker_nr = f"F{next_nr}"
    window = (dt.date(export.year, 1, 1), dt.date(export.year, 12, 31))
    export.records[bruker_nr] = care_record(export, stranger, bruker_nr, window, number=(number, FidType.FNR))
    export.persons[bruker_nr] = None
    return bruker_nr


_INJECT = {
    RegisterFaultKind.NOT_RESIDENT: _not_resident,
    RegisterFaultKind.AFTER_DEATH: _after_death,
    RegisterFaultKind.DIFFERS: _differs,
    RegisterFaultKind.UNKNOWN: _unknown,
}
