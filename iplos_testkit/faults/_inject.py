"""``inject_faults``: which persons carry a fault, which kind each gets, and the answer key filled on the way
(the package docstring says why it is chosen so)."""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Iterator

from iplos_testkit.faults._answer_key import AnswerKey
from iplos_testkit.faults._background import (
    assessment_after_year,
    date_before_1900,
    death_after_year,
    household_unknown,
    housing_unknown,
)
from iplos_testkit.faults._business import unit_deleted, unit_elsewhere, unit_not_care, unit_not_in_register
from iplos_testkit.faults._decisions import coercion_start_after_end, refusal_or_complaint_after_year
from iplos_testkit.faults._identity import birth_year, duplicate_person, identity_refused
from iplos_testkit.faults._injector import Injector, Mutation
from iplos_testkit.faults._kinds import BUSINESS_KINDS, PAYLOAD_KINDS, FaultKind
from iplos_testkit.faults._scores import score_invalid, score_repeated
from iplos_testkit.faults._services import (
    conflicting_decisions,
    decision_after_start,
    decision_before_application,
    duplicate_service_id,
    hours_missing,
    hours_not_applicable,
    hours_out_of_range,
    long_term_overlap,
    org_nr_invalid,
    org_nr_missing,
    org_nr_not_applicable,
    outside_year,
    service_after_death,
    service_type_unknown,
    start_after_end,
)
from shared.iplos.model import PersonRecord

_MUTATIONS: dict[FaultKind, Mutation] = {
    FaultKind.IDENTITY_REFUSED: identity_refused,
    FaultKind.DUPLICATE_PERSON: duplicate_person,
    FaultKind.BIRTH_YEAR: birth_year,
    FaultKind.DATE_BEFORE_1900: date_before_1900,
    FaultKind.DEATH_AFTER_YEAR: death_after_year,
    FaultKind.HOUSING_UNKNOWN: housing_unknown,
    FaultKind.HOUSEHOLD_UNKNOWN: household_unknown,
    FaultKind.ASSESSMENT_AFTER_YEAR: assessment_after_year,
    FaultKind.SCORE_INVALID: score_invalid,
    FaultKind.SCORE_REPEATED: score_repeated,
    FaultKind.SERVICE_TYPE_UNKNOWN: service_type_unknown,
    FaultKind.START_AFTER_END: start_after_end,
    FaultKind.OUTSIDE_YEAR: outside_year,
    FaultKind.DECISION_AFTER_START: decision_after_start,
    FaultKind.DECISION_BEFORE_APPLICATION: decision_before_application,
    FaultKind.HOURS_OUT_OF_RANGE: hours_out_of_range,
    FaultKind.HOURS_MISSING: hours_missing,
    FaultKind.HOURS_NOT_APPLICABLE: hours_not_applicable,
    FaultKind.ORG_NR_MISSING: org_nr_missing,
    FaultKind.ORG_NR_INVALID: org_nr_invalid,
    FaultKind.ORG_NR_NOT_APPLICABLE: org_nr_not_applicable,
    FaultKind.LONG_TERM_OVERLAP: long_term_overlap,
    FaultKind.SERVICE_AFTER_DEATH: service_after_death,
    FaultKind.DUPLICATE_SERVICE_ID: duplicate_service_id,
    FaultKind.CONFLICTING_DECISIONS: conflicting_decisions,
    FaultKind.REFUSAL_OR_COMPLAINT_AFTER_YEAR: refusal_or_complaint_after_year,
    FaultKind.COERCION_START_AFTER_END: coercion_start_after_end,
    FaultKind.UNIT_NOT_IN_REGISTER: unit_not_in_register,
    FaultKind.UNIT_DELETED: unit_deleted,
    FaultKind.UNIT_NOT_CARE: unit_not_care,
    FaultKind.UNIT_ELSEWHERE: unit_elsewhere,
}


def inject_faults(
    records: Iterable[PersonRecord],
    *,
    year: int,
    rate: float,
    rng: random.Random,
    kinds: Iterable[FaultKind] | None = None,
    municipality: str | None = None,
) -> tuple[Iterator[PersonRecord], AnswerKey]:
    """Wrap ``records`` (clean persons of reporting year ``year``) so that about ``rate`` of them carry one
    fault each; returns the lazy stream and its answer key, complete once the stream is exhausted.

    ``kinds`` restricts the fault kinds (default: ``PAYLOAD_KINDS``, which the payload controls find wherever the
    export goes; ``BUSINESS_KINDS`` need the registry's copy of Enhetsregisteret, and ``municipality``, the
    export's, whose units added services are given). See the module docstring for how persons and kinds are
    chosen. The input must be clean (no control findings) for the key to be exact.
    """
    if not (isinstance(rate, int | float) and math.isfinite(rate) and 0.0 <= rate <= 1.0):
        raise ValueError("rate must be a number within 0-1")
    order = list(dict.fromkeys(PAYLOAD_KINDS if kinds is None else kinds))
    if not order:
        raise ValueError("kinds must not be empty")
    if municipality is None and any(kind in BUSINESS_KINDS for kind in order):
        raise ValueError("the business register's fault kinds need the export's municipality")
    key = AnswerKey(year=year, rate=float(rate))

    def stream() -> Iterator[PersonRecord]:
        if rate == 0:
            yield from records
            key.complete = True
            return
        injector = Injector(year, rng, municipality)
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
