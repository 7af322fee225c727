"""The shape of a national year: which municipalities report, and how many persons each (Zipf-like).

The municipalities are the real kommunenummer of the reporting year (``shared.iplos.municipalities``'s shipped
SSB list), Oslo (0301) first, then in the list's order. Sizes fall with rank as ``1 / rank**ZIPF_EXPONENT``,
the exponent chosen so that Oslo holds about a tenth of 357 municipalities' persons, as in the real IPLOS
statistics; every municipality gets at least :data:`MIN_PERSONS` (when the total allows), and the sizes sum
exactly to the total asked for.
"""

from __future__ import annotations

import csv
import io
from importlib import resources
from typing import Final

__all__ = ["MIN_PERSONS", "NATIONAL_MUNICIPALITIES", "NATIONAL_PERSONS", "OSLO", "bench_municipalities", "sizes"]

OSLO: Final = "0301"
NATIONAL_MUNICIPALITIES: Final = 357
NATIONAL_PERSONS: Final = 350_000
#: 357 municipalities weighted 1/rank**0.85 give the first about 10 % of the total.
ZIPF_EXPONENT: Final = 0.85
#: Even the smallest municipality reports a few persons (when the total allows it).
MIN_PERSONS: Final = 5
#: The 2024 list holds for reporting years 2024 to 2026 (shared.iplos.municipalities).
_LIST: Final = "kommuner-2024.csv"


def bench_municipalities(count: int) -> list[str]:
    """The first ``count`` kommunenummer of the shipped list, Oslo first."""
    text = resources.files("shared.iplos.data").joinpath(_LIST).read_text(encoding="utf-8")
    codes = [row["kommunenummer"] for row in csv.DictReader(io.StringIO(text, newline=""))]
    ordered = [OSLO, *(code for code in codes if code != OSLO)]
    if not 1 <= count <= len(ordered):
        raise ValueError(f"municipalities is between 1 and {len(ordered)}, not {count}")
    return ordered[:count]


def sizes(total: int, count: int) -> list[int]:
    """Persons per municipality by rank: Zipf-like, each at least :data:`MIN_PERSONS` if ``total`` allows (at
    least one), summing to ``total``."""
    if count < 1 or total < count:
        raise ValueError(f"{total} persons cannot fill {count} municipalities (at least one person each)")
    floor = min(MIN_PERSONS, total // count)
    spread = total - floor * count
    weights = [1.0 / rank**ZIPF_EXPONENT for rank in range(1, count + 1)]
    scale = spread / sum(weights)
    shares = [w * scale for w in weights]
    result = [floor + int(share) for share in shares]
    # Largest remainders first, so the sizes sum exactly to the total and stay in rank order.
    short = total - sum(result)
    by_remainder = sorted(range(count), key=lambda i: (-(shares[i] - int(shares[i])), i))
    for i in by_remainder[:short]:
        result[i] += 1
    return result
