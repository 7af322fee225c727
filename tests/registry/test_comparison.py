"""The comparison statistics (services/registry_intake/read/comparison*.py): computed by the registry from what it
stored (SQL sums per municipality, then areas), they equal an independent computation from the generated files
themselves (the exports, the register extracts and the answer key), for each municipality, its county and the
country; small cells are suppressed, with the complementary cells, in crafted tables. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import Engine

from iplos_testkit.comparison_truth import expected_indicators, flatten
from iplos_testkit.population import PopulationFiles, generate_population
from services.registry_intake.read.comparison import (
    ALL_AGES,
    AreaFigures,
    area_figures,
    comparison_year,
    document,
    national_cells,
)
from services.registry_intake.read.comparison_data import AGE_GROUPS, MunicipalityYear, year_statistics
from shared.iplos.municipalities import county_of
from tests.registry.register_data import store

# Two municipalities of one county (Vestland), and two more: every area level has more than one member somewhere.
MUNICIPALITIES = ("0301", "4601", "4602", "1103")
YEARS = (2024, 2025)
YEAR = 2025


@pytest.fixture(scope="module")
def population(tmp_path_factory: pytest.TempPathFactory) -> PopulationFiles:
    out = tmp_path_factory.mktemp("population")
    return generate_population(out, MUNICIPALITIES, YEARS, residents=400, seed=21, errors=0.05)


# ------------------------------------------------------------------------------------ the registry's, unsuppressed


def registry_figures(engine: Engine, year: int) -> dict[tuple[str, str], AreaFigures]:
    with engine.connect() as conn:
        data = year_statistics(conn, year)
    areas, cells, _ = national_cells(year, data)
    # Every count as it is (no suppression), to compare with the independent computation figure for figure.
    return {(a.level, a.code): area_figures(a, year, [data[m] for m in members], cells) for a, members in areas.items()}


@pytest.mark.parametrize("year", YEARS)
def test_every_indicator_equals_the_independent_computation(
    engine: Engine, population: PopulationFiles, year: int
) -> None:
    store(engine, population)
    figures = registry_figures(engine, year)
    vestland = [m for m in MUNICIPALITIES if county_of(m, year) == "46"]
    assert len(vestland) == 2
    expected_areas = {("municipality", m): [m] for m in MUNICIPALITIES}
    expected_areas[("county", "46")] = vestland
    expected_areas[("country", "NO")] = list(MUNICIPALITIES)
    for key, members in expected_areas.items():
        got = flatten(document(figures[key]).model_dump(mode="json"))
        expected = expected_indicators(population, year, members)
        assert {k for k, v in got.items() if v is not None} == set(expected), key
        for name, value in expected.items():
            assert got[name] == pytest.approx(value, abs=0.006), (key, name)
        # Every kind of indicator is there to compare: rates, shares, hours, scores, days and findings.
        assert {name.split("/")[0] for name in expected} >= {
            "per_1000", "share_80_plus", "hours_mean", "hours_median", "share_long_term", "score_mean",
            "days_to_decision_median", "share_individual_plan", "findings_rate",
        }  # fmt: skip
    assert set(figures) == set(expected_areas) | {("county", "03"), ("county", "11")}


def test_the_national_picture_is_suppressed_and_matches_the_computation_where_shown(
    engine: Engine, population: PopulationFiles
) -> None:
    store(engine, population)
    with engine.connect() as conn:
        data = year_statistics(conn, YEAR)
    document = comparison_year(YEAR, data)
    raw = registry_figures(engine, YEAR)
    assert [a.level for a in document.areas][:1] == ["country"]
    for area in document.areas:
        plain = raw[(area.level, area.code)]
        for kind, row in area.per_1000.items():
            for age, figure in row.items():
                if figure.value is not None:  # what is shown is the true figure
                    assert figure.value == plain.per_1000[int(kind)][age].value
                else:
                    assert figure.note in ("suppressed", "no-register")


# ------------------------------------------------------------------------------------ suppression, crafted


def _municipality(m: str, recipients: dict[tuple[int, str], int], *, plan: int = 0) -> MunicipalityYear:
    stats = MunicipalityYear(m, records=sum(n for (k, _), n in recipients.items() if k == 0))
    stats.recipients.update(recipients)
    stats.inhabitants = Counter({age: 1000 for age in AGE_GROUPS})
    stats.individual_plan = plan
    return stats


def _shown(data: dict[str, MunicipalityYear]) -> dict[tuple[str, str], object]:
    areas, _, shown = national_cells(YEAR, data)
    return {(a.level, a.code): area_figures(a, YEAR, [data[m] for m in ms], shown) for a, ms in areas.items()}


def _any(counts: tuple[int, int, int, int]) -> dict[tuple[int, str], int]:
    return {(0, age): n for age, n in zip(AGE_GROUPS, counts, strict=True)}


def test_a_small_age_group_is_hidden_with_a_second_one_so_the_total_gives_neither_away() -> None:
    # Oslo alone in its county: 3 persons aged 0-66 (hidden), and the total shown: a second age group must go too.
    figures = _shown({"0301": _municipality("0301", _any((3, 40, 60, 50)))})
    row = figures[("municipality", "0301")].per_1000[0]  # type: ignore[attr-defined]
    # 3 is hidden, and with it the smallest other count of the group (67-79, 40): two unknowns, one equation.
    assert [age for age in AGE_GROUPS if row[age].value is None] == ["0-66", "67-79"]
    assert {row[age].note for age in ("0-66", "67-79")} == {"suppressed"}
    assert row["80-89"].value == 60.0
    assert row[ALL_AGES].value == 153.0 / 4  # 153 persons per 4,000 inhabitants, in 1,000s
    # 80 and over (80-89 + 90+) is shown: both its parts are, and the hidden two stay two.
    assert figures[("municipality", "0301")].share_80_plus.value == round(100 * 110 / 153, 2)  # type: ignore[attr-defined]


def test_a_small_municipality_is_hidden_with_a_neighbour_so_the_county_gives_neither_away() -> None:
    # Vestland: 4601 with 2 persons with an individual plan (hidden), 4602 with 30 (shown alone), the county 32.
    data = {
        "4601": _municipality("4601", _any((10, 20, 30, 40)), plan=2),
        "4602": _municipality("4602", _any((10, 20, 30, 40)), plan=30),
        "1103": _municipality("1103", _any((10, 20, 30, 40)), plan=25),
    }
    figures = _shown(data)
    plan = {key: f.share_individual_plan.value for key, f in figures.items()}  # type: ignore[attr-defined]
    # 4601's 2 is hidden, and with it 4602 (the smaller of the county's others): the county (32) says only their sum.
    assert plan == {
        ("municipality", "4601"): None,
        ("municipality", "4602"): None,
        ("municipality", "1103"): 25.0,
        ("county", "46"): 16.0,
        ("county", "11"): 25.0,
        ("country", "NO"): 19.0,
    }


def test_means_and_medians_of_fewer_than_five_persons_are_hidden() -> None:
    stats = _municipality("0301", _any((10, 20, 30, 40)))
    stats.hours[15].update({4.0: 3, 6.0: 1})
    stats.hours_persons[15] = 4
    stats.days.update({10: 9})
    stats.days_persons = 5
    stats.scores["home"] = (12.0, 4)
    figures = _shown({"0301": stats})[("municipality", "0301")]
    assert figures.hours_median[15].note == "suppressed"  # type: ignore[attr-defined]
    assert figures.hours_mean[15].note == "suppressed"  # type: ignore[attr-defined]
    assert figures.days_to_decision_median.value == 10.0  # type: ignore[attr-defined]
    assert figures.score_mean["home"].note == "suppressed"  # type: ignore[attr-defined]
    assert figures.hours_median[1].note == "no-data"  # type: ignore[attr-defined]


def test_without_the_register_extract_no_rate_per_inhabitant_is_shown() -> None:
    stats = _municipality("0301", _any((10, 20, 30, 40)))
    stats.inhabitants = None
    figures = _shown({"0301": stats, "4601": _municipality("4601", _any((10, 20, 30, 40)))})
    assert figures[("municipality", "0301")].per_1000[0][ALL_AGES].note == "no-register"  # type: ignore[attr-defined]
    # The country's rate would leave Oslo's recipients out of its numerator or its inhabitants out: none.
    assert figures[("country", "NO")].per_1000[0][ALL_AGES].note == "no-register"  # type: ignore[attr-defined]
    assert figures[("municipality", "4601")].per_1000[0][ALL_AGES].value == 25.0  # type: ignore[attr-defined]
