"""The comparison statistics (services/registry_intake/read/comparison*.py): computed by the registry from what it
stored (SQL sums per municipality, then areas), they equal an independent computation from the generated files
themselves (the exports, the register extracts and the answer key), for each municipality, its county and the
country; small cells are suppressed, with the complementary cells, in crafted tables. On SQLite and PostgreSQL."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import pytest
from sqlalchemy import Engine

from iplos_testkit.population import REPORTED_AS, PopulationFiles, generate_population
from services.registry_intake.read.comparison import (
    ALL_AGES,
    area_figures,
    comparison_year,
    national_cells,
)
from services.registry_intake.read.comparison_data import AGE_GROUPS, MunicipalityYear, year_statistics
from shared import fnr
from shared.iplos.controls import REGISTRY_ONLY_CODES
from shared.iplos.municipalities import county_of
from shared.iplos.reader import read_export
from shared.population import read_extract
from tests.registry.register_data import store

# Two municipalities of one county (Vestland), and two more: every area level has more than one member somewhere.
MUNICIPALITIES = ("0301", "4601", "4602", "1103")
YEARS = (2024, 2025)
YEAR = 2025


@pytest.fixture(scope="module")
def population(tmp_path_factory: pytest.TempPathFactory) -> PopulationFiles:
    out = tmp_path_factory.mktemp("population")
    return generate_population(out, MUNICIPALITIES, YEARS, residents=400, seed=21, errors=0.05)


# ------------------------------------------------------------------------------------ the independent computation


def _age(year: int, birth_year: int) -> str:
    age = year - birth_year
    return "0-66" if age <= 66 else "67-79" if age <= 79 else "80-89" if age <= 89 else "90+"


@dataclass
class Truth:
    """One area's indicators computed from the files: plain Python over the persons, no registry code."""

    records: int = 0
    recipients: Counter[tuple[int, str]] = field(default_factory=Counter)
    inhabitants: Counter[str] = field(default_factory=Counter)
    hours: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    days: list[int] = field(default_factory=list)
    plan: int = 0
    scores: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    findings: Counter[str] = field(default_factory=Counter)


def truth_of(population: PopulationFiles, year: int, municipalities: Iterable[str]) -> Truth:
    truth = Truth()
    faults = {(f.municipality, f.bruker_nr): REPORTED_AS[f.kind] for f in population.faults if f.year == year}
    for m in municipalities:
        with read_export(population.exports[(year, m)]) as reader:
            for person in reader:
                truth.records += 1
                code = faults.get((m, person.bruker_nr))
                if code is not None and code not in REGISTRY_ONLY_CODES:
                    truth.findings[code] += 1
                try:
                    born = fnr.parse(person.fid).birth_year
                except fnr.InvalidIdentityNumber:
                    continue
                age = _age(year, born)
                truth.recipients[(0, age)] += 1
                for kind in {s.tjeneste_type for s in person.services}:
                    truth.recipients[(kind, age)] += 1
                for s in person.services:
                    if s.tjeneste_type in (1, 15) and s.hours_per_week is not None:
                        truth.hours[s.tjeneste_type].append(s.hours_per_week)
                    if s.application_date and s.decision_date and s.decision_date >= s.application_date:
                        truth.days.append((s.decision_date - s.application_date).days)
                truth.plan += person.background.individual_plan is True
                if person.function_scores:
                    last = max(score.date for score in person.function_scores)
                    scored = [f.score for f in person.function_scores if f.date == last and 1 <= f.score <= 5]
                    if scored:
                        where = "institution" if any(s.tjeneste_type == 21 for s in person.services) else "home"
                        truth.scores[where].append(sum(scored) / len(scored))
        with population.registers[(year, m)].open("rb") as handle:
            _, people = read_extract(handle)
            for resident in people:
                if resident.birth_year is not None:
                    truth.inhabitants[_age(year, resident.birth_year)] += 1
    return truth


# ------------------------------------------------------------------------------------ the registry's, unsuppressed


def registry_figures(engine: Engine, year: int) -> dict[tuple[str, str], object]:
    with engine.connect() as conn:
        data = year_statistics(conn, year)
    areas, cells, _ = national_cells(year, data)
    # Every count as it is (no suppression), to compare with the truth figure for figure.
    return {(a.level, a.code): area_figures(a, year, [data[m] for m in members], cells) for a, members in areas.items()}


def _close(value: float | None, expected: float) -> bool:
    return value is not None and abs(value - round(expected, 2)) < 0.006


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
        got = figures[key]
        truth = truth_of(population, year, members)
        total = sum(truth.recipients[(0, a)] for a in AGE_GROUPS)
        assert got.recipients == total, key  # type: ignore[attr-defined]
        per_1000 = got.per_1000  # type: ignore[attr-defined]
        for (kind, age), n in truth.recipients.items():
            assert _close(per_1000[kind][age].value, 1000 * n / truth.inhabitants[age]), (key, kind, age)
        for kind in {k for k, _ in truth.recipients}:
            n = sum(truth.recipients[(kind, a)] for a in AGE_GROUPS)
            assert _close(per_1000[kind][ALL_AGES].value, 1000 * n / sum(truth.inhabitants.values())), (key, kind)
        eighty = truth.recipients[(0, "80-89")] + truth.recipients[(0, "90+")]
        assert _close(got.share_80_plus.value, 100 * eighty / total)  # type: ignore[attr-defined]
        long_term = sum(truth.recipients[(21, a)] for a in AGE_GROUPS)
        assert _close(got.share_long_term.value, 100 * long_term / total)  # type: ignore[attr-defined]
        assert _close(got.share_individual_plan.value, 100 * truth.plan / total)  # type: ignore[attr-defined]
        for kind in (1, 15):
            assert _close(got.hours_mean[kind].value, statistics.fmean(truth.hours[kind]))  # type: ignore[attr-defined]
            assert _close(got.hours_median[kind].value, statistics.median(truth.hours[kind]))  # type: ignore[attr-defined]
        assert _close(got.days_to_decision_median.value, statistics.median(truth.days))  # type: ignore[attr-defined]
        for where in ("home", "institution"):
            assert _close(got.score_mean[where].value, statistics.fmean(truth.scores[where])), (key, where)  # type: ignore[attr-defined]
        assert set(got.findings_rate) == set(truth.findings), key  # type: ignore[attr-defined]
        for code, n in truth.findings.items():
            assert _close(got.findings_rate[code].value, 100 * n / truth.records), (key, code)  # type: ignore[attr-defined]
    assert {key for key in figures} == set(expected_areas) | {("county", "03"), ("county", "11")}


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
                    assert figure.value == plain.per_1000[int(kind)][age].value  # type: ignore[attr-defined]
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
