"""The bench's measure of a year's replacement as the years stored grow (iplos_testkit/bench/registry_years.py),
run small: it fills a fresh PostgreSQL database year by year, replaces one municipality's year after each step,
and says which plans the replacement's statements take."""

from __future__ import annotations

import pytest

from iplos_testkit.bench.registry_years import measure_registry_years
from tests.postgres import postgres_server_url

pytestmark = pytest.mark.postgres


def test_the_replacement_of_a_year_is_measured_after_each_step_of_years_stored() -> None:
    figures = measure_registry_years(postgres_server_url(), persons_per_year=300, steps=(1, 3), seed=5)
    steps = figures["steps"]
    assert [step["years_stored"] for step in steps] == [1, 3]
    assert [step["persons_stored"] for step in steps] == [300, 900]
    assert all(step["replaced_persons"] == 30 and step["replace_wall_s"] > 0 for step in steps)
    assert figures["wall_ratio_last_to_first"] > 0
    assert figures["database"] is None  # dropped
    # The deletes of the previous submission's rows find them by index, whatever the planner makes of tiny tables.
    assert "pk_function_assessments" in " ".join(figures["plans"]["cascade to a child"])


def test_steps_must_grow_from_one_year() -> None:
    for steps in ((), (0, 1), (3, 2)):
        with pytest.raises(ValueError, match="steps"):
            measure_registry_years("postgresql+psycopg://nowhere.invalid/x", steps=steps)
