"""A synthetic population followed over several years: who lives where, moves, dies, arrives from abroad, leaves,
has a D-number replaced by a fødselsnummer, and starts to receive care. Deterministic for its arguments.

The simulation runs year by year from 1 January of the first year. Every person alive then has a residence
history (some since birth, some moved in from another municipality earlier) and one identity number; the events
of each year are drawn in a fixed order per person. The truth it keeps (``SimPerson``) is what the register
extract of a year shows, cut at that year's end (``register_view``).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from shared.fnr import Sex, synthetic_for
from shared.population import IdentityEntry, NumberType, RegisterPerson, Residence

__all__ = ["OUTSIDE_MUNICIPALITY", "Population", "SimPerson"]

#: Where people lived before they moved into the municipalities simulated (Drammen), when only one is simulated.
OUTSIDE_MUNICIPALITY = "3301"

# Yearly chances, by the person's age at the start of the year (and whether they receive care).
_MOVE = 0.05
_EMIGRATE = 0.005
_NEW_FNR = 0.3  # a D-number holder given a fødselsnummer
_ARRIVALS = 0.01  # arrivals from abroad per resident


def _death_chance(age: int, care: bool) -> float:
    base = 0.10 if age >= 85 else 0.04 if age >= 75 else 0.015 if age >= 67 else 0.002
    return base * 1.5 if care else base


def _care_chance(age: int) -> float:
    """The chance of receiving care from the first year on (for a person already alive then)."""
    return min(0.9, 0.2 + (age - 67) * 0.025) if age >= 67 else 0.03


def _care_start_chance(age: int) -> float:
    """The chance of starting to receive care during a year."""
    return 0.05 if age >= 67 else 0.003


def _stay_chance(age: int) -> float:
    """The chance that a care recipient moves into a nursing home (a long-term stay) during a year."""
    return 0.0 if age < 75 else 0.04 if age < 85 else 0.10


def _until(day: dt.date | None, end: dt.date) -> dt.date | None:
    """An end date as known on ``end``: one still to come is not known yet (open)."""
    return day if day is not None and day <= end else None


@dataclass
class SimPerson:
    """One simulated person and everything that happened to them (the generator's truth)."""

    pid: int
    birth: dt.date
    sex: Sex
    numbers: list[IdentityEntry] = field(repr=False)
    residence: list[Residence]
    death: dt.date | None = None
    care_from: int | None = None
    #: The year this person's D-number is replaced for certain (the anchor of a test: see ``Population``).
    certain_change: int | None = None
    #: The day a long-term stay in an institution (a nursing home) began: it lasts for the rest of their life.
    stay_from: dt.date | None = None

    def alive_on(self, day: dt.date) -> bool:
        return self.birth <= day and (self.death is None or day <= self.death)

    def number_on(self, day: dt.date) -> IdentityEntry:
        """The number in use on ``day`` (the first one before it was issued)."""
        for entry in self.numbers:
            started = entry.valid_from is None or entry.valid_from <= day
            if started and (entry.valid_to is None or day <= entry.valid_to):
                return entry
        return self.numbers[0]

    def windows_in(self, municipality: str, year: int) -> tuple[dt.date, dt.date] | None:
        """The first and last day the person lived in ``municipality`` in ``year`` (None: not at all)."""
        first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
        days = [
            (max(p.start, first), min(p.end or last, last))
            for p in self.residence
            if p.municipality == municipality and p.overlaps(first, last)
        ]
        return (days[0][0], days[-1][1]) if days else None

    def register_view(self, year: int) -> RegisterPerson | None:
        """The person as the register extract for ``year`` shows them: history up to 31 December of that year;
        None if they did not live in Norway at any time that year."""
        end = dt.date(year, 12, 31)
        residence = tuple(
            Residence(p.municipality, p.start, _until(p.end, end)) for p in self.residence if p.start <= end
        )
        if not any(p.overlaps(dt.date(year, 1, 1), end) for p in residence):
            return None
        numbers = tuple(
            IdentityEntry(e.number, e.type, e.valid_from, _until(e.valid_to, end))
            for e in self.numbers
            if e.valid_from is None or e.valid_from <= end
        )
        death = self.death if self.death is not None and self.death <= end else None
        return RegisterPerson(numbers, self.sex, self.birth.year, residence, death)


class Population:
    """The simulated persons of ``municipalities`` over ``years`` (consecutive), about ``residents`` per
    municipality on 1 January of the first year. ``numbers`` is every identity number issued, so that a number
    made up later (an unknown person) can be told apart."""

    def __init__(self, municipalities: Sequence[str], years: Sequence[int], residents: int, seed: int) -> None:
        if not municipalities or not years:
            raise ValueError("at least one municipality and one year")
        if list(years) != list(range(years[0], years[0] + len(years))):
            raise ValueError("the years must be consecutive, oldest first")
        self.municipalities = tuple(municipalities)
        self.years = tuple(years)
        self.rng = random.Random(f"iplos-population/1:{seed}:{','.join(municipalities)}:{years[0]}")  # noqa: S311
        self.persons: list[SimPerson] = []
        self.numbers: set[str] = set()
        start = dt.date(years[0], 1, 1)
        for municipality in self.municipalities:
            for _ in range(residents):
                self._resident(municipality, start)
        if len(self.years) > 1:
            self._anchor(self.municipalities[0], start)
        for year in self.years:
            self._year(year)
        self._residents: dict[int, dict[str, list[SimPerson]]] = {}

    def residents(self, year: int) -> dict[str, list[SimPerson]]:
        """Who lived in each municipality simulated at any time in ``year`` (the simulation done), oldest pid
        first: the persons of its register extract, and the only ones its care export can report."""
        found = self._residents.get(year)
        if found is None:
            first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
            found = self._residents[year] = {m: [] for m in self.municipalities}
            for person in self.persons:
                for municipality in {p.municipality for p in person.residence if p.overlaps(first, last)}:
                    if municipality in found:
                        found[municipality].append(person)
        return found

    def new_number(self, birth: dt.date, sex: Sex, *, d_number: bool) -> str:
        while True:
            number = synthetic_for(birth, sex, self.rng, d_number=d_number)
            if number not in self.numbers:
                self.numbers.add(number)
                return number

    def _elsewhere(self, municipality: str) -> str:
        others = [m for m in self.municipalities if m != municipality]
        return self.rng.choice(others) if others else OUTSIDE_MUNICIPALITY

    def _day(self, year: int, *, first: int = 0) -> dt.date:
        start = dt.date(year, 1, 1).toordinal()
        return dt.date.fromordinal(start + self.rng.randint(first, dt.date(year, 12, 31).toordinal() - start))

    def _person(self, age: int, on: dt.date, *, d_number: bool) -> SimPerson:
        rng = self.rng
        # Born before ``on``, ``age`` full years before it or a little more.
        birth = on - dt.timedelta(days=age * 365 + rng.randint(1, 364))
        sex = Sex.FEMALE if rng.random() < 0.5 else Sex.MALE
        number = self.new_number(birth, sex, d_number=d_number)
        kind = NumberType.DNR if d_number else NumberType.FNR
        # A D-number is issued when the person first comes; a fødselsnummer at birth.
        entry = IdentityEntry(number, kind, on if d_number else birth, None)
        person = SimPerson(len(self.persons) + 1, birth, sex, [entry], [])
        self.persons.append(person)
        return person

    def _resident(self, municipality: str, start: dt.date) -> None:
        rng = self.rng
        age = rng.randint(0, 99) if rng.random() < 0.75 else rng.randint(67, 104)
        d_number = 18 <= age <= 60 and rng.random() < 0.05
        person = self._person(age, start, d_number=d_number)
        if d_number or rng.random() < 0.5:
            # Moved here some time in the last twenty years (a D-number holder: arrived then).
            since = start - dt.timedelta(days=rng.randint(30, 20 * 365))
            since = max(since, person.birth)
            if d_number:
                person.numbers[0] = IdentityEntry(person.numbers[0].number, NumberType.DNR, since, None)
            elif since > person.birth:
                person.residence.append(Residence(self._elsewhere(municipality), person.birth, since - dt.timedelta(1)))
        else:
            since = person.birth
        person.residence.append(Residence(municipality, since, None))
        if rng.random() < _care_chance(age):
            person.care_from = start.year - rng.randint(0, 3)
            if rng.random() < 8 * _stay_chance(age):
                # In a nursing home already, since some time in the last few years (not before moving here).
                person.stay_from = max(since, start - dt.timedelta(days=rng.randint(30, 5 * 365)))

    def _anchor(self, municipality: str, start: dt.date) -> None:
        """However small the population, one person who receives care every year in ``municipality`` under a
        D-number that a fødselsnummer replaces in the second year (and who neither moves nor dies): a changed number
        must keep one person, and a test needs one to look at."""
        person = self._person(72, start, d_number=True)
        since = start - dt.timedelta(days=3 * 365)
        person.numbers[0] = IdentityEntry(person.numbers[0].number, NumberType.DNR, since, None)
        person.residence.append(Residence(municipality, since, None))
        person.care_from = start.year - 1
        person.certain_change = self.years[1]

    def _new_fnr(self, person: SimPerson, year: int) -> None:
        """The person's D-number replaced by a fødselsnummer on a day of ``year`` (not 1 January)."""
        change = self._day(year, first=1)
        old = person.numbers[-1]
        person.numbers[-1] = IdentityEntry(old.number, old.type, old.valid_from, change - dt.timedelta(1))
        number = self.new_number(person.birth, person.sex, d_number=False)
        person.numbers.append(IdentityEntry(number, NumberType.FNR, change, None))

    def _year(self, year: int) -> None:
        rng = self.rng
        first = dt.date(year, 1, 1)
        for person in list(self.persons):
            current = person.residence[-1] if person.residence else None
            if current is None or current.end is not None or not person.alive_on(first):
                continue
            age = year - person.birth.year
            if person.certain_change is not None:
                if person.certain_change == year:
                    self._new_fnr(person, year)
                continue
            if rng.random() < _death_chance(age, person.care_from is not None and person.care_from <= year):
                person.death = self._day(year)
                person.residence[-1] = Residence(current.municipality, current.start, max(current.start, person.death))
                continue
            if person.numbers[-1].type is NumberType.DNR and rng.random() < _NEW_FNR:
                self._new_fnr(person, year)
            roll = rng.random()
            if roll < _MOVE + _EMIGRATE:
                day = self._day(year, first=1)
                person.residence[-1] = Residence(current.municipality, current.start, day - dt.timedelta(1))
                if roll < _MOVE:
                    person.residence.append(Residence(self._elsewhere(current.municipality), day, None))
            if person.care_from is None and rng.random() < _care_start_chance(age):
                person.care_from = year
            elif (
                person.care_from is not None
                and person.stay_from is None
                and person.death is None
                and rng.random() < _stay_chance(age)
            ):
                person.stay_from = self._day(year, first=1)
        for municipality in self.municipalities:
            residents = sum(1 for p in self.persons if p.residence and p.residence[-1].municipality == municipality)
            for _ in range(round(residents * _ARRIVALS)):
                day = self._day(year, first=1)
                d_number = rng.random() < 0.7
                person = self._person(rng.randint(20, 50), day, d_number=d_number)
                # Without a D-number: a Norwegian coming home, whose number dates from birth.
                person.residence.append(Residence(municipality, day, None))
