"""The comparison statistics (docs/comparison.md) as CSV, one figure a line, from the areas as their JSON documents
carry them: the registry's operator page and a municipality's page both write it, each from its own document."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from typing import Any, Final

__all__ = ["CSV_HEADER", "figures_csv"]

CSV_HEADER: Final = ("level", "code", "name", "year", "indicator", "key", "value", "note")
#: The indicators in the order of docs/comparison.md: those keyed (by service type, place, code) and those not.
_ORDER: Final = (
    ("share_80_plus", False),
    ("hours_mean", True),
    ("hours_median", True),
    ("share_long_term", False),
    ("score_mean", True),
    ("days_to_decision_median", False),
    ("share_individual_plan", False),
    ("findings_rate", True),
)


def figures_csv(areas: Iterable[Mapping[str, Any]]) -> str:
    """Every figure of every area: area, year, indicator, key, value (empty when hidden) and why it is hidden."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for area in areas:

        def row(indicator: str, key: str, figure: Mapping[str, Any], area: Mapping[str, Any] = area) -> None:
            value = "" if figure["value"] is None else f"{figure['value']:g}"
            writer.writerow(
                [area["level"], area["code"], area["name"], area["year"], indicator, key, value, figure["note"] or ""]
            )

        for kind, ages in area["per_1000"].items():
            for age, figure in ages.items():
                row("per_1000", f"{kind}/{age}", figure)
        for name, keyed in _ORDER:
            for key, figure in area[name].items() if keyed else (("", area[name]),):
                row(name, key, figure)
    return out.getvalue()
