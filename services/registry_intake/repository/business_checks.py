"""The business register controls (K036-K039, ``shared.iplos.controls``): the organisation number of the unit that
performed each service, looked up in the registry's copy of Enhetsregisteret (``business_units``).

They are due whenever either side changes: when a care submission is stored (or held), against the copy as it
stands, and when a bulk file is loaded, for every active and held submission. Both serialise on one lock (a load
takes it exclusively, a care decision shared, each at its start: :func:`lock_business_register`), so a submission
stored while a file loads is judged against one copy or the other, and never missed by the load's judgement.

Only once the copy holds both kinds of unit (a main unit's number in a sub-unit's place is no fault): before that,
a submission gets none of these findings. A service is judged when its type needs an organisation number and its
number is valid (a missing or invalid one has ``K023``/``K024``); it can have several of these findings:

* ``K036``: the number is not in the copy;
* ``K037``: the unit was deleted (or closed down) on or before the service's last day in the reporting year (its
  end, or the year's end for an open service); a unit that left the register without a date counts as deleted on
  the day of the first file without it, the latest it can have been, so no service is flagged that was not;
* ``K038``: the unit's industry code is not a health or care activity (``shared.business_register``);
* ``K039`` (warning): the unit lies in another municipality than the reporting one (a number from before 2024 is
  compared with its successors).

A submission's findings of these codes are replaced only when they change: then its counts are recomputed and its
sealed report dropped (sealed again when next asked for), so a load that changes nothing for a municipality leaves
its report, and its ETag, as they were.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter, defaultdict
from typing import Any, Final

from sqlalchemy import Connection, and_, delete, func, not_, or_, select
from sqlalchemy.sql.elements import ColumnElement

from services.registry_intake.models import (
    SubmissionStatus,
    business_register_loads,
    business_units,
    findings,
    sealed_reports,
    services,
    submissions,
)
from services.registry_intake.repository.finding_rows import (
    FindingRow,
    finding_row,
    insert_findings,
    recount,
    short,
)
from shared.business_register import CARE_INDUSTRIES, UnitKind
from shared.iplos.controls import (
    BUSINESS_CODES,
    NO_ORG_NR_SERVICES,
    UNIT_DELETED,
    UNIT_ELSEWHERE,
    UNIT_NOT_CARE,
    UNIT_NOT_IN_REGISTER,
    org_nr_is_valid,
)
from shared.iplos.municipalities import successors_2024

__all__ = ["check_business", "lock_business_register", "register_loaded"]

_JUDGED: Final = (SubmissionStatus.ACTIVE.value, SubmissionStatus.HELD.value)
_LAST_RENUMBERED_YEAR: Final = 2023  # the numbers of 2020-2023 that changed in 2024 (successors_2024)


#: The key of the copy's PostgreSQL advisory lock: a signed 64-bit number from its name.
_LOCK_KEY: Final = int.from_bytes(hashlib.sha256(b"iplos-registry/business-register").digest()[:8], "big", signed=True)


def lock_business_register(conn: Connection, *, exclusive: bool) -> None:
    """Hold the copy's lock to the end of ``conn``'s transaction: ``exclusive`` for a load, shared for a care
    decision (care decisions do not wait for each other). SQLite: nothing to do, ``BEGIN IMMEDIATE`` already
    serialises every writer."""
    if conn.dialect.name == "postgresql":
        lock = func.pg_advisory_xact_lock if exclusive else func.pg_advisory_xact_lock_shared
        conn.execute(select(lock(_LOCK_KEY)))


def register_loaded(conn: Connection) -> bool:
    """Whether the copy holds both kinds of unit (a file of each loaded)."""
    kinds = conn.execute(select(business_register_loads.c.kind).distinct()).scalars()
    return set(kinds) >= {kind.value for kind in UnitKind}


def check_business(conn: Connection, only: str | None = None) -> Counter[str]:
    """Judge the active and held care submissions (or only the submission ``only``) against the copy as it stands on
    ``conn``; the findings of these codes that changed, by code (added and removed)."""
    # A care decision judges its own submission whatever its row's status is at that point of the transaction.
    judged: Any = (
        [only] if only is not None else select(submissions.c.message_id).where(submissions.c.status.in_(_JUDGED))
    )
    new = _findings(conn, judged) if register_loaded(conn) else []
    old = conn.execute(
        select(findings.c.submission_id, findings.c.ref, findings.c.code, findings.c.field, findings.c.detail).where(
            findings.c.submission_id.in_(judged), findings.c.code.in_(BUSINESS_CODES)
        )
    ).all()
    before: defaultdict[str, Counter[tuple[Any, ...]]] = defaultdict(Counter)
    for row in old:
        before[row.submission_id][tuple(row)] += 1
    after: defaultdict[str, Counter[tuple[Any, ...]]] = defaultdict(Counter)
    for finding in new:
        after[finding["submission_id"]][_key(finding)] += 1
    changed = sorted(sid for sid in before.keys() | after.keys() if before[sid] != after[sid])
    if not changed:
        return Counter()
    conn.execute(delete(findings).where(findings.c.submission_id.in_(changed), findings.c.code.in_(BUSINESS_CODES)))
    replaced = set(changed)
    insert_findings(conn, (f for f in new if f["submission_id"] in replaced))
    recount(conn, changed)
    conn.execute(delete(sealed_reports).where(sealed_reports.c.message_id.in_(changed)))
    delta: Counter[str] = Counter()
    for sid in changed:
        for key, n in (after[sid] - before[sid]).items():
            delta[key[2]] += n
        for key, n in (before[sid] - after[sid]).items():
            delta[key[2]] += n
    return delta


def _key(finding: FindingRow) -> tuple[Any, ...]:
    return (finding["submission_id"], finding["ref"], finding["code"], finding["field"], finding["detail"])


def _care_industry(industry: Any) -> ColumnElement[bool]:
    return or_(*(industry.startswith(prefix, autoescape=True) for prefix in CARE_INDUSTRIES))


def _findings(conn: Connection, judged: Any) -> list[FindingRow]:
    """The findings of the judged submissions' services. The database returns only the services that have one
    (or whose number is invalid, which this skips: K024 has it); the rule's details are decided here."""
    unit = business_units
    # The service's place in its record (stored order, from 1), as the payload controls name it: counted only for
    # the few services returned.
    earlier = services.alias("earlier")
    position = (
        select(func.count())
        .select_from(earlier)
        .where(
            earlier.c.submission_id == services.c.submission_id,
            earlier.c.ref == services.c.ref,
            earlier.c.id <= services.c.id,
        )
        .scalar_subquery()
    )
    suspect = or_(
        unit.c.org_nr.is_(None),
        unit.c.deleted_on.is_not(None),
        and_(unit.c.industry.is_not(None), not_(_care_industry(unit.c.industry))),
        and_(unit.c.municipality.is_not(None), unit.c.municipality != submissions.c.municipality),
    )
    query = (
        select(
            services.c.submission_id,
            services.c.ref,
            services.c.tjeneste_id,
            services.c.end_date,
            services.c.org_nr,
            submissions.c.year,
            submissions.c.municipality,
            unit.c.org_nr.label("found"),
            unit.c.deleted_on,
            unit.c.industry,
            unit.c.municipality.label("unit_municipality"),
            position.label("position"),
        )
        .select_from(services)
        .join(submissions, submissions.c.message_id == services.c.submission_id)
        .outerjoin(unit, unit.c.org_nr == services.c.org_nr)
        .where(
            services.c.submission_id.in_(judged),
            services.c.org_nr.is_not(None),
            services.c.tjeneste_type.not_in(sorted(NO_ORG_NR_SERVICES)),
            suspect,
        )
        .order_by(services.c.submission_id, services.c.ref, services.c.id)
    )
    rows: list[FindingRow] = []
    for row in conn.execute(query):
        if not org_nr_is_valid(row.org_nr):
            continue
        field = f"tjenester[{row.position}].orgNr"
        service = f"tjenesteID {short(row.tjeneste_id)}: orgNr {row.org_nr}"

        def add(code: str, detail: str, row: Any = row, field: str = field) -> None:
            rows.append(finding_row(row.submission_id, row.ref, code, field, detail))

        if row.found is None:
            add(UNIT_NOT_IN_REGISTER, service)
            continue
        year_end = dt.date(row.year, 12, 31)
        last_day = year_end if row.end_date is None else min(row.end_date, year_end)
        if row.deleted_on is not None and row.deleted_on <= last_day:
            add(UNIT_DELETED, f"{service}, slettet {row.deleted_on}")
        if row.industry is not None and not row.industry.startswith(CARE_INDUSTRIES):
            add(UNIT_NOT_CARE, f"{service}, næringskode {row.industry}")
        if row.unit_municipality is not None and row.unit_municipality not in _same(row.municipality, row.year):
            add(UNIT_ELSEWHERE, f"{service}, kommune {row.unit_municipality}")
    return rows


def _same(municipality: str, year: int) -> frozenset[str]:
    """The numbers the reporting municipality has in the copy: its own, and for 2020-2023 its 2024 successors."""
    if year <= _LAST_RENUMBERED_YEAR:
        return frozenset({municipality}) | successors_2024(municipality)
    return frozenset({municipality})
