"""Persons followed over time (issue 14, docs/population-register.md): the care data of two consecutive years,
linked through the population register's extracts, as flows per municipality and for the country.

A person is known to the registry by pseudonyms only. Every number one register line lists (a D-number and the
fødselsnummer that replaced it, a corrected number) is one person's, in any extract of either year: the pseudonyms
are joined into one person by those lines. A pseudonym the register does not list is a person of its own.

For a year Y and a municipality m (the same definitions as ``iplos_testkit.population``'s truth):

* ``continuing``: in m's active care submission of Y-1 and of Y;
* ``new``: in m's of Y and in no municipality's of Y-1;
* ``moved_in``: in m's of Y, not in m's of Y-1 but in another municipality's;
* ``ended``: in m's of Y-1 and in no municipality's of Y;
* ``moved_out``: in m's of Y-1, not in m's of Y but in another municipality's;
* ``to_institution``: in m's of both years, at home in Y-1 (no long-term stay, 21) and in a long-term stay in Y.

Nationally each person counts once (``moved_in`` = ``moved_out``: persons reported in both years by municipalities
not all the same). These are exact counts: what an operator is shown goes through the small-cell rule, with
complementary suppression (:func:`flow_suppression`).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import Connection, and_, select

from services.registry_intake.models import (
    SubmissionStatus,
    persons,
    register_extracts,
    register_numbers,
    services,
    submissions,
)
from services.registry_intake.read.suppression import SUPPRESSION_THRESHOLD, suppress_table
from services.registry_intake.schemas import AreaFlows, FlowCounts, YearFlows

__all__ = ["FLOW_KINDS", "LONG_TERM_STAY", "flow_suppression", "flows_between_years", "year_flows"]

LONG_TERM_STAY = 21
FLOW_KINDS = ("continuing", "new", "moved_in", "ended", "moved_out", "to_institution")

# A year's care, per municipality: each person (by the key linking gives) and whether they had a long-term stay.
_Care = dict[str, dict[Hashable, bool]]


@dataclass
class _People:
    """Pseudonyms joined into persons (union-find over the register's lines)."""

    parent: dict[bytes, bytes]

    def find(self, pseudonym: bytes) -> bytes:
        root = pseudonym
        while (up := self.parent.get(root, root)) != root:
            root = up
        while (up := self.parent.get(pseudonym, pseudonym)) != root:  # path compression
            self.parent[pseudonym] = root
            pseudonym = up
        return root

    def join(self, pseudonyms: Iterable[bytes]) -> None:
        roots = sorted({self.find(p) for p in pseudonyms})
        for other in roots[1:]:
            self.parent[other] = roots[0]


def _people(conn: Connection, years: tuple[int, ...]) -> _People:
    people = _People({})
    rows = conn.execute(
        select(register_numbers.c.extract_id, register_numbers.c.n, register_numbers.c.pseudonym)
        .join(register_extracts, register_extracts.c.message_id == register_numbers.c.extract_id)
        .where(
            register_extracts.c.status == "active",
            register_extracts.c.year.in_(years),
            register_numbers.c.pseudonym.is_not(None),
        )
        .order_by(register_numbers.c.extract_id, register_numbers.c.n)
    )
    line: list[bytes] = []
    current: tuple[str, int] | None = None
    for extract_id, n, pseudonym in rows:
        if (extract_id, n) != current:
            people.join(line)
            line, current = [], (extract_id, n)
        line.append(bytes(pseudonym))
    people.join(line)
    return people


def _care(conn: Connection, year: int, people: _People) -> _Care:
    """Each municipality's persons in its active care submission of ``year``, with their long-term stay."""
    rows = conn.execute(
        select(submissions.c.municipality, persons.c.pseudonym, services.c.tjeneste_type)
        .join(persons, persons.c.submission_id == submissions.c.message_id)
        .outerjoin(services, and_(services.c.submission_id == persons.c.submission_id, services.c.ref == persons.c.ref))
        .where(
            submissions.c.year == year,
            submissions.c.status == SubmissionStatus.ACTIVE,
            persons.c.pseudonym.is_not(None),
        )
    )
    care: _Care = {}
    for municipality, pseudonym, service_type in rows:
        who = people.find(bytes(pseudonym))
        found = care.setdefault(municipality, {})
        found[who] = found.get(who, False) or service_type == LONG_TERM_STAY
    return care


def flows_between_years(conn: Connection, year: int) -> dict[str, dict[str, int]]:
    """``{kommuneNr | "national": {kind: count}}`` for ``year`` against the year before (exact counts)."""
    people = _people(conn, (year - 1, year))
    before, now = _care(conn, year - 1, people), _care(conn, year, people)
    result = {m: _municipality(m, before, now) for m in sorted(set(before) | set(now))}
    result["national"] = _national(before, now)
    return result


def year_flows(year: int, counts: Mapping[str, Mapping[str, int]]) -> YearFlows:
    """The flows as an operator is shown them, the country first, then each municipality: every count of 1-4
    persons suppressed, and with it whatever would give it away (:func:`flow_suppression`)."""
    order = ["national", *sorted(area for area in counts if area != "national")]
    shown = flow_suppression(counts)
    return YearFlows(
        year=year,
        previous_year=year - 1,
        suppression_threshold=SUPPRESSION_THRESHOLD,
        areas=[
            AreaFlows(area=area, flows=FlowCounts(**{kind: shown[(area, kind)] for kind in FLOW_KINDS}))
            for area in order
            if area in counts
        ],
    )


def flow_suppression(counts: Mapping[str, Mapping[str, int]]) -> dict[tuple[str, str], int | None]:
    """Each (area, kind) as it may be shown. What a reader knows or can estimate, and so the groups
    (``suppress_table``) a hidden cell must not be the only one of: an area's recipients of the year (continuing +
    new + moved in) and of the year before (continuing + ended + moved out), published on the statistics pages; and
    each kind's national count against the municipalities' (equal to their sum but for persons reported by two
    municipalities in a year)."""
    cells = {(area, kind): counts[area][kind] for area in counts for kind in FLOW_KINDS}
    groups: list[list[tuple[str, str]]] = []
    for area in counts:
        groups.append([(area, "continuing"), (area, "new"), (area, "moved_in")])
        groups.append([(area, "continuing"), (area, "ended"), (area, "moved_out")])
    for kind in FLOW_KINDS:
        groups.append([(area, kind) for area in sorted(counts)])  # "national" among them
    return suppress_table(cells, groups)


def _union(care: Mapping[str, Mapping[Hashable, bool]], but: str | None = None) -> set[Hashable]:
    return {who for m, found in care.items() if m != but for who in found}


def _municipality(m: str, before: _Care, now: _Care) -> dict[str, int]:
    was, is_ = before.get(m, {}), now.get(m, {})
    both = was.keys() & is_.keys()
    return {
        "continuing": len(both),
        "new": len(is_.keys() - _union(before)),
        "moved_in": len((is_.keys() - was.keys()) & _union(before, m)),
        "ended": len(was.keys() - _union(now)),
        "moved_out": len((was.keys() - is_.keys()) & _union(now, m)),
        "to_institution": sum(1 for who in both if not was[who] and is_[who]),
    }


def _national(before: _Care, now: _Care) -> dict[str, int]:
    was: dict[Hashable, list[tuple[str, bool]]] = {}
    is_: dict[Hashable, list[tuple[str, bool]]] = {}
    for care, into in ((before, was), (now, is_)):
        for municipality, found in care.items():
            for who, long_term in found.items():
                into.setdefault(who, []).append((municipality, long_term))
    both = was.keys() & is_.keys()
    moved = sum(1 for who in both if {m for m, _ in was[who]} != {m for m, _ in is_[who]})
    return {
        "continuing": len(both),
        "new": len(is_.keys() - was.keys()),
        "moved_in": moved,
        "ended": len(was.keys() - is_.keys()),
        "moved_out": moved,
        "to_institution": sum(1 for who in both if not any(lt for _, lt in was[who]) and any(lt for _, lt in is_[who])),
    }
