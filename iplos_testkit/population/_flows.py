"""The truth of the flows between years that the registry must find (issue 14), computed from what the generator
knows: which person each record is, not which number it carries.

For each year Y after the first, each municipality m and the whole country, counts of persons:

* ``continuing``: in m's export of Y-1 and of Y;
* ``new``: in m's export of Y and in no export of Y-1;
* ``moved_in``: in m's export of Y, not in m's of Y-1 but in another municipality's;
* ``ended``: in m's export of Y-1 and in no export of Y;
* ``moved_out``: in m's export of Y-1, not in m's of Y but in another municipality's;
* ``to_institution``: in m's exports of both years, in Y-1 living at home (no long-term stay, 21: home-based
  services, a short stay perhaps), in Y with a long-term stay.

Nationally each person counts once: ``continuing`` in some export of both years, ``new`` in some export of Y and none
of Y-1, ``ended`` the other way round, ``moved_in`` and ``moved_out`` (the same count) reported in both years by
municipalities not all the same, ``to_institution`` with no long-term stay in any record of Y-1 and one in some
record of Y. A person the register does not know is their own person (by number).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from iplos_testkit.population._care import CareExport
from shared.iplos.model import PersonRecord

__all__ = ["LONG_TERM_STAY", "flows"]

LONG_TERM_STAY = 21

_KINDS = ("continuing", "new", "moved_in", "ended", "moved_out", "to_institution")


def _who(export: CareExport) -> dict[Hashable, PersonRecord]:
    found: dict[Hashable, PersonRecord] = {}
    for bruker_nr, record in export.records.items():
        person = export.persons[bruker_nr]
        found[("pid", person.pid) if person is not None else ("number", record.fid)] = record
    return found


def _at_home(record: PersonRecord) -> bool:
    """Services while living at home: no long-term stay in an institution."""
    return not _long_term(record)


def _long_term(record: PersonRecord) -> bool:
    return any(s.tjeneste_type == LONG_TERM_STAY for s in record.services)


def _national(
    before: Mapping[str, Mapping[Hashable, PersonRecord]], now: Mapping[str, Mapping[Hashable, PersonRecord]]
) -> dict[str, int]:
    """The country's flows, each person once (see the module docstring)."""
    was: dict[Hashable, list[tuple[str, PersonRecord]]] = {}
    is_: dict[Hashable, list[tuple[str, PersonRecord]]] = {}
    for municipality, records in before.items():
        for who, record in records.items():
            was.setdefault(who, []).append((municipality, record))
    for municipality, records in now.items():
        for who, record in records.items():
            is_.setdefault(who, []).append((municipality, record))
    both = was.keys() & is_.keys()
    moved = sum(1 for p in both if {m for m, _ in was[p]} != {m for m, _ in is_[p]})
    return {
        "continuing": len(both),
        "new": len(is_.keys() - was.keys()),
        "moved_in": moved,
        "ended": len(was.keys() - is_.keys()),
        "moved_out": moved,
        "to_institution": sum(
            1 for p in both if all(_at_home(r) for _, r in was[p]) and any(_long_term(r) for _, r in is_[p])
        ),
    }


def flows(exports: Mapping[tuple[int, str], CareExport]) -> dict[str, Any]:
    """``{"<year>": {"<kommuneNr>" | "national": {kind: count}}}`` for every year after the first."""
    years = sorted({year for year, _ in exports})
    by: dict[tuple[int, str], dict[Hashable, PersonRecord]] = {key: _who(e) for key, e in exports.items()}
    result: dict[str, Any] = {}
    for year in years[1:]:
        before = {m: who for (y, m), who in by.items() if y == year - 1}
        now = {m: who for (y, m), who in by.items() if y == year}
        anywhere_before = set().union(*before.values()) if before else set()
        anywhere_now = set().union(*now.values()) if now else set()
        counts: dict[str, dict[str, int]] = {}
        for m in sorted(set(before) | set(now)):
            was, is_ = before.get(m, {}), now.get(m, {})
            elsewhere_before = set().union(*(w for o, w in before.items() if o != m)) if len(before) > 1 else set()
            elsewhere_now = set().union(*(w for o, w in now.items() if o != m)) if len(now) > 1 else set()
            both = was.keys() & is_.keys()
            counts[m] = {
                "continuing": len(both),
                "new": len(is_.keys() - anywhere_before),
                "moved_in": len((is_.keys() - was.keys()) & elsewhere_before),
                "ended": len(was.keys() - anywhere_now),
                "moved_out": len((was.keys() - is_.keys()) & elsewhere_now),
                "to_institution": sum(1 for p in both if _at_home(was[p]) and _long_term(is_[p])),
            }
        counts["national"] = _national(before, now)
        result[str(year)] = counts
    return result
