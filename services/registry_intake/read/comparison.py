"""The comparison statistics (issue 15, docs/comparison.md): the same indicators for each municipality, its county
and the whole country, from the sums of :mod:`comparison_data`, with every figure of fewer than 5 persons suppressed
and complementary suppression wherever a total and all but one of its parts are shown.

Count cells, and the sums they are part of (each a linear relation: one hidden member alone could be worked out):

* recipients of each service type (and of any service) in each age group, and in all ages: the age groups add up to
  all ages; recipients of any service aged 80-89 and 90+ add up to 80 and over, which with 0-66 and 67-79 adds up
  to all ages;
* persons with an individual plan, and persons with a finding of each control;
* each of these per municipality, county and country: a county's municipalities add up to the county, the counties
  to the country.

The suppression is decided once for the whole country and year (:func:`national_cells`), so every report shows the
same cells hidden, and no two reports together give one away. Rates and shares are shown only from shown counts;
means and medians only when computed from 5 persons or more (they are not sums: nothing can be subtracted).
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

from services.registry_intake.read.comparison_data import (
    AGE_GROUPS,
    ANY_SERVICE,
    HOME_NURSING,
    LONG_TERM_STAY,
    PRACTICAL_ASSISTANCE,
    MunicipalityYear,
)
from services.registry_intake.read.suppression import SUPPRESSION_THRESHOLD, suppress_table
from services.registry_intake.schemas import AreaComparison, ComparisonYear, FigureDoc
from shared.iplos.municipalities import counties, county_of, municipality_name

__all__ = [
    "ALL_AGES",
    "COUNTRY",
    "Area",
    "AreaFigures",
    "Cell",
    "Figure",
    "area_figures",
    "areas_of",
    "comparison_year",
    "document",
    "national_cells",
]

ALL_AGES: Final = "all"
EIGHTY_PLUS: Final = "80+"
COUNTRY: Final = "NO"
Level = Literal["municipality", "county", "country"]
Note = Literal["suppressed", "no-data", "no-register"]


@dataclass(frozen=True, slots=True)
class Area:
    level: Level
    code: str  # a municipality's number, a county's number, or "NO"
    name: str


@dataclass(frozen=True, slots=True)
class Figure:
    """A figure as it may be shown: ``value`` None with ``note`` saying why (fewer than 5 persons, or one that would
    give such a figure away; no data; no register extract to count inhabitants from)."""

    value: float | None
    note: Note | None = None

    @staticmethod
    def hidden(note: Note) -> Figure:
        return Figure(None, note)


@dataclass
class AreaFigures:
    """The indicators of one area and year."""

    area: Area
    year: int
    #: Service type (0: any service) -> age group (and ``all``) -> recipients per 1,000 inhabitants.
    per_1000: dict[int, dict[str, Figure]] = field(default_factory=dict)
    share_80_plus: Figure = field(default_factory=lambda: Figure.hidden("no-data"))
    hours_mean: dict[int, Figure] = field(default_factory=dict)
    hours_median: dict[int, Figure] = field(default_factory=dict)
    share_long_term: Figure = field(default_factory=lambda: Figure.hidden("no-data"))
    score_mean: dict[str, Figure] = field(default_factory=dict)  # "home", "institution"
    days_to_decision_median: Figure = field(default_factory=lambda: Figure.hidden("no-data"))
    share_individual_plan: Figure = field(default_factory=lambda: Figure.hidden("no-data"))
    #: Control code -> persons with a finding of it per 100 records.
    findings_rate: dict[str, Figure] = field(default_factory=dict)
    recipients: int | None = None  # persons with a known age (suppressed below 5)


# ------------------------------------------------------------------------------------------------ areas


def areas_of(year: int, municipalities: Iterable[str]) -> dict[Area, list[str]]:
    """Every area the municipalities with data make up in ``year``: each municipality, its county, the country;
    each with the municipalities it sums."""
    names = counties(year)
    out: dict[Area, list[str]] = defaultdict(list)
    for m in sorted(municipalities):
        county = county_of(m, year) or m[:2]
        out[Area("municipality", m, municipality_name(m, year) or m)].append(m)
        out[Area("county", county, names.get(county, county))].append(m)
        out[Area("country", COUNTRY, "Norge")].append(m)
    return dict(out)


# ------------------------------------------------------------------------------------------------ suppression

# A count cell: (area level, area code, what, key). ``what`` is "recipients" (key: (service type, age group)),
# "plan" (key: None) or "finding" (key: control code).
Cell = tuple[str, str, str, Hashable]


def _counts(area: Area, stats: list[MunicipalityYear]) -> dict[Cell, int]:
    cells: dict[Cell, int] = {}
    recipients: Counter[tuple[int, str]] = Counter()
    for s in stats:
        recipients.update(s.recipients)
    kinds = {kind for kind, _ in recipients} | {ANY_SERVICE}
    for kind in kinds:
        for age in AGE_GROUPS:
            cells[(area.level, area.code, "recipients", (kind, age))] = recipients[(kind, age)]
        cells[(area.level, area.code, "recipients", (kind, ALL_AGES))] = sum(recipients[(kind, a)] for a in AGE_GROUPS)
    cells[(area.level, area.code, "recipients", (ANY_SERVICE, EIGHTY_PLUS))] = (
        recipients[(ANY_SERVICE, "80-89")] + recipients[(ANY_SERVICE, "90+")]
    )
    cells[(area.level, area.code, "plan", None)] = sum(s.individual_plan for s in stats)
    codes: Counter[str] = Counter()
    for s in stats:
        codes.update(s.findings)
    for code, n in codes.items():
        cells[(area.level, area.code, "finding", code)] = n
    return cells


def national_cells(
    year: int, data: Mapping[str, MunicipalityYear]
) -> tuple[dict[Area, list[str]], dict[Cell, int], dict[Cell, int | None]]:
    """The areas of ``year``, every count cell of every area, and the cells as they may be shown (the small-cell rule
    and complementary suppression, for the whole country at once)."""
    areas = areas_of(year, data)
    cells: dict[Cell, int] = {}
    for area, members in areas.items():
        cells.update(_counts(area, [data[m] for m in members]))
    by_area: dict[tuple[str, str], list[Cell]] = defaultdict(list)
    for cell in cells:
        by_area[(cell[0], cell[1])].append(cell)
    groups: list[list[Cell]] = []
    # Within an area: the age groups and all ages; 80+ and its parts.
    for area in areas:
        kinds = {c[3][0] for c in by_area[(area.level, area.code)] if c[2] == "recipients"}  # type: ignore[index]
        for kind in kinds:
            key = (area.level, area.code, "recipients")
            groups.append([(*key, (kind, age)) for age in (*AGE_GROUPS, ALL_AGES)])
        key = (area.level, area.code, "recipients")
        groups.append([(*key, (ANY_SERVICE, age)) for age in ("80-89", "90+", EIGHTY_PLUS)])
        groups.append([(*key, (ANY_SERVICE, age)) for age in ("0-66", "67-79", EIGHTY_PLUS, ALL_AGES)])
    # Across areas: a county's municipalities and the county; the counties and the country.
    parents = [a for a in areas if a.level != "municipality"]
    for parent in parents:
        child_level = "municipality" if parent.level == "county" else "county"
        children = [a for a in areas if a.level == child_level and set(areas[a]) <= set(areas[parent])]
        for cell in by_area[(parent.level, parent.code)]:
            parts: list[Cell] = [(child.level, child.code, cell[2], cell[3]) for child in children]
            groups.append([*(part for part in parts if part in cells), cell])
    shown = suppress_table(cells, groups)
    return areas, cells, shown


# ------------------------------------------------------------------------------------------------ figures


def _rate(part: int | None, whole: int | None, per: float) -> Figure:
    if part is None or whole is None:
        return Figure.hidden("suppressed")
    if whole == 0:
        return Figure.hidden("no-data")
    return Figure(round(per * part / whole, 2))


def _median(values: Counter[float] | Counter[int]) -> float:
    ordered: list[float] = []
    for value, n in sorted(values.items()):
        ordered.extend([float(value)] * n)
    return float(statistics.median(ordered))


def area_figures(area: Area, year: int, stats: list[MunicipalityYear], shown: Mapping[Cell, int | None]) -> AreaFigures:
    """The indicators of ``area`` (whose municipalities' sums are ``stats``) from the cells as they may be shown."""
    out = AreaFigures(area, year)
    if not stats:
        return out

    def cell(what: str, key: Hashable) -> int | None:
        return shown.get((area.level, area.code, what, key), 0)

    total = cell("recipients", (ANY_SERVICE, ALL_AGES))
    out.recipients = total
    # Inhabitants: only if every municipality of the area with data has the register's extract of the year.
    inhabitants: Counter[str] | None = Counter()
    for s in stats:
        if s.inhabitants is None or inhabitants is None:
            inhabitants = None
        else:
            inhabitants.update(s.inhabitants)
    kinds = sorted({kind for s in stats for kind, _ in s.recipients} | {ANY_SERVICE})
    for kind in kinds:
        row: dict[str, Figure] = {}
        for age in (*AGE_GROUPS, ALL_AGES):
            if inhabitants is None:
                row[age] = Figure.hidden("no-register")
                continue
            people = sum(inhabitants.values()) if age == ALL_AGES else inhabitants[age]
            row[age] = _rate(cell("recipients", (kind, age)), people, 1000)
        out.per_1000[kind] = row
    out.share_80_plus = _rate(cell("recipients", (ANY_SERVICE, EIGHTY_PLUS)), total, 100)
    out.share_long_term = _rate(cell("recipients", (LONG_TERM_STAY, ALL_AGES)), total, 100)
    out.share_individual_plan = _rate(cell("plan", None), total, 100)
    for kind in (HOME_NURSING, PRACTICAL_ASSISTANCE):
        hours: Counter[float] = Counter()
        for s in stats:
            hours.update(s.hours.get(kind, Counter()))
        persons = sum(s.hours_persons[kind] for s in stats)
        if persons == 0:
            out.hours_mean[kind] = out.hours_median[kind] = Figure.hidden("no-data")
        elif persons < SUPPRESSION_THRESHOLD:
            out.hours_mean[kind] = out.hours_median[kind] = Figure.hidden("suppressed")
        else:
            lines = sum(hours.values())
            out.hours_mean[kind] = Figure(round(sum(v * n for v, n in hours.items()) / lines, 2))
            out.hours_median[kind] = Figure(round(_median(hours), 2))
    days: Counter[int] = Counter()
    for s in stats:
        days.update(s.days)
    persons = sum(s.days_persons for s in stats)
    out.days_to_decision_median = (
        Figure.hidden("no-data")
        if persons == 0
        else Figure.hidden("suppressed")
        if persons < SUPPRESSION_THRESHOLD
        else Figure(_median(days))
    )
    for where in ("home", "institution"):
        sums = [s.scores[where] for s in stats if where in s.scores]
        n = sum(count for _, count in sums)
        out.score_mean[where] = (
            Figure.hidden("no-data")
            if n == 0
            else Figure.hidden("suppressed")
            if n < SUPPRESSION_THRESHOLD
            else Figure(round(sum(total for total, _ in sums) / n, 2))
        )
    records = sum(s.records for s in stats)
    codes = sorted({code for s in stats for code in s.findings})
    for code in codes:
        out.findings_rate[code] = _rate(cell("finding", code), records, 100)
    return out


# ------------------------------------------------------------------------------------------------ documents

_LEVEL_ORDER: Final = {"country": 0, "county": 1, "municipality": 2}


def comparison_year(
    year: int,
    data: Mapping[str, MunicipalityYear],
    decided: tuple[dict[Area, list[str]], dict[Cell, int | None]] | None = None,
) -> ComparisonYear:
    """The national picture of ``year``: the country, each county and each municipality with data (``decided``: the
    areas and the cells as shown, if already decided for ``data``)."""
    if decided is None:
        areas, _, shown = national_cells(year, data)
    else:
        areas, shown = decided
    ordered = sorted(areas, key=lambda a: (_LEVEL_ORDER[a.level], a.code))
    return ComparisonYear(
        year=year,
        suppression_threshold=SUPPRESSION_THRESHOLD,
        areas=[document(area_figures(area, year, [data[m] for m in areas[area]], shown)) for area in ordered],
    )


def _doc(figure: Figure) -> FigureDoc:
    return FigureDoc(value=figure.value, note=figure.note)


def document(figures: AreaFigures) -> AreaComparison:
    """``figures`` as the API and the sealed report carry them."""
    return AreaComparison(
        level=figures.area.level,
        code=figures.area.code,
        name=figures.area.name,
        year=figures.year,
        recipients=figures.recipients,
        per_1000={
            str(kind): {age: _doc(figure) for age, figure in row.items()} for kind, row in figures.per_1000.items()
        },
        share_80_plus=_doc(figures.share_80_plus),
        hours_mean={str(kind): _doc(f) for kind, f in figures.hours_mean.items()},
        hours_median={str(kind): _doc(f) for kind, f in figures.hours_median.items()},
        share_long_term=_doc(figures.share_long_term),
        score_mean={where: _doc(f) for where, f in figures.score_mean.items()},
        days_to_decision_median=_doc(figures.days_to_decision_median),
        share_individual_plan=_doc(figures.share_individual_plan),
        findings_rate={code: _doc(f) for code, f in figures.findings_rate.items()},
    )
