"""A reporting year's intake, every municipality on one page: shaped from the year's submission rows, no I/O.

**Status** of a municipality in a year: ``missing`` (no active submission; refused ones store nothing),
``received`` (an active submission without findings) or ``findings`` (with findings); how many times its year was
replaced (superseded submissions), refused, and whether a submission waits for its confirmation (held). Grouping
by municipality is done here, in Python, over the year's rows (a few hundred to a few thousand).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final

from services.registry_intake.models import SubmissionStatus
from services.registry_intake.read.deadline import Deadline, deadline_for
from services.registry_intake.read.suppression import SUPPRESSION_THRESHOLD, suppress
from services.registry_intake.schemas import (
    MunicipalityRow,
    OverviewFilter,
    OverviewQuery,
    SortKey,
    UnexpectedMunicipality,
    YearCounts,
    YearOverview,
)
from services.registry_intake.submissions import StoredSubmission
from shared.envelope import utc_timestamp
from shared.iplos.municipalities import municipality_name, valid_municipalities

__all__ = ["year_overview"]

_STATUS_RANK: Final = {"missing": 0, "findings": 1, "received": 2}
# Norwegian alphabetical order: æ, ø, å after z (casefold alone would put å before æ).
_NORWEGIAN: Final = str.maketrans({"æ": "z\x01", "ø": "z\x02", "å": "z\x03"})


def year_overview(
    year: int,
    now: dt.datetime,
    query: OverviewQuery,
    submissions: Iterable[StoredSubmission],
    never_resident: Mapping[str, int] | None = None,
) -> YearOverview:
    """Every municipality valid in ``year`` with its status, from the year's ``submissions`` (every row, oldest
    first); the counts cover all of them, the rows those ``query`` selects, in its order (ties by municipality
    number). ``year`` must have a municipality list (``FIRST_YEAR`` or later). ``never_resident``: the K040 records
    of each municipality's active submission, for an operator (None: withheld)."""
    deadline = deadline_for(year)
    valid = valid_municipalities(year)
    by_municipality: dict[str, list[StoredSubmission]] = defaultdict(list)
    for stored in submissions:
        by_municipality[stored.municipality].append(stored)
    rows = [
        _row(code, municipality_name(code, year) or code, by_municipality.get(code, ()), deadline, now)
        for code in sorted(valid)
    ]
    if never_resident is not None:
        rows = [
            row.model_copy(update={"never_resident": never_resident.get(row.municipality, 0)})
            if row.submission_id is not None
            else row
            for row in rows
        ]
    counts = YearCounts(
        expected=len(rows),
        received=sum(1 for r in rows if r.status != "missing"),
        missing=sum(1 for r in rows if r.status == "missing"),
        with_findings=sum(1 for r in rows if r.status == "findings"),
        replaced=sum(1 for r in rows if r.replaced),
        held=sum(1 for r in rows if r.held),
        late=sum(1 for r in rows if r.late),
        overdue=sum(1 for r in rows if r.overdue),
    )
    total = suppress(
        sum(
            s.record_count
            for code, items in by_municipality.items()
            if code in valid
            for s in items
            if s.status == SubmissionStatus.ACTIVE
        )
    )
    # Sorted by the instant received, not its text (which has whole seconds only).
    received = {
        code: s.received_at
        for code, items in by_municipality.items()
        for s in items
        if s.status == SubmissionStatus.ACTIVE
    }
    shown = _sorted((r for r in rows if _matches(r, query)), _sort_key(query.sort, received), query.order == "desc")
    unexpected = [
        UnexpectedMunicipality(
            municipality=code,
            submissions=len(items),
            active=any(s.status == SubmissionStatus.ACTIVE for s in items),
        )
        for code, items in sorted(by_municipality.items())
        if code not in valid
    ]
    return YearOverview(
        year=year,
        now=utc_timestamp(now),
        deadline=deadline.document(now),
        counts=counts,
        records_total=total,
        records_total_suppressed=total is None,
        suppression_threshold=SUPPRESSION_THRESHOLD,
        filter=OverviewFilter(status=query.status, q=query.q, sort=query.sort, order=query.order),
        shown=len(shown),
        municipalities=shown,
        unexpected=unexpected,
    )


def _row(
    code: str, name: str, items: Sequence[StoredSubmission], deadline: Deadline, now: dt.datetime
) -> MunicipalityRow:
    active = next((s for s in items if s.status == SubmissionStatus.ACTIVE), None)
    replaced = sum(1 for s in items if s.status == SubmissionStatus.SUPERSEDED)
    refused = sum(1 for s in items if s.status == SubmissionStatus.REFUSED)
    held = next((s.message_id for s in items if s.status == SubmissionStatus.HELD), None)
    if active is None:
        return MunicipalityRow(
            municipality=code,
            name=name,
            status="missing",
            submission_id=None,
            sequence=None,
            received_at=None,
            records=None,
            records_suppressed=False,
            findings=None,
            errors=None,
            warnings=None,
            replaced=replaced,
            refused=refused,
            late=False,
            overdue=deadline.passed(now),
            held=held,
            never_resident=None,
        )
    records = suppress(active.record_count)
    return MunicipalityRow(
        municipality=code,
        name=name,
        status="findings" if (active.finding_count or 0) > 0 else "received",
        submission_id=active.message_id,
        sequence=active.sequence,
        received_at=utc_timestamp(active.received_at),
        records=records,
        records_suppressed=records is None,
        findings=active.finding_count,
        errors=active.error_count,
        warnings=active.warning_count,
        replaced=replaced,
        refused=refused,
        late=deadline.is_late(active.received_at),
        overdue=False,
        held=held,
        never_resident=None,
    )


def _matches(row: MunicipalityRow, query: OverviewQuery) -> bool:
    wanted = query.status
    if wanted in ("missing", "received", "findings") and row.status != wanted:
        return False
    if (wanted == "replaced" and not row.replaced) or (wanted == "late" and not row.late):
        return False
    if wanted == "overdue" and not row.overdue:
        return False
    text = query.q.casefold()
    return not text or row.municipality.startswith(text) or text in row.name.casefold()


_Key = Callable[[MunicipalityRow], Any]


def _sort_key(sort: SortKey, received: dict[str, dt.datetime]) -> tuple[_Key, _Key | None]:
    """(key, has a value): rows without a value in the column (nothing received) go last in either order.
    ``received``: when each municipality's active submission was received."""
    if sort == "name":
        return (lambda r: r.name.casefold().translate(_NORWEGIAN)), None
    if sort == "status":
        return (lambda r: _STATUS_RANK[r.status]), None
    if sort == "received":
        return (lambda r: received[r.municipality]), (lambda r: r.received_at is not None)
    if sort == "records":
        # A suppressed count sorts as one group below 5, never by its hidden value.
        return (lambda r: -1 if r.records is None else r.records), (lambda r: r.status != "missing")
    if sort == "findings":
        return (lambda r: r.findings), (lambda r: r.findings is not None)
    if sort == "replaced":
        return (lambda r: r.replaced), None
    return (lambda r: r.municipality), None


def _sorted(rows: Iterable[MunicipalityRow], keys: tuple[_Key, _Key | None], descending: bool) -> list[MunicipalityRow]:
    """In the order of ``keys`` (see :func:`_sort_key`); ties by municipality number; rows without a value in the
    column last."""
    key, has_value = keys
    by_number = sorted(rows, key=lambda r: r.municipality)
    valued = [r for r in by_number if has_value is None or has_value(r)]
    empty = [r for r in by_number if has_value is not None and not has_value(r)]
    return sorted(valued, key=key, reverse=descending) + empty
