"""A resubmission of the same municipality-year: one plausible correction or change to a person."""

from __future__ import annotations

import random
from dataclasses import replace

from iplos_testkit.generator._context import clamp
from iplos_testkit.generator._person import PersonMaker
from shared.iplos.model import PersonRecord


def vary_person(maker: PersonMaker, person: PersonRecord, rng: random.Random) -> PersonRecord:
    """One plausible correction or change, as between two submissions of the same year."""
    services = list(person.services)
    death = person.background.death_date
    choice = rng.random()
    ongoing = [i for i, s in enumerate(services) if s.end_date is None]
    if choice < 0.35 and ongoing:
        index = rng.choice(ongoing)
        service = services[index]
        end = maker.context.day_in_year(rng, not_after=death)
        services[index] = replace(service, end_date=max(end, service.start_date))
    elif choice < 0.65:
        service_type = rng.choice((15, 1, 6, 27, 4))
        need = rng.random()
        # A person's own services are numbered from 1 (a death may leave gaps); a variant adds at most one
        # service per person, numbered apart from them, so its id can't repeat one of theirs.
        number = 100
        added = maker.service(person.bruker_nr, number, service_type, need, rng)
        if death is not None:
            added = replace(added, start_date=min(added.start_date, death), end_date=death)
            if added.decision_date is not None and added.decision_date > added.start_date:
                added = replace(added, decision_date=added.start_date, application_date=None)
        services.append(added)
    elif choice < 0.85 and any(s.hours_per_week is not None for s in services):
        index = rng.choice([i for i, s in enumerate(services) if s.hours_per_week is not None])
        hours = services[index].hours_per_week or 1.0
        new_hours = clamp(hours + rng.choice((-1.0, 0.5, 1.5)), 0.5, 40.0)
        services[index] = replace(services[index], hours_per_week=new_hours)
    elif person.function_scores:
        scores = list(person.function_scores)
        index = rng.randrange(len(scores))
        old = scores[index]
        new_score = old.score if old.score == 9 else int(clamp(old.score + rng.choice((-1, 1)), 1, 5))
        scores[index] = replace(old, score=new_score)
        return replace(person, function_scores=tuple(scores))
    return replace(person, services=tuple(services))
