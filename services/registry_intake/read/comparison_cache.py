"""The comparison statistics' sums of each year and the suppression decided over them, kept in memory for the
registry state they were read in: every municipality's report needs the whole country's, and they change only when
the registry's data does (measured: the national suppression costs about as much as the sums themselves,
docs/performance.md)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from services.registry_intake.read.comparison import Area, Cell, national_cells
from services.registry_intake.read.comparison_data import MunicipalityYear

__all__ = ["YearPicture", "YearSums"]


@dataclass(frozen=True)
class YearPicture:
    """A year's sums per municipality, its areas (each with its municipalities) and every count cell as shown."""

    data: dict[str, MunicipalityYear]
    areas: dict[Area, list[str]]
    shown: dict[Cell, int | None]


@dataclass
class YearSums:
    _kept: dict[int, tuple[int, YearPicture]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, year: int, state: int, read: Callable[[int], dict[str, MunicipalityYear]]) -> YearPicture:
        """The picture of ``year``: kept if made in registry state ``state`` (the caller reads the state first, so a
        write after it makes the next call read again), else read with ``read``, suppressed, and kept."""
        with self._lock:
            kept = self._kept.get(year)
            if kept is not None and kept[0] == state:
                return kept[1]
        data = read(year)
        areas, _, shown = national_cells(year, data)
        picture = YearPicture(data, areas, shown)
        with self._lock:
            self._kept[year] = (state, picture)
        return picture
