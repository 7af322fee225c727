"""What the registry holds of the population register for a year (issue 14): which municipalities' extracts are
stored, and whether the year's register is complete (every municipality of SSB's list: only then is K035, a number
unknown to the whole register, decided)."""

from __future__ import annotations

from sqlalchemy import Connection, select

from services.registry_intake.models import register_extracts
from services.registry_intake.schemas import RegisterExtractRow, RegisterYear
from shared.envelope import utc_timestamp
from shared.iplos.municipalities import NoMunicipalityList, valid_municipalities

__all__ = ["register_complete", "register_year"]


def register_complete(conn: Connection, year: int) -> bool:
    """Whether the register's extract of every municipality of ``year`` (SSB's list for the year) is stored."""
    return register_year(conn, year).complete


def register_year(conn: Connection, year: int) -> RegisterYear:
    rows = conn.execute(
        select(
            register_extracts.c.municipality,
            register_extracts.c.sequence,
            register_extracts.c.person_count,
            register_extracts.c.number_count,
            register_extracts.c.identity_refused_count,
            register_extracts.c.received_at,
        )
        .where(register_extracts.c.year == year, register_extracts.c.status == "active")
        .order_by(register_extracts.c.municipality)
    ).all()
    try:
        expected: frozenset[str] | None = valid_municipalities(year)
    except NoMunicipalityList:
        expected = None
    stored = {row.municipality for row in rows}
    return RegisterYear(
        year=year,
        municipalities_expected=None if expected is None else len(expected),
        complete=expected is not None and expected <= stored,
        extracts=[
            RegisterExtractRow(
                municipality=row.municipality,
                sequence=row.sequence,
                persons=row.person_count,
                numbers=row.number_count,
                numbers_refused=row.identity_refused_count,
                received_at=utc_timestamp(row.received_at),
            )
            for row in rows
        ],
    )
