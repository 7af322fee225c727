"""Faults in the function scores: a score outside the scale, a variable assessed twice."""

from __future__ import annotations

from dataclasses import replace

from iplos_testkit.faults._injector import Injector
from shared.iplos.model import VALID_SCORES, FunctionScore, PersonRecord

# Values outside the scale, each still valid for the export's lexical type.
_INVALID_SCORES = tuple(v for v in (0, 6, 7, 8) if v not in VALID_SCORES)


def score_invalid(injector: Injector, person: PersonRecord) -> PersonRecord | None:
    value = injector.rng.choice(_INVALID_SCORES)
    scores = list(person.function_scores)
    if scores:
        i = injector.rng.randrange(len(scores))
        scores[i] = replace(scores[i], score=value)
    else:
        scores.append(FunctionScore("hukommelse", value, injector.year_start + injector.days(0, 300)))
    return replace(person, function_scores=tuple(scores))


def score_repeated(injector: Injector, person: PersonRecord) -> PersonRecord | None:
    scores = list(person.function_scores)
    if len(scores) >= 2:
        # Rename a later score to an earlier one's variable: the count stays within the schema's 17.
        first, second = sorted(injector.rng.sample(range(len(scores)), 2))
        scores[second] = replace(scores[second], variable=scores[first].variable)
    elif scores:
        scores.append(replace(scores[0], score=injector.rng.choice((1, 2, 3))))
    else:
        date = injector.year_start + injector.days(0, 300)
        scores = [FunctionScore("syn", 1, date), FunctionScore("syn", 2, date)]
    return replace(person, function_scores=tuple(scores))
