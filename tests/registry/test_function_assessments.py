"""A person's function scores become function_assessments rows (ADR 0015): the one-pass common case gives what
the general grouping gives, and no score is lost or invented whatever the scores are."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from services.registry_intake.models import FUNCTION_COLUMNS
from services.registry_intake.repository.bulk import _assessment_rows, _assessment_rows_by_day
from shared.iplos.model import FUNCTION_VARIABLES, FunctionScore

DAYS = [dt.date(2025, 3, 1), dt.date(2025, 3, 2), dt.date(2025, 9, 30)]
VARIABLES = [*FUNCTION_VARIABLES, "nyVariabel"]

scores_strategy = st.lists(
    st.builds(FunctionScore, st.sampled_from(VARIABLES), st.integers(0, 9), st.sampled_from(DAYS)), min_size=1
)


def rows_of(scores: list[FunctionScore], grouping: Any) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    other: dict[str, list[tuple[Any, ...]]] = {"other_function_scores": []}
    days = {day: day.isoformat() for day in DAYS}
    return grouping("sid", "ref", scores, days, other), other["other_function_scores"]


def scores_in(rows: list[tuple[Any, ...]], other: list[tuple[Any, ...]]) -> Counter[tuple[str, int, str]]:
    """Every (variable, score, day) the rows hold."""
    found: Counter[tuple[str, int, str]] = Counter()
    for _sid, _ref, day, _ordinal, *columns in rows:
        for variable, value in zip(FUNCTION_COLUMNS, columns, strict=True):
            if value is not None:
                found[(variable, value, day)] += 1
    for _sid, _ref, variable, value, day in other:
        found[(variable, value, day)] += 1
    return found


@given(scores_strategy)
def test_every_score_is_in_exactly_one_place(scores: list[FunctionScore]) -> None:
    rows, other = rows_of(scores, _assessment_rows)
    assert scores_in(rows, other) == Counter((s.variable, s.score, s.date.isoformat()) for s in scores)
    # A day's rows are numbered from 0 without a gap, and no two rows share a key.
    keys = [(day, ordinal) for _s, _r, day, ordinal, *_ in rows]
    assert len(keys) == len(set(keys))
    for day in {day for day, _ in keys}:
        assert sorted(n for d, n in keys if d == day) == list(range(sum(1 for d, _ in keys if d == day)))


@given(scores_strategy)
def test_the_one_pass_case_agrees_with_the_grouping(scores: list[FunctionScore]) -> None:
    assert rows_of(scores, _assessment_rows) == rows_of(scores, _assessment_rows_by_day)


def test_a_valid_assessment_is_one_row() -> None:
    scores = [FunctionScore(v, i % 6, DAYS[0]) for i, v in enumerate(FUNCTION_VARIABLES)]
    rows, other = rows_of(scores, _assessment_rows)
    assert rows == [("sid", "ref", "2025-03-01", 0, *(i % 6 for i in range(17)))]
    assert other == []
