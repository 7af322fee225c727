"""A person's background: housing, household, unpaid help, assisted communication, the latest assessments by a
doctor and a dentist, an individual plan. Drawn after the services, which it follows."""

from __future__ import annotations

import datetime as dt
import random

from iplos_testkit.generator._context import ExportContext, plus
from iplos_testkit.generator._draws import randint
from iplos_testkit.generator._tables import COMMUNICATION, DEVELOPMENTAL
from shared.iplos.model import PersonBackground, Service


def draw_background(
    context: ExportContext,
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

    communication_chance = 0.35 if codes & COMMUNICATION else 0.05 if dementia else 0.015
    communication: bool | None = rng.random() < communication_chance
    if rng.random() < 0.05:
        communication = None

    # Seen by a doctor / by dental health staff: the date of the latest assessment (never after a death).
    def assessed(chance_in_year: float, chance_earlier: float) -> dt.date | None:
        roll = rng.random()
        if roll < chance_in_year:
            return context.day_in_year(rng, not_after=death)
        if roll < chance_in_year + chance_earlier:
            return plus(context.year_start, -randint(rng, 1, 700))
        return None

    if resident:
        doctor, dentist = assessed(0.95, 0.03), assessed(0.8, 0.1)
    elif elderly:
        doctor, dentist = assessed(0.35, 0.2), assessed(0.15, 0.15)
    else:
        doctor, dentist = assessed(0.2, 0.15), assessed(0.1, 0.15)

    plan_chance = 0.03 if elderly else 0.45 if codes & (DEVELOPMENTAL | COMMUNICATION) else 0.15
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
