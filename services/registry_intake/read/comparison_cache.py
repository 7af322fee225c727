"""The comparison statistics' sums of each year, kept in memory for the registry state they were read in: every
municipality's report needs the whole country's sums, and they change only when the registry's data does."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from services.registry_intake.read.comparison_data import MunicipalityYear

__all__ = ["YearSums"]


@dataclass
class YearSums:
    _kept: dict[int, tuple[int, dict[str, MunicipalityYear]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(
        self, year: int, state: int, read: Callable[[int], dict[str, MunicipalityYear]]
    ) -> dict[str, MunicipalityYear]:
        """The sums of ``year``: kept if read in registry state ``state`` (the caller reads the state first, so a
        write after it makes the next call read again), else read with ``read`` and kept."""
        with self._lock:
            kept = self._kept.get(year)
            if kept is not None and kept[0] == state:
                return kept[1]
        data = read(year)
        with self._lock:
            self._kept[year] = (state, data)
        return data
