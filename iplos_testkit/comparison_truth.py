"""The comparison statistics computed again from a generated population's files (the care exports, the register
extracts and the answer key), by plain Python over the persons and with none of the registry's code: what the
registry's figures (docs/comparison.md) must equal, in the tests and in the demo.

Figures are keyed as :func:`flatten` keys the registry's documents (``per_1000/<type>/<age>``, ``share_80_plus``,
``hours_mean/15``, ...), rounded as the registry rounds them.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any, Final

from iplos_testkit.population import REPORTED_AS, PopulationFiles
from shared import fnr
from shared.iplos.controls import REGISTRY_ONLY_CODES
from shared.iplos.reader import read_export
from shared.population import read_extract

__all__ = ["AGE_GROUPS", "expected_indicators", "flatten"]

AGE_GROUPS: Final = ("0-66", "67-79", "80-89", "90+")


def _age(year: int, birth_year: int) -> str:
    age = year - birth_year
    return "0-66" if age <= 66 else "67-79" if age <= 79 else "80-89" if age <= 89 else "90+"


def expected_indicators(population: PopulationFiles, year: int, municipalities: Iterable[str]) -> dict[str, float]:
    """Every indicator of the area the ``municipalities`` make up in ``year``, unsuppressed, from the files."""
    records = 0
    recipients: Counter[tuple[int, str]] = Counter()
    inhabitants: Counter[str] = Counter()
    hours: dict[int, list[float]] = defaultdict(list)
    days: list[int] = []
    plan = 0
    scores: dict[str, list[float]] = defaultdict(list)
    findings: Counter[str] = Counter()
    faults = {(f.municipality, f.bruker_nr): REPORTED_AS[f.kind] for f in population.faults if f.year == year}
    for m in municipalities:
        with read_export(population.exports[(year, m)]) as reader:
            for person in reader:
                records += 1
                code = faults.get((m, person.bruker_nr))
                if code is not None and code not in REGISTRY_ONLY_CODES:
                    findings[code] += 1
                try:
                    born = fnr.parse(person.fid).birth_year
                except fnr.InvalidIdentityNumber:
                    continue
                if born is None:
                    continue
                age = _age(year, born)
                recipients[(0, age)] += 1
                for kind in {s.tjeneste_type for s in person.services}:
                    recipients[(kind, age)] += 1
                for s in person.services:
                    if s.tjeneste_type in (1, 15) and s.hours_per_week is not None:
                        hours[s.tjeneste_type].append(s.hours_per_week)
                    if s.application_date and s.decision_date and s.decision_date >= s.application_date:
                        days.append((s.decision_date - s.application_date).days)
                plan += person.background.individual_plan is True
                if person.function_scores:
                    last = max(score.date for score in person.function_scores)
                    scored = [f.score for f in person.function_scores if f.date == last and 1 <= f.score <= 5]
                    if scored:
                        where = "institution" if any(s.tjeneste_type == 21 for s in person.services) else "home"
                        scores[where].append(sum(scored) / len(scored))
        with population.registers[(year, m)].open("rb") as handle:
            _, people = read_extract(handle)
            for resident in people:
                if resident.birth_year is not None:
                    inhabitants[_age(year, resident.birth_year)] += 1

    out: dict[str, float] = {}
    total = sum(recipients[(0, a)] for a in AGE_GROUPS)
    for kind in {k for k, _ in recipients}:
        for age in AGE_GROUPS:
            if inhabitants[age]:
                out[f"per_1000/{kind}/{age}"] = round(1000 * recipients[(kind, age)] / inhabitants[age], 2)
        everyone = sum(recipients[(kind, a)] for a in AGE_GROUPS)
        out[f"per_1000/{kind}/all"] = round(1000 * everyone / sum(inhabitants.values()), 2)
    out["share_80_plus"] = round(100 * (recipients[(0, "80-89")] + recipients[(0, "90+")]) / total, 2)
    out["share_long_term"] = round(100 * sum(recipients[(21, a)] for a in AGE_GROUPS) / total, 2)
    out["share_individual_plan"] = round(100 * plan / total, 2)
    for kind, values in hours.items():
        out[f"hours_mean/{kind}"] = round(statistics.fmean(values), 2)
        out[f"hours_median/{kind}"] = round(statistics.median(values), 2)
    if days:
        out["days_to_decision_median"] = round(statistics.median(days), 2)
    for where, values in scores.items():
        out[f"score_mean/{where}"] = round(statistics.fmean(values), 2)
    for code, n in findings.items():
        out[f"findings_rate/{code}"] = round(100 * n / records, 2)
    return out


def flatten(area: Mapping[str, Any]) -> dict[str, float | None]:
    """A registry document's area (as JSON: ``AreaComparison``, or the gateway's ``AreaIndicators``) as figures keyed
    as :func:`expected_indicators` keys them; None where the figure is hidden."""
    out: dict[str, float | None] = {}
    for kind, ages in area["per_1000"].items():
        for age, figure in ages.items():
            out[f"per_1000/{kind}/{age}"] = figure["value"]
    for name in ("share_80_plus", "share_long_term", "share_individual_plan", "days_to_decision_median"):
        out[name] = area[name]["value"]
    for name in ("hours_mean", "hours_median", "score_mean", "findings_rate"):
        for key, figure in area[name].items():
            out[f"{name}/{key}"] = figure["value"]
    return out
