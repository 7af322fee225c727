"""Synthetic IPLOS exports: realistic enough to exercise the chain, deterministic for a seed.

Only synthetic identity numbers are ever produced (``shared.fnr.synthetic_for``: Skatteetaten's Tenor form,
month + 80), so no generated file can contain a real person's number.

What "realistic" means here (from the IPLOS statistics the design notes describe):

* Recipients are mostly old: about three in four are 67 or over, their ages skewed towards 80-90 and mostly
  women; the younger ones are people with disabilities or mental illness, with a different service mix
  (user-controlled personal assistance, support contact, respite, care allowance, a municipal dwelling).
* A latent "need" drives everything: it rises with age, raises the 17 function scores (1 no problems ...
  5 full need; 9 "not relevant" now and then) and the number and weight of services. The oldest with the
  highest need live in a nursing home (21 langtidsopphold), and their home services end when the stay starts.
* Dementia diagnoses push memory, behaviour and decision scores up; diagnoses come from a short list of
  common ICPC-2 (GP) and ICD-10 (hospital) codes.
* Services overlap the reporting year: some started years before and are ongoing, some start and end in it;
  short stays last days or weeks. Hours per week only for hour-based services, in 0.5-hour steps.
  Organisation numbers are valid mod 11, one per municipal unit, none for GPS (26) and dwellings (29).
  Application, decision and start follow each other; most lines are original reports (event N), a few are
  corrections (M, T).
* Background: nursing-home residents live in an institution (housing 3), home-service users in an ordinary
  dwelling or a care home, users of a municipal dwelling (29) in a care home; the elderly often live alone;
  unpaid help from family is common for home-service users and children; assisted communication is rare
  (more common with developmental disabilities, autism, cerebral palsy); most long-term residents were seen
  by a doctor and a dentist during the year; some younger users have an individual plan.
* A few per cent die during the year, mostly the oldest and long-term residents: no service of theirs starts
  after the death date and every one ends by it, and nothing else is dated after it.
* Refusals and complaints for a few per cent (a complaint usually follows a refusal); coercion decisions only
  for users of the coercion services (14 and 23 under helse- og omsorgstjenesteloven kap. 9, for persons with
  a developmental disability; 24 under pasient- og brukerrettighetsloven kap. 4A, for persons with dementia).
* The header: Oslo (0301) reports a city district (bydelNr); every export names a contact person who is
  obviously fictitious (a made-up surname, a telephone number starting with 0, which no Norwegian subscriber
  number does, and an address under the reserved ``.example`` domain).

By construction, clean generated data passes every logical control (``shared.iplos.controls``): scores in
{1..5, 9}, known service codes, dates in order and from 1900 on, services overlapping the year, hours where
they apply and only there, valid organisation numbers where they are required, no overlapping long-term stays,
unique identity numbers and tjenesteIDs, dates of deaths, assessments, refusals and complaints not after the
reporting year. ``tests/testkit/test_generator.py`` checks each rule on generated records.

Determinism: one ``random.Random`` seeded from (seed, municipality, year) draws the header and every base
person in order, so the same arguments give the same records and the same bytes. ``vary=k`` (k >= 1) gives a
resubmission of the same municipality-year: the base persons are drawn exactly as for ``vary=0`` and a second
generator seeded with k then removes about 2 %, changes about 8 % (a service ended, added or re-timed, a
score re-assessed) and adds about 2 % new persons, with a new message GUID.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import re
import uuid
from collections.abc import Iterator
from dataclasses import replace

import shared.fnr as fnr
from iplos_testkit.writer import ExportTarget, write_export
from shared.iplos.controls import org_nr_is_valid
from shared.iplos.model import (
    FORMAT_VERSION,
    FUNCTION_VARIABLES,
    CodeSystem,
    Coercion,
    Complaint,
    Contact,
    Diagnosis,
    ExportHeader,
    FidType,
    FunctionScore,
    PersonBackground,
    PersonRecord,
    Refusal,
    Service,
    Sex,
)

__all__ = ["generate_export", "generate_records", "make_org_nr", "opaque_id"]

# Services measured in hours per week (direct user time): practical help, training, BPA, respite outside
# an institution, support contact, care allowance, home nursing.
_HOURLY = frozenset({1, 2, 3, 7, 9, 11, 15})
# No performing unit is reported for GPS and a municipal dwelling.
_NO_ORG_NR = frozenset({26, 29})
# Stays measured in days or weeks.
_SHORT_STAYS = frozenset({8, 18, 19, 20, 22, 25})
_LONG_TERM_STAY = 21
# Coercion services and the law their decisions are made under.
_COERCION_BASIS: dict[int, str] = {14: "HOL9", 23: "HOL9", 24: "PBRL4A"}
# Diagnoses of a developmental disability (utviklingshemning: the persons helse- og omsorgstjenesteloven
# kap. 9 is about), and those that often go with a need for assisted communication.
_DEVELOPMENTAL = frozenset({"P85", "F71", "Q90.9"})
_COMMUNICATION = frozenset({"P85", "F71", "Q90.9", "F84.0", "G80.9"})
_OSLO_DISTRICTS = tuple(f"0301{n:02d}" for n in range(1, 18))
_CONTACT_FIRST_NAMES = ("Kari", "Ola", "Ingrid", "Per", "Anne", "Lars", "Marit", "Knut", "Silje", "Jonas", "Åse")
_CONTACT_SURNAMES = ("Testesen", "Prøvesen", "Eksempelsen", "Fiktivsen", "Syntetisen", "Demostad")
_ASCII = str.maketrans({"æ": "ae", "ø": "o", "å": "a", "Æ": "Ae", "Ø": "O", "Å": "A"})

_HOURS_RANGE: dict[int, tuple[float, float]] = {
    1: (0.5, 6.0),
    2: (1.0, 5.0),
    3: (5.0, 40.0),
    7: (2.0, 16.0),
    9: (1.0, 6.0),
    11: (2.0, 30.0),
    15: (0.5, 20.0),
}

# Per-variable offsets to the latent need: instrumental tasks (housework, cooking, shopping) are lost before
# personal care; sight and hearing are mostly fine.
_SCORE_OFFSET: dict[str, float] = {
    "alminneligHusarbeid": 0.7,
    "lageMat": 0.5,
    "skaffeVarerOgTjenester": 0.6,
    "bevegeSegUtendors": 0.4,
    "ivaretaEgenHelse": 0.3,
    "personligHygiene": 0.0,
    "avOgPakledning": -0.1,
    "toalett": -0.3,
    "spise": -0.6,
    "bevegeSegInnendors": -0.2,
    "sosialDeltakelse": 0.1,
    "beslutningerDagligliv": -0.2,
    "hukommelse": -0.2,
    "styreAtferd": -0.8,
    "kommunikasjon": -0.6,
    "syn": -1.0,
    "horsel": -0.9,
}
_DEMENTIA_VARIABLES = frozenset({"hukommelse", "styreAtferd", "beslutningerDagligliv", "ivaretaEgenHelse"})

# (code system, code, dementia?) with rough weights: common conditions of home-care and nursing-home users.
_ELDERLY_DIAGNOSES: tuple[tuple[CodeSystem, str, bool, int], ...] = (
    (CodeSystem.ICPC2, "P70", True, 14),  # demens
    (CodeSystem.ICPC2, "K86", False, 8),  # hypertensjon ukomplisert
    (CodeSystem.ICPC2, "K77", False, 7),  # hjertesvikt
    (CodeSystem.ICPC2, "T90", False, 7),  # diabetes type 2
    (CodeSystem.ICPC2, "R95", False, 6),  # KOLS
    (CodeSystem.ICPC2, "L95", False, 5),  # osteoporose
    (CodeSystem.ICPC2, "K90", False, 5),  # hjerneslag
    (CodeSystem.ICPC2, "N87", False, 3),  # parkinsonisme
    (CodeSystem.ICPC2, "L89", False, 3),  # coxartrose
    (CodeSystem.ICPC2, "F84", False, 3),  # makuladegenerasjon
    (CodeSystem.ICPC2, "P76", False, 4),  # depresjon
    (CodeSystem.ICPC2, "L75", False, 3),  # lårhalsbrudd
    (CodeSystem.ICPC2, "K78", False, 5),  # atrieflimmer
    (CodeSystem.ICD10, "F03", True, 6),  # uspesifisert demens
    (CodeSystem.ICD10, "G30.1", True, 4),  # Alzheimers sykdom, sen debut
    (CodeSystem.ICD10, "I63.9", False, 3),  # hjerneinfarkt
    (CodeSystem.ICD10, "E11.9", False, 3),  # diabetes type 2
    (CodeSystem.ICD10, "J44.9", False, 3),  # KOLS
    (CodeSystem.ICD10, "I50.9", False, 3),  # hjertesvikt
    (CodeSystem.ICD10, "S72.0", False, 2),  # lårhalsbrudd
    (CodeSystem.ICD10, "G20", False, 2),  # Parkinsons sykdom
    (CodeSystem.ICD10, "I48.9", False, 2),  # atrieflimmer
)
_YOUNGER_DIAGNOSES: tuple[tuple[CodeSystem, str, bool, int], ...] = (
    (CodeSystem.ICPC2, "P72", False, 5),  # schizofreni
    (CodeSystem.ICPC2, "P85", False, 8),  # psykisk utviklingshemming
    (CodeSystem.ICPC2, "N86", False, 3),  # multippel sklerose
    (CodeSystem.ICPC2, "N88", False, 3),  # epilepsi
    (CodeSystem.ICPC2, "P76", False, 5),  # depresjon
    (CodeSystem.ICPC2, "P15", False, 3),  # kronisk alkoholmisbruk
    (CodeSystem.ICD10, "F20.0", False, 3),  # paranoid schizofreni
    (CodeSystem.ICD10, "F84.0", False, 4),  # autisme
    (CodeSystem.ICD10, "Q90.9", False, 3),  # Downs syndrom
    (CodeSystem.ICD10, "G80.9", False, 3),  # cerebral parese
    (CodeSystem.ICD10, "F71", False, 3),  # moderat psykisk utviklingshemming
    (CodeSystem.ICD10, "G35", False, 2),  # multippel sklerose
    (CodeSystem.ICD10, "G40.9", False, 2),  # epilepsi
)

# (EPJ name, supplier, version) of the systems Norwegian municipalities use.
_EPJ_SYSTEMS = (
    ("Gerica", "Tietoevry", "7.4.2"),
    ("Profil", "Visma", "2024.3"),
    ("CosDoc", "CGM", "5.12"),
    ("Visma Flyt Omsorg", "Visma", "1.18"),
)

# Municipal units; services map to the unit type that performs them.
_UNIT_KINDS = ("hjemmetjeneste", "sykehjem", "funksjonshemmede", "aktivitet", "tildeling")
_UNIT_OF_SERVICE: dict[int, str] = {
    1: "hjemmetjeneste",
    2: "funksjonshemmede",
    3: "tildeling",
    4: "aktivitet",
    5: "hjemmetjeneste",
    6: "hjemmetjeneste",
    7: "funksjonshemmede",
    8: "sykehjem",
    9: "aktivitet",
    11: "tildeling",
    14: "funksjonshemmede",
    15: "hjemmetjeneste",
    17: "sykehjem",
    18: "sykehjem",
    19: "sykehjem",
    20: "sykehjem",
    21: "sykehjem",
    22: "sykehjem",
    23: "funksjonshemmede",
    24: "sykehjem",
    25: "sykehjem",
    27: "hjemmetjeneste",
    28: "hjemmetjeneste",
}

_MUNICIPALITY = re.compile(r"[0-9]{4}")


def opaque_id(prefix: str, bruker_nr: str, number: int) -> str:
    """An id as a care-record system's database would give it: stable for the same service, but nothing a
    reader could take the person's brukerNr from (ids travel to the registry, brukerNr never does)."""
    digest = hashlib.sha256(f"iplos-synthetic/{prefix}/{bruker_nr}/{number}".encode()).hexdigest()
    return f"{prefix}-{digest[:16].upper()}"


def make_org_nr(rng: random.Random) -> str:
    """A random organisation number with a valid mod-11 check digit (first digit 8 or 9, as Norwegian
    organisation numbers are). Prefixes whose check digit would be 10 are redrawn."""
    while True:
        prefix = str(rng.choice((8, 9))) + "".join(str(rng.randrange(10)) for _ in range(7))
        # The one check digit that makes it valid (the registry's own rule); none when it would be 10.
        valid = [number for number in (prefix + str(last) for last in range(10)) if org_nr_is_valid(number)]
        if valid:
            return valid[0]


class _Context:
    """What every person of one export shares: the year and the municipality's units."""

    def __init__(self, year: int, rng: random.Random) -> None:
        self.year = year
        self.year_start = dt.date(year, 1, 1)
        self.year_end = dt.date(year, 12, 31)
        # Two or three units of each kind, fixed per export.
        self.units: dict[str, tuple[str, ...]] = {
            kind: tuple(make_org_nr(rng) for _ in range(rng.randint(2, 3))) for kind in _UNIT_KINDS
        }
        self.used_fids: set[str] = set()

    def org_nr(self, service_type: int, rng: random.Random) -> str | None:
        if service_type in _NO_ORG_NR:
            return None
        return rng.choice(self.units[_UNIT_OF_SERVICE.get(service_type, "tildeling")])

    def day_in_year(self, rng: random.Random, *, not_after: dt.date | None = None) -> dt.date:
        last = min(self.year_end, not_after) if not_after is not None else self.year_end
        span = max(0, (last - self.year_start).days)
        return self.year_start + dt.timedelta(days=rng.randint(0, span))


def _clamp(value: float, low: float, high: float) -> float:
    return low if value < low else high if value > high else value


def _hours(service_type: int, need: float, rng: random.Random) -> float | None:
    limits = _HOURS_RANGE.get(service_type)
    if limits is None:
        return None
    low, high = limits
    # Skewed towards the low end, heavier with need; whole half-hours, as municipalities register them.
    raw = low + (high - low) * float(rng.random() ** 1.8) * (0.4 + 0.6 * need)
    return max(low, round(raw * 2) / 2)


def _age(rng: random.Random) -> int:
    if rng.random() < 0.76:
        # 67-104, mode in the mid-eighties.
        return round(rng.triangular(67, 104, 86))
    # Younger users: some children (respite, support contact), mostly adults.
    return rng.randint(3, 17) if rng.random() < 0.15 else rng.randint(18, 66)


def _birth_date(year: int, age: int, rng: random.Random) -> dt.date:
    # Age at the end of the reporting year.
    birth_year = year - age
    start = dt.date(birth_year, 1, 1)
    return start + dt.timedelta(days=rng.randint(0, (dt.date(birth_year, 12, 31) - start).days))


def _diagnoses(elderly: bool, rng: random.Random) -> tuple[tuple[Diagnosis, ...], bool]:
    roll = rng.random()
    count = 0 if roll < 0.15 else 1 if roll < 0.55 else 2 if roll < 0.85 else 3
    table = _ELDERLY_DIAGNOSES if elderly else _YOUNGER_DIAGNOSES
    # A person's diagnoses mostly come from one source (the GP or the hospital).
    preferred = CodeSystem.ICPC2 if rng.random() < 0.7 else CodeSystem.ICD10
    chosen: dict[str, Diagnosis] = {}
    dementia = False
    for _ in range(count * 3):
        if len(chosen) >= count:
            break
        system, code, is_dementia, _weight = rng.choices(table, weights=[row[3] for row in table])[0]
        if system is not preferred and rng.random() < 0.8:
            continue
        chosen.setdefault(code, Diagnosis(system, code))
        dementia = dementia or is_dementia
    return tuple(chosen.values()), dementia


def _scores(need: float, age: int, dementia: bool, assessed: dt.date, rng: random.Random) -> tuple[FunctionScore, ...]:
    roll = rng.random()
    if roll < 0.05:
        return ()  # not yet assessed (an applicant, a short stay)
    variables: tuple[str, ...] = FUNCTION_VARIABLES
    if roll < 0.12:
        variables = tuple(sorted(rng.sample(FUNCTION_VARIABLES, rng.randint(5, 16)), key=FUNCTION_VARIABLES.index))
    scores = []
    for variable in variables:
        if rng.random() < 0.02 or (age < 12 and variable in ("alminneligHusarbeid", "lageMat") and rng.random() < 0.7):
            value = 9  # not relevant
        else:
            mean = 1.0 + 4.0 * need + _SCORE_OFFSET[variable]
            if dementia and variable in _DEMENTIA_VARIABLES:
                mean += 1.2
            value = int(_clamp(round(rng.gauss(mean, 0.75)), 1, 5))
        scores.append(FunctionScore(variable, value, assessed))
    return tuple(scores)


def _service_types(age: int, need: float, dementia: bool, developmental: bool, rng: random.Random) -> list[int]:
    def pick(probabilities: dict[int, float]) -> list[int]:
        return [code for code, p in probabilities.items() if rng.random() < p]

    if age >= 67:
        chosen = pick(
            {
                15: 0.35 + 0.6 * need,
                1: 0.3 + 0.4 * need,
                6: 0.35 + 0.3 * need,
                5: 0.08 + 0.15 * need,
                27: 0.1,
                28: 0.05,
                4: 0.08,
                17: 0.05 + 0.05 * need,
                19: 0.08 * need,
                18: 0.04,
                20: 0.04,
                8: 0.03,
                25: 0.04,
                22: 0.01,
                11: 0.02,
                29: 0.05,
                26: 0.25 if dementia else 0.01,
                24: 0.03 if dementia else 0.0,
            }
        )
        fallback = 15
    else:
        child = age < 18
        chosen = pick(
            {
                3: 0.12,
                9: 0.35 if child else 0.25,
                1: 0.05 if child else 0.3,
                2: 0.15,
                15: 0.05 if child else 0.35,
                7: 0.35 if child else 0.05,
                8: 0.2 if child else 0.05,
                11: 0.3 if child else 0.08,
                4: 0.05 if child else 0.18,
                29: 0.0 if child else 0.14,
                6: 0.0 if child else 0.05,
                # Coercion under kap. 9 is for persons with a developmental disability only.
                14: 0.06 if developmental else 0.0,
                23: 0.03 if developmental else 0.0,
            }
        )
        fallback = 9 if child else 1
    if not chosen and rng.random() < 0.97:
        chosen = [fallback]  # almost everyone in the register receives something
    return chosen


def _plus(date: dt.date, days: int) -> dt.date:
    return date + dt.timedelta(days=days)


def _event_type(rng: random.Random) -> str:
    roll = rng.random()
    return "M" if roll < 0.03 else "T" if roll < 0.04 else "N"


def _until_death(services: list[Service], death: dt.date) -> list[Service]:
    """The services of a person who died: none starting after the death date, none ending after it."""
    kept = []
    for service in services:
        if service.start_date > death:
            continue
        if service.end_date is None or service.end_date > death:
            service = replace(service, end_date=death)
        kept.append(service)
    return kept


class _PersonMaker:
    def __init__(self, context: _Context) -> None:
        self.context = context

    def fid(self, birth: dt.date, sex: Sex, rng: random.Random) -> tuple[str, FidType]:
        d_number = rng.random() < 0.02  # foreign workers and others without a national identity number
        while True:
            number = fnr.synthetic_for(birth, sex, rng, d_number=d_number)
            if number not in self.context.used_fids:
                self.context.used_fids.add(number)
                return number, FidType.DNR if d_number else FidType.FNR

    def dates(self, service_type: int, rng: random.Random) -> tuple[dt.date, dt.date | None]:
        context = self.context
        if service_type in _SHORT_STAYS:
            start = context.day_in_year(rng)
            length = rng.randint(1, 5) if service_type == 25 else rng.randint(3, 42)
            return start, min(context.year_end, _plus(start, length))
        if rng.random() < 0.6:
            # Ongoing since an earlier year, recent starts more common.
            start = _plus(context.year_start, -(1 + int(rng.expovariate(1 / 700)) % 3000))
        else:
            start = context.day_in_year(rng, not_after=_plus(context.year_end, -7))
        end: dt.date | None = None
        if rng.random() < 0.25:
            earliest = _plus(max(start, context.year_start), 7)
            if earliest <= context.year_end:
                end = _plus(earliest, rng.randint(0, (context.year_end - earliest).days))
        return start, end

    def service(
        self,
        bruker_nr: str,
        number: int,
        service_type: int,
        need: float,
        rng: random.Random,
        dates: tuple[dt.date, dt.date | None] | None = None,
    ) -> Service:
        start, end = self.dates(service_type, rng) if dates is None else dates
        # Application, then decision (a few weeks later), then start: a decision without a recorded
        # application is common, an application date without a decision less so.
        decision = _plus(start, -rng.randint(0, 28)) if rng.random() < 0.9 else None
        application: dt.date | None = None
        if rng.random() < (0.85 if decision is not None else 0.3):
            application = _plus(decision or start, -rng.randint(1, 60))
        return Service(
            tjeneste_id=opaque_id("T", bruker_nr, number),
            tjeneste_type=service_type,
            decision_date=decision,
            start_date=start,
            end_date=end,
            hours_per_week=_hours(service_type, need, rng),
            org_nr=self.context.org_nr(service_type, rng),
            application_date=application,
            event_type=_event_type(rng),
        )

    def person(self, bruker_nr: str, rng: random.Random) -> PersonRecord:
        context = self.context
        age = _age(rng)
        elderly = age >= 67
        female_share = 0.66 if age >= 85 else 0.58 if elderly else 0.45
        sex = Sex.FEMALE if rng.random() < female_share else Sex.MALE
        fid, fid_type = self.fid(_birth_date(context.year, age, rng), sex, rng)
        if elderly:
            need = _clamp((age - 62) / 40 * 0.7 + rng.random() * 0.45 - 0.1, 0.0, 1.0)
        else:
            need = _clamp(rng.betavariate(2, 3), 0.05, 0.95)
        diagnoses, dementia = _diagnoses(elderly, rng)
        codes = {d.code for d in diagnoses}
        developmental = bool(codes & _DEVELOPMENTAL)
        if dementia:
            need = _clamp(need + 0.15, 0.0, 1.0)

        services: list[Service] = []
        stay: Service | None = None
        if elderly and need > 0.72 and rng.random() < 0.15 + (age - 67) / 40:
            # Nursing-home resident; if the stay began this year, home services ended the day before.
            stay = self.service(bruker_nr, 1, _LONG_TERM_STAY, need, rng)
            stay = replace(stay, end_date=None if rng.random() < 0.85 else stay.end_date)
            services.append(stay)
            if stay.start_date > context.year_start:
                for service_type in (15, 1, 6):
                    if rng.random() < 0.7:
                        home_start, _ = self.dates(service_type, rng)
                        home_dates = (
                            min(home_start, _plus(stay.start_date, -30)),
                            _plus(stay.start_date, -1),
                        )
                        services.append(self.service(bruker_nr, len(services) + 1, service_type, need, rng, home_dates))
        else:
            for service_type in _service_types(age, need, dementia, developmental, rng):
                services.append(self.service(bruker_nr, len(services) + 1, service_type, need, rng))

        death = self.death_date(age, stay, rng)
        if death is not None:
            services = _until_death(services, death)
        assessed = context.day_in_year(rng, not_after=death)
        refusals = self.refusals(age, need, stay is not None, death, rng)
        return PersonRecord(
            bruker_nr=bruker_nr,
            fid=fid,
            fid_type=fid_type,
            function_scores=_scores(need, age, dementia, assessed, rng),
            diagnoses=diagnoses,
            services=tuple(services),
            background=self.background(age, need, stay is not None, services, codes, dementia, death, rng),
            refusals=refusals,
            complaints=self.complaints(services, refusals, death, rng),
            coercion=self.coercion(bruker_nr, services, death, rng),
        )

    def death_date(self, age: int, stay: Service | None, rng: random.Random) -> dt.date | None:
        """A death during the reporting year, or None. Mostly the oldest; a long-term stay that ended during
        the year usually ended with the resident's death."""
        context = self.context
        if stay is not None:
            if stay.end_date is not None:
                return stay.end_date if rng.random() < 0.8 else None
            if rng.random() < 0.2:
                first = max(stay.start_date, context.year_start)
                return _plus(first, rng.randint(0, (context.year_end - first).days))
            return None
        chance = 0.04 if age >= 85 else 0.02 if age >= 75 else 0.008 if age >= 67 else 0.002
        return context.day_in_year(rng) if rng.random() < chance else None

    def background(
        self,
        age: int,
        need: float,
        resident: bool,
        services: list[Service],
        codes: set[str],
        dementia: bool,
        death: dt.date | None,
        rng: random.Random,
    ) -> PersonBackground:
        if rng.random() < 0.02:
            return PersonBackground()  # not recorded at all (an EPJ that does not report the background)
        context = self.context
        types = {s.tjeneste_type for s in services}
        child = age < 18
        elderly = age >= 67

        # Housing: 1 ordinary, 2 care home / adapted, 3 institution, 4 no fixed home, 9 not stated.
        housing: int
        if resident:
            housing = 3
        elif 29 in types:
            housing = 2 if rng.random() < 0.85 else 1
        elif elderly:
            housing = 2 if rng.random() < 0.1 + 0.25 * need else 1
        elif not child and codes & {"P15", "P72", "F20.0"} and rng.random() < 0.25:
            housing = 4
        else:
            housing = 1
        if rng.random() < 0.02:
            housing = 9

        # Household: 1 alone, 2 with a spouse or partner, 3 with parents, 4 with others, 9 not stated.
        household: int
        roll = rng.random()
        if housing == 3:
            household = 1
        elif child:
            household = 3 if roll < 0.95 else 4
        elif elderly:
            alone = 0.45 + (0.2 if age >= 80 else 0.0) + 0.1 * need
            household = 1 if roll < alone else 2 if roll < 0.96 else 4
        else:
            with_parents = 0.35 if age < 30 else 0.1
            household = 1 if roll < 0.45 else 3 if roll < 0.45 + with_parents else 2 if roll < 0.85 else 4
        if rng.random() < 0.02:
            household = 9

        # Unpaid help from family or friends: common for people living at home, rare in an institution.
        unpaid_help: bool | None
        if housing == 3:
            unpaid_help = rng.random() < 0.1
        elif child:
            unpaid_help = rng.random() < 0.9
        else:
            unpaid_help = rng.random() < (0.55 if household == 1 else 0.8)
        if rng.random() < 0.05:
            unpaid_help = None

        communication_chance = 0.35 if codes & _COMMUNICATION else 0.05 if dementia else 0.015
        communication: bool | None = rng.random() < communication_chance
        if rng.random() < 0.05:
            communication = None

        # Seen by a doctor / by dental health staff: the date of the latest assessment (never after a death).
        def assessed(chance_in_year: float, chance_earlier: float) -> dt.date | None:
            roll = rng.random()
            if roll < chance_in_year:
                return context.day_in_year(rng, not_after=death)
            if roll < chance_in_year + chance_earlier:
                return _plus(context.year_start, -rng.randint(1, 700))
            return None

        if resident:
            doctor, dentist = assessed(0.95, 0.03), assessed(0.8, 0.1)
        elif elderly:
            doctor, dentist = assessed(0.35, 0.2), assessed(0.15, 0.15)
        else:
            doctor, dentist = assessed(0.2, 0.15), assessed(0.1, 0.15)

        plan_chance = 0.03 if elderly else 0.45 if codes & (_DEVELOPMENTAL | _COMMUNICATION) else 0.15
        plan: bool | None = rng.random() < plan_chance
        if rng.random() < 0.1:
            plan = None
        return PersonBackground(
            housing=housing,
            household=household,
            unpaid_help=unpaid_help,
            assisted_communication=communication,
            death_date=death,
            assessed_by_doctor=doctor,
            assessed_by_dentist=dentist,
            individual_plan=plan,
        )

    def refusals(
        self, age: int, need: float, resident: bool, death: dt.date | None, rng: random.Random
    ) -> tuple[Refusal, ...]:
        """A refused application for a few per cent: a nursing-home place or more home help for the old,
        personal assistance or a dwelling for the younger. Decided during the year."""
        chance = 0.02 if resident else 0.03 + 0.05 * need if age >= 67 else 0.04
        if rng.random() >= chance:
            return ()
        if age >= 67:
            service_type = rng.choices((21, 15, 1, 19, 29), weights=(5, 2, 2, 1, 1))[0]
        else:
            service_type = rng.choices((3, 29, 9, 7, 11), weights=(3, 2, 2, 1, 2))[0]
        decision = self.context.day_in_year(rng, not_after=death)
        application = _plus(decision, -rng.randint(7, 70)) if rng.random() < 0.9 else None
        return (Refusal(service_type, application, decision),)

    def complaints(
        self, services: list[Service], refusals: tuple[Refusal, ...], death: dt.date | None, rng: random.Random
    ) -> tuple[Complaint, ...]:
        """About a third of refusals are appealed; now and then a decision on a service granted (too few
        hours, say) is too. Never dated after the year (nor after a death)."""
        context = self.context
        last = context.year_end if death is None else min(context.year_end, death)
        target: tuple[int, dt.date] | None = None
        if refusals and rng.random() < 0.35:
            refusal = refusals[0]
            target = (refusal.tjeneste_type, _plus(refusal.decision_date, rng.randint(3, 21)))
        elif services and rng.random() < 0.015:
            service = rng.choice(services)
            target = (service.tjeneste_type, context.day_in_year(rng, not_after=last))
        if target is None or target[1] > last:
            return ()
        service_type, date = target
        if (last - date).days < 30 and rng.random() < 0.6:
            outcome: str | None = "under-behandling"
        else:
            outcome = rng.choices(
                ("medhold", "delvis", "ikke-medhold", "under-behandling", None), weights=(20, 15, 50, 10, 5)
            )[0]
        return (Complaint(service_type, date, outcome),)

    def coercion(
        self, bruker_nr: str, services: list[Service], death: dt.date | None, rng: random.Random
    ) -> tuple[Coercion, ...]:
        """Decisions on coercion, for users of the coercion services only: the decision period in force during
        the year (decisions last at most a year and are renewed), within the service's own period."""
        context = self.context
        decisions: list[Coercion] = []
        for service in services:
            basis = _COERCION_BASIS.get(service.tjeneste_type)
            if basis is None or rng.random() >= (0.4 if service.tjeneste_type == 23 else 0.9):
                continue
            start = max(service.start_date, _plus(context.year_start, -rng.randint(0, 300)))
            end: dt.date | None = _plus(start, 364)
            if service.end_date is not None:
                end = min(_plus(start, 364), service.end_date)
            if death is not None:
                end = min(_plus(start, 364), death) if end is None else min(end, death)
            if service.end_date is None and death is None and rng.random() < 0.1:
                end = None  # no end date recorded
            decisions.append(
                Coercion(
                    vedtak_id=opaque_id("TV", bruker_nr, len(decisions) + 1),
                    legal_basis=basis,
                    decision_date=_plus(start, -rng.randint(0, 14)),
                    start_date=start,
                    end_date=end,
                )
            )
        return tuple(decisions)

    def vary(self, person: PersonRecord, rng: random.Random) -> PersonRecord:
        """One plausible correction or change, as between two submissions of the same year."""
        services = list(person.services)
        death = person.background.death_date
        choice = rng.random()
        ongoing = [i for i, s in enumerate(services) if s.end_date is None]
        if choice < 0.35 and ongoing:
            index = rng.choice(ongoing)
            service = services[index]
            end = self.context.day_in_year(rng, not_after=death)
            services[index] = replace(service, end_date=max(end, service.start_date))
        elif choice < 0.65:
            service_type = rng.choice((15, 1, 6, 27, 4))
            need = rng.random()
            # A person's own services are numbered from 1 (a death may leave gaps); a variant adds at most one
            # service per person, numbered apart from them, so its id can't repeat one of theirs.
            number = 100
            added = self.service(person.bruker_nr, number, service_type, need, rng)
            if death is not None:
                added = replace(added, start_date=min(added.start_date, death), end_date=death)
                if added.decision_date is not None and added.decision_date > added.start_date:
                    added = replace(added, decision_date=added.start_date, application_date=None)
            services.append(added)
        elif choice < 0.85 and any(s.hours_per_week is not None for s in services):
            index = rng.choice([i for i, s in enumerate(services) if s.hours_per_week is not None])
            hours = services[index].hours_per_week or 1.0
            new_hours = _clamp(hours + rng.choice((-1.0, 0.5, 1.5)), 0.5, 40.0)
            services[index] = replace(services[index], hours_per_week=new_hours)
        elif person.function_scores:
            scores = list(person.function_scores)
            index = rng.randrange(len(scores))
            old = scores[index]
            new_score = old.score if old.score == 9 else int(_clamp(old.score + rng.choice((-1, 1)), 1, 5))
            scores[index] = replace(old, score=new_score)
            return replace(person, function_scores=tuple(scores))
        return replace(person, services=tuple(services))


def _contact(municipality: str, rng: random.Random) -> Contact:
    """An obviously fictitious contact person: made-up surname, a 0-prefixed number, a ``.example`` address."""
    first, last = rng.choice(_CONTACT_FIRST_NAMES), rng.choice(_CONTACT_SURNAMES)
    digits = f"0{rng.randrange(10)}{rng.randrange(10**6):06d}"
    telefon = f"+47 {digits[:2]} {digits[2:4]} {digits[4:6]} {digits[6:]}"
    epost = f"{first}.{last}@k{municipality}.kommune.example".translate(_ASCII).lower()
    return Contact(navn=f"{first} {last}", telefon=telefon, epost=epost)


def _check_arguments(municipality: str, year: int, persons: int) -> None:
    if not _MUNICIPALITY.fullmatch(municipality):
        raise ValueError("municipality must be a four-digit kommunenummer")
    if not 2000 <= year <= 2100:
        raise ValueError("year must be within 2000-2100")
    if persons < 0:
        raise ValueError("persons must not be negative")


def generate_records(
    municipality: str, year: int, persons: int, seed: int | None, *, vary: int = 0
) -> tuple[ExportHeader, Iterator[PersonRecord]]:
    """The header and a lazy iterator of the persons of a synthetic export.

    Deterministic for (municipality, year, persons, seed, vary); ``seed=None`` draws a fresh seed. The
    iterator yields about ``persons`` records (exactly ``persons`` when ``vary`` is 0).
    """
    _check_arguments(municipality, year, persons)
    if vary < 0:
        raise ValueError("vary must not be negative")
    if seed is None:
        seed = random.SystemRandom().getrandbits(64)
    key = f"iplos-generator/1:{seed}:{municipality}:{year}"
    rng = random.Random(key)  # noqa: S311 - synthetic test data, not security
    variant = random.Random(f"{key}:vary:{vary}") if vary else None  # noqa: S311
    # Drawn from the base generator even for a variant, so that the base persons' draws do not shift.
    guid_bits = rng.getrandbits(128)
    if variant is not None:
        guid_bits = variant.getrandbits(128)  # a resubmission is a new message
    guid = str(uuid.UUID(int=guid_bits, version=4))
    navn, leverandor, versjon = rng.choice(_EPJ_SYSTEMS)
    bydel: str | None = None
    if municipality == "0301":
        bydel = rng.choice(_OSLO_DISTRICTS) if rng.random() < 0.95 else "030199"  # 99: uoppgitt
    header = ExportHeader(
        melding_guid=guid,
        format_version=FORMAT_VERSION,
        navn_epj=navn,
        leverandor=leverandor,
        versjon_epj=versjon,
        rapporteringsaar=year,
        kommune_nr=municipality,
        bydel_nr=bydel,
        kontaktperson=_contact(municipality, rng),
    )
    context = _Context(year, rng)
    maker = _PersonMaker(context)

    def records() -> Iterator[PersonRecord]:
        for index in range(persons):
            # The base person is always drawn, so that every variant sees the same base population.
            person = maker.person(str(100001 + index), rng)
            if variant is None:
                yield person
                continue
            roll = variant.random()
            if roll < 0.02:
                continue  # moved away, died before the year, or registered in error
            yield maker.vary(person, variant) if roll < 0.10 else person
        if variant is not None:
            for index in range(round(persons * 0.02)):
                yield maker.person(f"V{vary}-{index + 1}", variant)

    return header, records()


def generate_export(
    municipality: str,
    year: int,
    persons: int,
    seed: int | None,
    out: ExportTarget,
    *,
    vary: int = 0,
) -> tuple[ExportHeader, int]:
    """Write a synthetic export (see ``generate_records``) to ``out``, streaming; returns its header and the
    number of persons written."""
    header, records = generate_records(municipality, year, persons, seed, vary=vary)
    return header, write_export(out, header, records)
