"""What the controls judged at the registry (the register controls, the business register controls) share: a
finding's row, inserting a batch, and recounting the submissions' finding counts from their findings."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from services.registry_intake.models import findings, submissions
from shared.iplos.controls import control

__all__ = ["FindingRow", "finding_row", "insert_findings", "recount", "short"]

FindingRow = dict[str, Any]


def finding_row(submission_id: str, ref: str, code: str, field: str | None, detail: str | None) -> FindingRow:
    """A row of ``findings``, with the severity the catalogue gives ``code`` today."""
    return {
        "submission_id": submission_id,
        "ref": ref,
        "code": code,
        "severity": str(control(code).severity),
        "field": field,
        "detail": detail,
    }


def insert_findings(conn: Connection, rows: Iterable[FindingRow]) -> None:
    batch = list(rows)
    if batch:
        conn.execute(insert(findings), batch)


def recount(conn: Connection, judged: Sequence[str]) -> None:
    """The submissions' finding counts from their findings, as the bulk writer set them at the store (correlated
    counts, one UPDATE for all, the same on SQLite and PostgreSQL)."""

    def count(*severity: str) -> Any:
        where = [findings.c.submission_id == submissions.c.message_id]
        if severity:
            where.append(findings.c.severity == severity[0])
        return select(func.count()).select_from(findings).where(*where).scalar_subquery()

    conn.execute(
        update(submissions)
        .where(submissions.c.message_id.in_(judged))
        .values(finding_count=count(), error_count=count("error"), warning_count=count("warning"))
    )


def short(value: str, limit: int = 40) -> str:
    """``value`` cut to ``limit`` characters (an id from the municipality's system, in a finding's detail)."""
    return value if len(value) <= limit else value[: limit - 1] + "…"
