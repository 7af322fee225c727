"""Fault injection for synthetic IPLOS data, with an answer key for the logical controls.

``inject_faults`` wraps a stream of clean ``PersonRecord``s (the generator's) and mutates some of them so that
each mutated person carries exactly ONE known fault kind, which the logical controls (``shared.iplos.controls``)
must report as exactly one control code on that person and nothing else. The ``AnswerKey`` says which persons
(by ``brukerNr``) carry which code; it is complete when the returned iterator is exhausted.

Choices, and why:

* **Which persons: systematic sampling at ``rate``.** Person ``i`` (0-based, stream order) is due a fault when
  ``floor((i + 1) * rate + u) > floor(i * rate + u)``, with one offset ``u`` drawn from ``rng``. Every person
  has probability exactly ``rate`` of being due, the faults are spread evenly, and ``n`` persons carry
  ``round(n * rate)`` faults give or take one, with no variance to make small test inputs flaky.
* **Which kind: round robin.** The kinds are shuffled once (by ``rng``) and applied in turn, so every kind
  occurs as soon as ``len(kinds)`` faults have been injected (``n >= len(kinds) / rate`` persons), and each
  occurs ``n * rate / len(kinds)`` times give or take one. If the person due a fault cannot take the current
  kind (e.g. a two-record fault before any clean person was seen), the fault stays due and goes to the next
  person. One person never carries two faults.
* **Two-record faults report the second record.** The controls report the second and later occurrence in
  submission order, so ``duplicate-person`` gives the faulted person the identity number (and type) of an
  earlier clean person (the *donor*), and ``duplicate-service-id`` appends a copy of a donor's service to the
  faulted person; the answer key names the faulted person only. A donor is used once per kind and is never
  faulted. ``conflicting-decisions`` needs no donor: it appends a second line of one of the person's own
  services with the same tjenesteID and an earlier decision date (the first line stays clean).
* **Faults add what they need.** A kind that needs an element the person lacks (an hour-based service, a
  complaint, a coercion decision) adds a clean one that carries the fault, so nearly any person can take any
  kind (not, say, a service after the death date for a person whose services all start on 31 December).
* **RNG.** Only ``rng`` is used; pass a stream separate from the generator's (e.g. ``random.Random(f"{key}:faults")``)
  so that the same seed gives the same base persons whatever the rate. With ``rate == 0`` the records pass
  through unchanged.
* **Synthetic numbers only.** New identity numbers are Tenor-style (month + 80, ``shared.fnr.synthetic_for``);
  the ``identity-refused`` fault breaks the last check digit of the person's own synthetic number.

Every record-level control (K005-K031) has a kind. Not injected here:

* the submission-level controls (K001-K004: kommuneNr and bydelNr of the header): they are about the message
  header, not a person, so an answer key by ``brukerNr`` cannot name them (``tests/shared/test_controls.py``
  covers them);
* the closed vocabularies (event type, legal basis of coercion, complaint outcome): a value outside them is a
  schema error that refuses the whole export, not a content finding, and the payload codec cannot carry it.

Every injected value stays valid for the export's schema (``tests/testkit/test_faults.py`` writes, validates and
reads back a faulted export), so the faults reach the registry's controls.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import random
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

import shared.fnr as fnr
from iplos_testkit.generator import opaque_id
from shared.iplos import controls as c
from shared.iplos.model import (
    HOUSEHOLD_TYPES,
    HOUSING_TYPES,
    SERVICE_TYPES,
    VALID_SCORES,
    Coercion,
    Complaint,
    FidType,
    FunctionScore,
    PersonRecord,
    Refusal,
    Service,
)

__all__ = [
    "ANSWER_KEY_FORMAT",
    "FAULT_CODES",
    "AnswerKey",
    "FaultKind",
    "inject_faults",
    "write_answer_key",
]

ANSWER_KEY_FORMAT = "iplos-answer-key/1"


class FaultKind(StrEnum):
    IDENTITY_REFUSED = "identity-refused"
    DUPLICATE_PERSON = "duplicate-person"
    BIRTH_YEAR = "birth-year"
    DATE_BEFORE_1900 = "date-before-1900"
    DEATH_AFTER_YEAR = "death-after-year"
    HOUSING_UNKNOWN = "housing-unknown"
    HOUSEHOLD_UNKNOWN = "household-unknown"
    ASSESSMENT_AFTER_YEAR = "assessment-after-year"
    SCORE_INVALID = "score-invalid"
    SCORE_REPEATED = "score-repeated"
    SERVICE_TYPE_UNKNOWN = "service-type-unknown"
    START_AFTER_END = "start-after-end"
    OUTSIDE_YEAR = "outside-year"
    DECISION_AFTER_START = "decision-after-start"
    DECISION_BEFORE_APPLICATION = "decision-before-application"
    HOURS_OUT_OF_RANGE = "hours-out-of-range"
    HOURS_MISSING = "hours-missing"
    HOURS_NOT_APPLICABLE = "hours-not-applicable"
    ORG_NR_MISSING = "org-nr-missing"
    ORG_NR_INVALID = "org-nr-invalid"
    ORG_NR_NOT_APPLICABLE = "org-nr-not-applicable"
    LONG_TERM_OVERLAP = "long-term-overlap"
    SERVICE_AFTER_DEATH = "service-after-death"
    DUPLICATE_SERVICE_ID = "duplicate-service-id"
    CONFLICTING_DECISIONS = "conflicting-decisions"
    REFUSAL_OR_COMPLAINT_AFTER_YEAR = "refusal-or-complaint-after-year"
    COERCION_START_AFTER_END = "coercion-start-after-end"


# The one control code each kind must trigger.
FAULT_CODES: dict[FaultKind, str] = {
    FaultKind.IDENTITY_REFUSED: c.IDENTITY_REFUSED,
    FaultKind.DUPLICATE_PERSON: c.DUPLICATE_PERSON,
    FaultKind.BIRTH_YEAR: c.BIRTH_YEAR_IMPLAUSIBLE,
    FaultKind.DATE_BEFORE_1900: c.DATE_BEFORE_1900,
    FaultKind.DEATH_AFTER_YEAR: c.DEATH_AFTER_YEAR,
    FaultKind.HOUSING_UNKNOWN: c.HOUSING_UNKNOWN,
    FaultKind.HOUSEHOLD_UNKNOWN: c.HOUSEHOLD_UNKNOWN,
    FaultKind.ASSESSMENT_AFTER_YEAR: c.ASSESSMENT_AFTER_YEAR,
    FaultKind.SCORE_INVALID: c.SCORE_INVALID,
    FaultKind.SCORE_REPEATED: c.SCORE_REPEATED,
    FaultKind.SERVICE_TYPE_UNKNOWN: c.SERVICE_TYPE_UNKNOWN,
    FaultKind.START_AFTER_END: c.START_AFTER_END,
    FaultKind.OUTSIDE_YEAR: c.OUTSIDE_YEAR,
    FaultKind.DECISION_AFTER_START: c.DECISION_AFTER_START,
    FaultKind.DECISION_BEFORE_APPLICATION: c.DECISION_BEFORE_APPLICATION,
    FaultKind.HOURS_OUT_OF_RANGE: c.HOURS_OUT_OF_RANGE,
    FaultKind.HOURS_MISSING: c.HOURS_MISSING,
    FaultKind.HOURS_NOT_APPLICABLE: c.HOURS_NOT_APPLICABLE,
    FaultKind.ORG_NR_MISSING: c.ORG_NR_MISSING,
    FaultKind.ORG_NR_INVALID: c.ORG_NR_INVALID,
    FaultKind.ORG_NR_NOT_APPLICABLE: c.ORG_NR_NOT_APPLICABLE,
    FaultKind.LONG_TERM_OVERLAP: c.LONG_TERM_OVERLAP,
    FaultKind.SERVICE_AFTER_DEATH: c.SERVICE_AFTER_DEATH,
    FaultKind.DUPLICATE_SERVICE_ID: c.DUPLICATE_SERVICE_ID,
    FaultKind.CONFLICTING_DECISIONS: c.CONFLICTING_DECISIONS,
    FaultKind.REFUSAL_OR_COMPLAINT_AFTER_YEAR: c.REFUSAL_OR_COMPLAINT_AFTER_YEAR,
    FaultKind.COERCION_START_AFTER_END: c.COERCION_START_AFTER_END,
}

# Values outside the code lists, each still valid for the export's lexical types.
_UNKNOWN_SERVICE_TYPES = tuple(t for t in (10, 12, 13, 16, 30, 31, 99) if t not in SERVICE_TYPES)
_UNKNOWN_HOUSING = tuple(v for v in (5, 6, 7, 8) if v not in HOUSING_TYPES)
_UNKNOWN_HOUSEHOLD = tuple(v for v in (5, 6, 7, 8) if v not in HOUSEHOLD_TYPES)
_INVALID_SCORES = tuple(v for v in (0, 6, 7, 8) if v not in VALID_SCORES)
_BAD_HOURS = (0.0, 170.0, 200.0, 336.0)
_OTHER_SERVICES = tuple(sorted(set(SERVICE_TYPES) - c.HOURLY_SERVICES - c.NO_ORG_NR_SERVICES - {c.LONG_TERM_STAY}))
_DAY = dt.timedelta(days=1)


# ------------------------------------------------------------------------------------------- answer key


@dataclass
class AnswerKey:
    """Which persons (by ``brukerNr``) carry which control codes, filled while the records stream.

    ``records`` maps ``brukerNr`` to its codes (one per faulted person), ``kinds`` to the fault kind.
    ``complete`` turns True when the iterator ``inject_faults`` returned is exhausted; ``to_json`` and
    ``write`` refuse an incomplete key."""

    year: int
    rate: float
    records: dict[str, list[str]] = field(default_factory=dict)
    kinds: dict[str, FaultKind] = field(default_factory=dict)
    complete: bool = False

    def add(self, bruker_nr: str, kind: FaultKind) -> None:
        if bruker_nr in self.records:
            raise ValueError("brukerNr repeats in the input; the answer key needs unique brukerNr")
        self.records[bruker_nr] = [FAULT_CODES[kind]]
        self.kinds[bruker_nr] = kind

    def counts(self) -> Counter[FaultKind]:
        """How many persons carry each kind."""
        return Counter(self.kinds.values())

    def to_json(self) -> str:
        if not self.complete:
            raise RuntimeError("the answer key is complete only once the fault iterator is exhausted")
        counts = self.counts()
        document = {
            "format": ANSWER_KEY_FORMAT,
            "rapporteringsaar": self.year,
            "rate": self.rate,
            "records": self.records,
            "kinds": {bruker_nr: kind.value for bruker_nr, kind in self.kinds.items()},
            "counts": {FAULT_CODES[kind]: counts[kind] for kind in FaultKind if counts[kind]},
        }
        return json.dumps(document, ensure_ascii=False, indent=2) + "\n"

    def write(self, path: str | os.PathLike[str]) -> None:
        """Write ``to_json()`` to ``path`` (UTF-8)."""
        text = self.to_json()
        with open(path, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)


def write_answer_key(key: AnswerKey, path: str | os.PathLike[str]) -> None:
    """Write a complete answer key as JSON to ``path``."""
    key.write(path)


# --------------------------------------------------------------------------------------------- injector


def _org_nr(rng: random.Random) -> str:
    while True:
        number = str(rng.choice((8, 9))) + "".join(str(rng.randrange(10)) for _ in range(8))
        if c.org_nr_is_valid(number):
            return number


def _broken_org_nr(valid: str, rng: random.Random) -> str:
    # The check digit is unique, so any other last digit is invalid.
    return valid[:8] + str((int(valid[8]) + rng.randint(1, 9)) % 10)


@dataclass
class _Donor:
    fid: str
    fid_type: FidType
    services: tuple[Service, ...]


_Mutation = Callable[["_Injector", PersonRecord], "PersonRecord | None"]


class _Injector:
    def __init__(self, year: int, rng: random.Random) -> None:
        self.year = year
        self.rng = rng
        self.year_start = dt.date(year, 1, 1)
        self.year_end = dt.date(year, 12, 31)
        self.org_pool = [_org_nr(rng) for _ in range(3)]
        self.new_fids: set[str] = set()
        self.donor_fid: _Donor | None = None
        self.donor_service: _Donor | None = None
        self.added = 0

    # ------------------------------------------------------------------------------------ helpers

    def observe_clean(self, person: PersonRecord) -> None:
        donor = _Donor(person.fid, person.fid_type, person.services)
        self.donor_fid = donor
        if any(s.tjeneste_type != c.LONG_TERM_STAY for s in person.services):
            self.donor_service = donor

    def days(self, low: int, high: int) -> dt.timedelta:
        return dt.timedelta(days=self.rng.randint(low, high))

    def latest_start(self, person: PersonRecord) -> dt.date | None:
        """The latest start date a clean service of this person can have (None: none fits in the year)."""
        death = person.background.death_date
        latest = self.year_end if death is None else min(self.year_end, death)
        return latest if latest >= self.year_start else None

    def new_service(
        self,
        person: PersonRecord,
        service_type: int,
        *,
        start: dt.date | None = None,
        hours: float | None = None,
        org_nr: str | None = None,
    ) -> Service | None:
        """A clean service for ``person`` (a fresh tjenesteID), or None if none fits before the death date."""
        if start is None:
            latest = self.latest_start(person)
            if latest is None:
                return None
            start = self.year_start + self.days(0, min(60, (latest - self.year_start).days))
        if hours is None and service_type in c.HOURLY_SERVICES:
            hours = float(self.rng.randint(1, 12))
        if org_nr is None and service_type not in c.NO_ORG_NR_SERVICES:
            org_nr = self.rng.choice(self.org_pool)
        self.added += 1
        return Service(
            tjeneste_id=opaque_id("TF", person.bruker_nr, self.added),
            tjeneste_type=service_type,
            decision_date=start,
            start_date=start,
            end_date=None,
            hours_per_week=hours,
            org_nr=org_nr,
        )

    def pick(self, services: Sequence[Service], accept: Callable[[Service], bool]) -> int | None:
        candidates = [i for i, s in enumerate(services) if accept(s)]
        return self.rng.choice(candidates) if candidates else None

    def with_service(
        self, person: PersonRecord, accept: Callable[[Service], bool], new_type: int
    ) -> tuple[list[Service], int] | None:
        """The person's services and the index of one that ``accept``s, adding a clean one of ``new_type``
        when none does."""
        services = list(person.services)
        index = self.pick(services, accept)
        if index is None:
            added = self.new_service(person, new_type)
            if added is None:
                return None
            services.append(added)
            index = len(services) - 1
        return services, index

    def alter_service(
        self,
        person: PersonRecord,
        accept: Callable[[Service], bool],
        new_type: int,
        change: Callable[[Service], Service | None],
    ) -> PersonRecord | None:
        found = self.with_service(person, accept, new_type)
        if found is None:
            return None
        services, index = found
        changed = change(services[index])
        if changed is None:
            return None
        services[index] = changed
        return replace(person, services=tuple(services))

    # ---------------------------------------------------------------------------------- identity

    def identity_refused(self, person: PersonRecord) -> PersonRecord | None:
        fid = person.fid
        if len(fid) != 11 or not fid.isdigit():
            return None
        # K2 has weight 1 on the last digit, so any other last digit breaks it (under both K1 rules).
        return replace(person, fid=fid[:10] + str((int(fid[10]) + self.rng.randint(1, 9)) % 10))

    def duplicate_person(self, person: PersonRecord) -> PersonRecord | None:
        donor = self.donor_fid
        if donor is None or donor.fid == person.fid:
            return None
        self.donor_fid = None
        return replace(person, fid=donor.fid, fid_type=donor.fid_type)

    def birth_year(self, person: PersonRecord) -> PersonRecord | None:
        try:
            sex = fnr.parse(person.fid).sex or fnr.Sex.FEMALE
        except fnr.InvalidIdentityNumber:
            return None
        options = [self.year - c.MAX_AGE - self.rng.randint(0, 10)]  # 125 or more years old
        if self.year + 1 <= 2039:
            options.append(self.year + self.rng.randint(1, min(3, 2039 - self.year)))  # born after the year
        birth_year = max(1854, self.rng.choice(options))
        if self.year - c.MAX_AGE < birth_year <= self.year:
            return None
        birth = dt.date(birth_year, 1, 1) + self.days(0, 364)
        for _ in range(20):
            number = fnr.synthetic_for(birth, sex, self.rng, d_number=person.fid_type is FidType.DNR)
            if number not in self.new_fids:
                self.new_fids.add(number)
                return replace(person, fid=number)
        return None

    # --------------------------------------------------------------------------- dates, background

    def date_before_1900(self, person: PersonRecord) -> PersonRecord | None:
        old = dt.date(self.rng.randint(1850, 1899), self.rng.randint(1, 12), self.rng.randint(1, 28))

        def ancient(s: Service) -> Service:
            # A start in the 1800s: the seeds' fault. Decision and application dates go with it (unknown), so
            # the old start is the only date before 1900; the service still overlaps the year.
            return replace(s, start_date=old, decision_date=None, application_date=None)

        return self.alter_service(
            person, lambda s: s.end_date is None or s.end_date >= self.year_start, _OTHER_SERVICES[0], ancient
        )

    def death_after_year(self, person: PersonRecord) -> PersonRecord | None:
        death = self.year_end + self.days(1, 60)
        return replace(person, background=replace(person.background, death_date=death))

    def housing_unknown(self, person: PersonRecord) -> PersonRecord | None:
        value = self.rng.choice(_UNKNOWN_HOUSING)
        return replace(person, background=replace(person.background, housing=value))

    def household_unknown(self, person: PersonRecord) -> PersonRecord | None:
        value = self.rng.choice(_UNKNOWN_HOUSEHOLD)
        return replace(person, background=replace(person.background, household=value))

    def assessment_after_year(self, person: PersonRecord) -> PersonRecord | None:
        later = self.year_end + self.days(1, 45)
        if person.function_scores:
            scores = list(person.function_scores)
            i = self.rng.randrange(len(scores))
            scores[i] = replace(scores[i], date=later)
            return replace(person, function_scores=tuple(scores))
        return replace(person, background=replace(person.background, assessed_by_doctor=later))

    # ----------------------------------------------------------------------------------- function

    def score_invalid(self, person: PersonRecord) -> PersonRecord | None:
        value = self.rng.choice(_INVALID_SCORES)
        scores = list(person.function_scores)
        if scores:
            i = self.rng.randrange(len(scores))
            scores[i] = replace(scores[i], score=value)
        else:
            scores.append(FunctionScore("hukommelse", value, self.year_start + self.days(0, 300)))
        return replace(person, function_scores=tuple(scores))

    def score_repeated(self, person: PersonRecord) -> PersonRecord | None:
        scores = list(person.function_scores)
        if len(scores) >= 2:
            # Rename a later score to an earlier one's variable: the count stays within the schema's 17.
            first, second = sorted(self.rng.sample(range(len(scores)), 2))
            scores[second] = replace(scores[second], variable=scores[first].variable)
        elif scores:
            scores.append(replace(scores[0], score=self.rng.choice((1, 2, 3))))
        else:
            date = self.year_start + self.days(0, 300)
            scores = [FunctionScore("syn", 1, date), FunctionScore("syn", 2, date)]
        return replace(person, function_scores=tuple(scores))

    # ----------------------------------------------------------------------------------- services

    def service_type_unknown(self, person: PersonRecord) -> PersonRecord | None:
        value = self.rng.choice(_UNKNOWN_SERVICE_TYPES)
        return self.alter_service(person, lambda s: True, _OTHER_SERVICES[0], lambda s: replace(s, tjeneste_type=value))

    def start_after_end(self, person: PersonRecord) -> PersonRecord | None:
        latest = self.latest_start(person)
        if latest is None or latest <= self.year_start:
            return None
        end = self.year_start + self.days(0, (latest - self.year_start).days - 1)
        start = end + self.days(1, (latest - end).days)

        def invert(s: Service) -> Service:
            # Both dates inside the year (and not after the death date), so the service still overlaps the year;
            # the decision and application dates are moved back if they would now come after the start.
            decision = s.decision_date if s.decision_date is None else min(s.decision_date, start)
            application = s.application_date
            if application is not None and decision is not None and application > decision:
                application = decision
            return replace(s, start_date=start, end_date=end, decision_date=decision, application_date=application)

        return self.alter_service(person, lambda s: s.start_date >= c.EARLIEST_DATE, _OTHER_SERVICES[0], invert)

    def outside_year(self, person: PersonRecord) -> PersonRecord | None:
        if self.latest_start(person) is None:
            return None
        end = self.year_start - self.days(1, 90)
        start = end - self.days(30, 400)

        def move(s: Service) -> Service:
            return replace(s, start_date=start, end_date=end, decision_date=start, application_date=None)

        return self.alter_service(person, lambda s: True, _OTHER_SERVICES[0], move)

    def decision_after_start(self, person: PersonRecord) -> PersonRecord | None:
        def late(s: Service) -> Service:
            base = s.start_date if s.application_date is None else max(s.start_date, s.application_date)
            return replace(s, decision_date=base + self.days(1, 30))

        return self.alter_service(person, lambda s: True, _OTHER_SERVICES[0], late)

    def decision_before_application(self, person: PersonRecord) -> PersonRecord | None:
        def early(s: Service) -> Service:
            decision = s.decision_date if s.decision_date is not None else s.start_date - self.days(0, 14)
            return replace(s, decision_date=decision, application_date=decision + self.days(1, 10))

        return self.alter_service(person, lambda s: True, _OTHER_SERVICES[0], early)

    def hours_out_of_range(self, person: PersonRecord) -> PersonRecord | None:
        value = self.rng.choice(_BAD_HOURS)
        return self.alter_service(
            person, lambda s: s.tjeneste_type in c.HOURLY_SERVICES, 1, lambda s: replace(s, hours_per_week=value)
        )

    def hours_missing(self, person: PersonRecord) -> PersonRecord | None:
        return self.alter_service(
            person, lambda s: s.tjeneste_type in c.HOURLY_SERVICES, 15, lambda s: replace(s, hours_per_week=None)
        )

    def hours_not_applicable(self, person: PersonRecord) -> PersonRecord | None:
        value = float(self.rng.randint(1, 10))
        return self.alter_service(
            person,
            lambda s: s.tjeneste_type in SERVICE_TYPES and s.tjeneste_type not in c.HOURLY_SERVICES,
            6,
            lambda s: replace(s, hours_per_week=value),
        )

    def _needs_org(self, s: Service) -> bool:
        return s.tjeneste_type in SERVICE_TYPES and s.tjeneste_type not in c.NO_ORG_NR_SERVICES

    def org_nr_missing(self, person: PersonRecord) -> PersonRecord | None:
        return self.alter_service(person, self._needs_org, 6, lambda s: replace(s, org_nr=None))

    def org_nr_invalid(self, person: PersonRecord) -> PersonRecord | None:
        def broken(s: Service) -> Service:
            return replace(s, org_nr=_broken_org_nr(s.org_nr or self.rng.choice(self.org_pool), self.rng))

        return self.alter_service(person, lambda s: self._needs_org(s) and s.org_nr is not None, 6, broken)

    def org_nr_not_applicable(self, person: PersonRecord) -> PersonRecord | None:
        org = self.rng.choice(self.org_pool)
        return self.alter_service(
            person,
            lambda s: s.tjeneste_type in c.NO_ORG_NR_SERVICES,
            self.rng.choice(sorted(c.NO_ORG_NR_SERVICES)),
            lambda s: replace(s, org_nr=org),
        )

    def long_term_overlap(self, person: PersonRecord) -> PersonRecord | None:
        latest = self.latest_start(person)
        if latest is None:
            return None
        services = list(person.services)
        stays = [s for s in services if s.tjeneste_type == c.LONG_TERM_STAY]
        if len(stays) > 1:
            return None
        if stays:
            stay = stays[0]
            low = max(stay.start_date, self.year_start)
            high = latest if stay.end_date is None else min(latest, stay.end_date)
            if high < low:
                return None
            start = low + self.days(0, (high - low).days)
        else:
            first = self.new_service(person, c.LONG_TERM_STAY, start=self.year_start - self.days(30, 400))
            if first is None:
                return None
            services.append(first)
            start = self.year_start + self.days(0, (latest - self.year_start).days)
        second = self.new_service(person, c.LONG_TERM_STAY, start=start)
        if second is None:
            return None
        services.append(second)
        return replace(person, services=tuple(services))

    def service_after_death(self, person: PersonRecord) -> PersonRecord | None:
        death = person.background.death_date
        starts = [s.start_date for s in person.services]
        if death is None:
            low = max([self.year_start, *starts])
            if low >= self.year_end:
                return None
            death = low + self.days(0, min(200, (self.year_end - low).days - 1))
        elif not (self.year_start <= death < self.year_end) or any(start > death for start in starts):
            return None
        start = death + self.days(1, min(30, (self.year_end - death).days))
        added = self.new_service(person, self.rng.choice(_OTHER_SERVICES), start=start)
        if added is None:
            return None
        return replace(
            person,
            services=(*person.services, added),
            background=replace(person.background, death_date=death),
        )

    def duplicate_service_id(self, person: PersonRecord) -> PersonRecord | None:
        donor = self.donor_service
        if donor is None:
            return None
        latest = self.latest_start(person)
        candidates = [
            s
            for s in donor.services
            if s.tjeneste_type != c.LONG_TERM_STAY and latest is not None and s.start_date <= latest
        ]
        if not candidates:
            return None
        self.donor_service = None
        return replace(person, services=(*person.services, self.rng.choice(candidates)))

    def conflicting_decisions(self, person: PersonRecord) -> PersonRecord | None:
        found = self.with_service(
            person,
            lambda s: s.tjeneste_type != c.LONG_TERM_STAY and s.decision_date is not None,
            _OTHER_SERVICES[0],
        )
        if found is None:
            return None
        services, index = found
        original = services[index]
        assert original.decision_date is not None
        decision = original.decision_date - self.days(1, 60)
        services.append(replace(original, decision_date=decision, application_date=None))
        return replace(person, services=tuple(services))

    # ---------------------------------------------------------------------- refusals, complaints

    def _known_type(self, person: PersonRecord) -> int:
        known = [s.tjeneste_type for s in person.services if s.tjeneste_type in SERVICE_TYPES]
        return self.rng.choice(known) if known else 1

    def refusal_or_complaint_after_year(self, person: PersonRecord) -> PersonRecord | None:
        later = self.year_end + self.days(1, 60)
        service_type = self._known_type(person)
        if self.rng.random() < 0.5:
            refusal = Refusal(service_type, later - self.days(0, 30), later)
            return replace(person, refusals=(*person.refusals, refusal))
        complaint = Complaint(service_type, later, "under-behandling")
        return replace(person, complaints=(*person.complaints, complaint))

    # ------------------------------------------------------------------------------------- coercion

    def _coercion(self, person: PersonRecord) -> tuple[list[Coercion], int]:
        decisions = list(person.coercion)
        if decisions:
            return decisions, self.rng.randrange(len(decisions))
        decision = self.year_start + self.days(0, 200)
        start = decision + self.days(0, 14)
        decisions.append(Coercion(f"{person.bruker_nr}-TF", "HOL9", decision, start, start + self.days(30, 90)))
        return decisions, 0

    def coercion_start_after_end(self, person: PersonRecord) -> PersonRecord | None:
        decisions, i = self._coercion(person)
        chosen = decisions[i]
        end = chosen.start_date - self.days(1, 30)
        decisions[i] = replace(chosen, end_date=end)
        return replace(person, coercion=tuple(decisions))


_MUTATIONS: dict[FaultKind, _Mutation] = {
    FaultKind.IDENTITY_REFUSED: _Injector.identity_refused,
    FaultKind.DUPLICATE_PERSON: _Injector.duplicate_person,
    FaultKind.BIRTH_YEAR: _Injector.birth_year,
    FaultKind.DATE_BEFORE_1900: _Injector.date_before_1900,
    FaultKind.DEATH_AFTER_YEAR: _Injector.death_after_year,
    FaultKind.HOUSING_UNKNOWN: _Injector.housing_unknown,
    FaultKind.HOUSEHOLD_UNKNOWN: _Injector.household_unknown,
    FaultKind.ASSESSMENT_AFTER_YEAR: _Injector.assessment_after_year,
    FaultKind.SCORE_INVALID: _Injector.score_invalid,
    FaultKind.SCORE_REPEATED: _Injector.score_repeated,
    FaultKind.SERVICE_TYPE_UNKNOWN: _Injector.service_type_unknown,
    FaultKind.START_AFTER_END: _Injector.start_after_end,
    FaultKind.OUTSIDE_YEAR: _Injector.outside_year,
    FaultKind.DECISION_AFTER_START: _Injector.decision_after_start,
    FaultKind.DECISION_BEFORE_APPLICATION: _Injector.decision_before_application,
    FaultKind.HOURS_OUT_OF_RANGE: _Injector.hours_out_of_range,
    FaultKind.HOURS_MISSING: _Injector.hours_missing,
    FaultKind.HOURS_NOT_APPLICABLE: _Injector.hours_not_applicable,
    FaultKind.ORG_NR_MISSING: _Injector.org_nr_missing,
    FaultKind.ORG_NR_INVALID: _Injector.org_nr_invalid,
    FaultKind.ORG_NR_NOT_APPLICABLE: _Injector.org_nr_not_applicable,
    FaultKind.LONG_TERM_OVERLAP: _Injector.long_term_overlap,
    FaultKind.SERVICE_AFTER_DEATH: _Injector.service_after_death,
    FaultKind.DUPLICATE_SERVICE_ID: _Injector.duplicate_service_id,
    FaultKind.CONFLICTING_DECISIONS: _Injector.conflicting_decisions,
    FaultKind.REFUSAL_OR_COMPLAINT_AFTER_YEAR: _Injector.refusal_or_complaint_after_year,
    FaultKind.COERCION_START_AFTER_END: _Injector.coercion_start_after_end,
}


def inject_faults(
    records: Iterable[PersonRecord],
    *,
    year: int,
    rate: float,
    rng: random.Random,
    kinds: Iterable[FaultKind] | None = None,
) -> tuple[Iterator[PersonRecord], AnswerKey]:
    """Wrap ``records`` (clean persons of reporting year ``year``) so that about ``rate`` of them carry one
    fault each; returns the lazy stream and its answer key, complete once the stream is exhausted.

    ``kinds`` restricts the fault kinds (default: all of ``FaultKind``). See the module docstring for how
    persons and kinds are chosen. The input must be clean (no control findings) for the key to be exact.
    """
    if not (isinstance(rate, int | float) and math.isfinite(rate) and 0.0 <= rate <= 1.0):
        raise ValueError("rate must be a number within 0-1")
    order = list(dict.fromkeys(FaultKind if kinds is None else kinds))
    if not order:
        raise ValueError("kinds must not be empty")
    key = AnswerKey(year=year, rate=float(rate))

    def stream() -> Iterator[PersonRecord]:
        if rate == 0:
            yield from records
            key.complete = True
            return
        injector = _Injector(year, rng)
        rng.shuffle(order)
        offset = rng.random()
        due = 0
        turn = 0
        for index, person in enumerate(records):
            if math.floor((index + 1) * rate + offset) > math.floor(index * rate + offset):
                due += 1
            if due:
                kind = order[turn % len(order)]
                mutated = _MUTATIONS[kind](injector, person)
                if mutated is not None:
                    key.add(person.bruker_nr, kind)
                    due -= 1
                    turn += 1
                    yield mutated
                    continue
            injector.observe_clean(person)
            yield person
        key.complete = True

    return stream(), key
