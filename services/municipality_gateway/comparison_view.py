"""The comparison statistics as a municipality reads them (issue 15, docs/comparison.md): the indicators in rows, the
municipality beside its county and the country (and itself the year before), labelled in Norwegian and English; and
the whole document as CSV, one figure a line. The pages and ``iplos compare`` show the same rows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

from services.municipality_gateway.schemas import AreaIndicators, ComparisonFigure, ComparisonReport
from shared.iplos.comparison_csv import figures_csv
from shared.iplos.model import SERVICE_TYPES

__all__ = ["AGE_COLUMNS", "Column", "Lang", "Row", "columns", "indicator_rows", "per_1000_rows", "to_csv"]

Lang = Literal["nb", "en"]
AGE_COLUMNS: Final = ("0-66", "67-79", "80-89", "90+", "all")
_ANY: Final = "0"


@dataclass(frozen=True)
class Column:
    """One column of the tables: an area in a year."""

    label: str
    area: AreaIndicators


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    unit: str
    figures: list[ComparisonFigure]


_LEVELS: Final = {
    "nb": {"municipality": "kommune", "county": "fylke", "country": "landet"},
    "en": {"municipality": "municipality", "county": "county", "country": "country"},
}


def columns(report: ComparisonReport, lang: Lang = "nb") -> list[Column]:
    """The municipality, its county and the country of the report's year, then the municipality the year before;
    each labelled with its name, what it is (Oslo is a municipality and a county) and its year."""
    this_year = [a for a in report.areas if a.year == report.year]
    before = [a for a in report.areas if a.year == report.year - 1 and a.level == "municipality"]

    def label(area: AreaIndicators) -> str:
        level = _LEVELS[lang][area.level]
        return f"{area.name} {area.year}" if area.level == "country" else f"{area.name} ({level}) {area.year}"

    return [Column(label(a), a) for a in (*this_year, *before)]


def _figure(
    getter: Callable[[AreaIndicators], ComparisonFigure | None],
) -> Callable[[AreaIndicators], ComparisonFigure]:
    def get(area: AreaIndicators) -> ComparisonFigure:
        return getter(area) or ComparisonFigure(value=None, note="no-data")

    return get


# (key, Norwegian label, English label, unit, getter)
_INDICATORS: Final = (
    ("share_80_plus", "Andel mottakere 80 år og over", "Recipients aged 80 and over", "%", lambda a: a.share_80_plus),
    (
        "hours_mean.15",
        "Timer per uke, helsetjenester i hjemmet (gjennomsnitt)",
        "Hours per week, home nursing (mean)",
        "t",
        lambda a: a.hours_mean.get("15"),
    ),
    (
        "hours_median.15",
        "Timer per uke, helsetjenester i hjemmet (median)",
        "Hours per week, home nursing (median)",
        "t",
        lambda a: a.hours_median.get("15"),
    ),
    (
        "hours_mean.1",
        "Timer per uke, praktisk bistand (gjennomsnitt)",
        "Hours per week, practical assistance (mean)",
        "t",
        lambda a: a.hours_mean.get("1"),
    ),
    (
        "hours_median.1",
        "Timer per uke, praktisk bistand (median)",
        "Hours per week, practical assistance (median)",
        "t",
        lambda a: a.hours_median.get("1"),
    ),
    (
        "share_long_term",
        "Andel med langtidsopphold i institusjon",
        "Recipients in long-term institutional care",
        "%",
        lambda a: a.share_long_term,
    ),
    (
        "score_mean.home",
        "Bistandsbehov, hjemmeboende (gjennomsnittlig skår)",
        "Need for assistance, at home (mean score)",
        "1-5",
        lambda a: a.score_mean.get("home"),
    ),
    (
        "score_mean.institution",
        "Bistandsbehov, langtidsopphold (gjennomsnittlig skår)",
        "Need for assistance, long-term stay (mean score)",
        "1-5",
        lambda a: a.score_mean.get("institution"),
    ),
    (
        "days_to_decision_median",
        "Dager fra søknad til vedtak (median)",
        "Days from application to decision (median)",
        "d",
        lambda a: a.days_to_decision_median,
    ),
    (
        "share_individual_plan",
        "Andel med individuell plan",
        "Recipients with an individual plan",
        "%",
        lambda a: a.share_individual_plan,
    ),
)


def indicator_rows(report: ComparisonReport, lang: Lang = "nb") -> list[Row]:
    """The single-figure indicators, one row each, with a figure per :func:`columns` column."""
    cols = columns(report, lang)
    out = []
    for key, nb, en, unit, getter in _INDICATORS:
        get = _figure(getter)
        out.append(Row(key, nb if lang == "nb" else en, unit, [get(c.area) for c in cols]))
    codes = sorted({code for c in cols for code in c.area.findings_rate})
    for code in codes:
        label = f"Funn {code}" if lang == "nb" else f"Findings {code}"
        out.append(
            Row(
                f"findings_rate.{code}",
                label,
                "%",
                [col.area.findings_rate.get(code) or ComparisonFigure(value=None, note="no-data") for col in cols],
            )
        )
    return out


def per_1000_rows(report: ComparisonReport, age: str = "all", lang: Lang = "nb") -> list[Row]:
    """Recipients per 1,000 inhabitants of ``age`` (an ``AGE_COLUMNS`` value), a row per service type (any service
    first), with a figure per :func:`columns` column."""
    cols = columns(report, lang)
    kinds = sorted({kind for c in cols for kind in c.area.per_1000}, key=int)
    out = []
    for kind in kinds:
        unknown = "ukjent tjenestetype" if lang == "nb" else "unknown service type"
        name = (
            ("alle tjenester" if lang == "nb" else "any service")
            if kind == _ANY
            else SERVICE_TYPES.get(int(kind), unknown)
        )
        label = name if kind == _ANY else f"{kind} {name}"
        figures = [c.area.per_1000.get(kind, {}).get(age) or ComparisonFigure(value=None, note="no-data") for c in cols]
        out.append(Row(f"per_1000.{kind}.{age}", label, "‰", figures))
    return out


def to_csv(report: ComparisonReport) -> str:
    """Every figure of the document, one a line (``shared.iplos.comparison_csv``)."""
    return figures_csv(area.model_dump(mode="json") for area in report.areas)
