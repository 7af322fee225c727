"""One person's traits, each drawn on its own: age and birth date, diagnoses, function scores, the service
mix, hours per week and the event type of a service line."""

from __future__ import annotations

import calendar
import datetime as dt
import random
from math import cos as _cos
from math import log as _log
from math import sin as _sin
from math import sqrt as _sqrt
from math import tau as _tau  # random.py multiplies by this (its TWOPI)

from iplos_testkit.generator._draws import Weighted, randint
from iplos_testkit.generator._tables import (
    DEMENTIA_VARIABLES,
    ELDERLY_DIAGNOSES,
    HOURS_RANGE,
    SCORE_OFFSET,
    YOUNGER_DIAGNOSES,
)
from shared.iplos.model import FUNCTION_VARIABLES, CodeSystem, Diagnosis, FunctionScore

# The diagnosis tables as weighted draws (random.choices would add the weights up on every draw).
_ELDERLY_DIAGNOSES = Weighted(ELDERLY_DIAGNOSES, [row[3] for row in ELDERLY_DIAGNOSES])
_YOUNGER_DIAGNOSES = Weighted(YOUNGER_DIAGNOSES, [row[3] for row in YOUNGER_DIAGNOSES])


def draw_hours(service_type: int, need: float, rng: random.Random) -> float | None:
    limits = HOURS_RANGE.get(service_type)
    if limits is None:
        return None
    low, high = limits
    # Skewed towards the low end, heavier with need; whole half-hours, as municipalities register them.
    raw = low + (high - low) * float(rng.random() ** 1.8) * (0.4 + 0.6 * need)
    return max(low, round(raw * 2) / 2)


def draw_age(rng: random.Random) -> int:
    if rng.random() < 0.76:
        # 67-104, mode in the mid-eighties.
        return round(rng.triangular(67, 104, 86))
    # Younger users: some children (respite, support contact), mostly adults.
    return randint(rng, 3, 17) if rng.random() < 0.15 else randint(rng, 18, 66)


def draw_birth_date(year: int, age: int, rng: random.Random) -> dt.date:
    # Age at the end of the reporting year.
    birth_year = year - age
    last_day = 365 if calendar.isleap(birth_year) else 364  # days from 1 January to 31 December
    return dt.date.fromordinal(dt.date(birth_year, 1, 1).toordinal() + randint(rng, 0, last_day))


def draw_diagnoses(elderly: bool, rng: random.Random) -> tuple[tuple[Diagnosis, ...], bool]:
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
        system, code, is_dementia, _weight = table.draw(rng)
        if system is not preferred and rng.random() < 0.8:
            continue
        chosen.setdefault(code, Diagnosis(system, code))
        dementia = dementia or is_dementia
    return tuple(chosen.values()), dementia


# Household tasks a young child is not expected to do.
_HOUSEHOLD_TASKS = ("alminneligHusarbeid", "lageMat")


def draw_scores(
    need: float, age: int, dementia: bool, assessed: dt.date, rng: random.Random
) -> tuple[FunctionScore, ...]:
    roll = rng.random()
    if roll < 0.05:
        return ()  # not yet assessed (an applicant, a short stay)
    variables: tuple[str, ...] = FUNCTION_VARIABLES
    if roll < 0.12:
        variables = tuple(sorted(rng.sample(FUNCTION_VARIABLES, randint(rng, 5, 16)), key=FUNCTION_VARIABLES.index))
    mean_of_need = 1.0 + 4.0 * need  # the mean's first two terms, summed in the order they always were
    uniform = rng.random
    young_child = age < 12
    # rng.gauss(mean, 0.75), inlined (a third of this function's time was its call): Python 3.11's gauss makes
    # deviates in pairs from two uniforms and keeps the second in rng.gauss_next for the next call. The loop
    # reads and writes that attribute the same way, so the draws and the generator's state stay the same.
    spare: float | None = rng.gauss_next  # type: ignore[attr-defined]  # random.Random's, not in typeshed
    scores = []
    for variable in variables:
        if uniform() < 0.02 or (young_child and variable in _HOUSEHOLD_TASKS and uniform() < 0.7):
            value = 9  # not relevant
        else:
            mean = mean_of_need + SCORE_OFFSET[variable]
            if dementia and variable in DEMENTIA_VARIABLES:
                mean += 1.2
            if spare is None:
                angle = uniform() * _tau
                radius = _sqrt(-2.0 * _log(1.0 - uniform()))
                deviate, spare = _cos(angle) * radius, _sin(angle) * radius
            else:
                deviate, spare = spare, None
            value = round(mean + deviate * 0.75)
            value = 1 if value < 1 else 5 if value > 5 else value
        scores.append(FunctionScore(variable, value, assessed))
    rng.gauss_next = spare  # type: ignore[attr-defined]
    return tuple(scores)


def draw_service_types(age: int, need: float, dementia: bool, developmental: bool, rng: random.Random) -> list[int]:
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


def draw_event_type(rng: random.Random) -> str:
    roll = rng.random()
    return "M" if roll < 0.03 else "T" if roll < 0.04 else "N"
