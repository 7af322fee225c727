"""``iplos bench``: a national-shaped year through the three real services, against one plain read of it.

:func:`run_bench` takes a year of synthetic exports, one per municipality, Zipf-sized with Oslo about a tenth
(:mod:`.sizes`), generated once in a process pool and cached (:mod:`.year`); reads it once with plain lxml
(:mod:`.plain_read`), the yardstick; starts the gateway, the TPF and the registry as ``iplos up`` does, on
SQLite or fresh PostgreSQL databases, and submits every file, several in flight, largest first, waiting until
each is final (:mod:`.uploads`). Meanwhile it measures each service's CPU seconds and peak RSS from /proc
(:mod:`.processes`) and its time per stage from its own ``/metrics`` (:mod:`.stages`). The figures
(:mod:`.result`) are printed as tables (:mod:`.table`) and written as JSON. docs/performance.md says how to read
them and holds the measured ones.
"""

from iplos_testkit.bench.result import BenchResult
from iplos_testkit.bench.run import BenchOptions, run_bench
from iplos_testkit.bench.sizes import NATIONAL_MUNICIPALITIES, NATIONAL_PERSONS, OSLO, sizes

__all__ = [
    "NATIONAL_MUNICIPALITIES",
    "NATIONAL_PERSONS",
    "OSLO",
    "BenchOptions",
    "BenchResult",
    "oslo_persons",
    "run_bench",
    "sizes",
]


def oslo_persons() -> int:
    """Oslo's persons in the default national year (the size an "Oslo-sized export" means here)."""
    return sizes(NATIONAL_PERSONS, NATIONAL_MUNICIPALITIES)[0]
