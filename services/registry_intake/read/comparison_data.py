"""What the comparison statistics are computed from (issue 15, docs/comparison.md): a year's care data and the
population register's extracts, summed per municipality by the database, as the statistics that add up across
municipalities (counts, and the value counts from which a county's or the country's median is exact).

Every figure is of the active submission of each municipality and year, and of its persons with a known birth year
(a number the TPF refused has none: such a record is in ``records`` and the findings rate only). A person's age is
the reporting year less the birth year (the age reached in the year).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import Connection, Float, Integer, and_, case, cast, func, literal, select
from sqlalchemy.sql.elements import ColumnElement

from services.registry_intake.models import (
    FUNCTION_COLUMNS,
    SubmissionStatus,
    findings,
    function_assessments,
    persons,
    register_persons,
    register_years,
    services,
    submissions,
)
from shared.iplos.controls import REGISTRY_ONLY_CODES

__all__ = [
    "AGE_GROUPS",
    "ANY_SERVICE",
    "HOME_NURSING",
    "LONG_TERM_STAY",
    "PRACTICAL_ASSISTANCE",
    "MunicipalityYear",
    "year_statistics",
]

#: The age groups of the rates per 1,000 inhabitants (SSB's pleie og omsorg groups, with 80+ split at 90).
AGE_GROUPS: Final = ("0-66", "67-79", "80-89", "90+")
#: The service type key of "any service" in :attr:`MunicipalityYear.recipients`.
ANY_SERVICE: Final = 0
HOME_NURSING: Final = 15  # helsetjenester i hjemmet
PRACTICAL_ASSISTANCE: Final = 1  # praktisk bistand - daglige gjøremål
LONG_TERM_STAY: Final = 21  # langtidsopphold
HOURLY_COMPARED: Final = (HOME_NURSING, PRACTICAL_ASSISTANCE)


@dataclass
class MunicipalityYear:
    """One municipality's year, as sums that add up across municipalities."""

    municipality: str
    #: Persons in the active submission (every record, a refused number's included).
    records: int = 0
    #: (service type, age group) -> persons who received it (``ANY_SERVICE``: persons with any service).
    recipients: Counter[tuple[int, str]] = field(default_factory=Counter)
    #: Age group -> persons who lived there in the year, by the register's extract; None without an extract.
    inhabitants: Counter[str] | None = None
    #: Service type -> hours per week -> service lines; and the persons those lines are of.
    hours: dict[int, Counter[float]] = field(default_factory=lambda: defaultdict(Counter))
    hours_persons: Counter[int] = field(default_factory=Counter)
    #: Days from application to decision -> service lines (both dates given, decision not before application).
    days: Counter[int] = field(default_factory=Counter)
    days_persons: int = 0
    #: Persons with an individual plan.
    individual_plan: int = 0
    #: "institution" (a long-term stay in the year) / "home" -> (sum of the persons' mean scores, persons).
    scores: dict[str, tuple[float, int]] = field(default_factory=dict)
    #: Control code -> persons with a finding of it (the codes a municipality sees).
    findings: Counter[str] = field(default_factory=Counter)


def _days_between(conn: Connection, first: Any, last: Any) -> ColumnElement[int]:
    """Whole days from ``first`` to ``last`` (dates), as each database counts them."""
    if conn.dialect.name == "sqlite":  # dates are ISO text there
        return cast(func.julianday(last) - func.julianday(first), Integer)
    return cast(last - first, Integer)  # PostgreSQL: date - date is an integer of days


def _age_group(year: int, birth_year: Any) -> ColumnElement[str]:
    age = literal(year) - birth_year
    return case((age <= 66, "0-66"), (age <= 79, "67-79"), (age <= 89, "80-89"), else_="90+")


def year_statistics(conn: Connection, year: int) -> dict[str, MunicipalityYear]:
    """Every municipality's statistics of ``year`` (those with an active submission), by municipality number."""
    active = and_(submissions.c.year == year, submissions.c.status == SubmissionStatus.ACTIVE.value)
    out: dict[str, MunicipalityYear] = {}

    def of(municipality: str) -> MunicipalityYear:
        return out.setdefault(municipality, MunicipalityYear(municipality))

    for m, records in conn.execute(select(submissions.c.municipality, submissions.c.record_count).where(active)):
        of(m).records = int(records or 0)
    known = and_(active, persons.c.birth_year.is_not(None))
    person_of = and_(persons.c.submission_id == submissions.c.message_id)
    service_of = and_(services.c.submission_id == persons.c.submission_id, services.c.ref == persons.c.ref)
    group = _age_group(year, persons.c.birth_year).label("age_group")

    # Recipients by age group: of any service, and of each service type.
    rows = conn.execute(
        select(submissions.c.municipality, group, func.count())
        .select_from(submissions)
        .join(persons, person_of)
        .where(known)
        .group_by(submissions.c.municipality, group)
    )
    for m, age, n in rows:
        of(m).recipients[(ANY_SERVICE, age)] = n
    rows = conn.execute(
        select(submissions.c.municipality, services.c.tjeneste_type, group, func.count(func.distinct(persons.c.ref)))
        .select_from(submissions)
        .join(persons, person_of)
        .join(services, service_of)
        .where(known)
        .group_by(submissions.c.municipality, services.c.tjeneste_type, group)
    )
    for m, kind, age, n in rows:
        of(m).recipients[(kind, age)] = n

    # Hours per week of the compared hour-based services: the value counts of the service lines, and their persons.
    hourly = and_(known, services.c.tjeneste_type.in_(HOURLY_COMPARED), services.c.hours_per_week.is_not(None))
    base = select().select_from(submissions).join(persons, person_of).join(services, service_of).where(hourly)
    rows = conn.execute(
        base.add_columns(
            submissions.c.municipality, services.c.tjeneste_type, services.c.hours_per_week, func.count()
        ).group_by(submissions.c.municipality, services.c.tjeneste_type, services.c.hours_per_week)
    )
    for m, kind, hours, n in rows:
        of(m).hours[kind][float(hours)] += n
    rows = conn.execute(
        base.add_columns(
            submissions.c.municipality, services.c.tjeneste_type, func.count(func.distinct(persons.c.ref))
        ).group_by(submissions.c.municipality, services.c.tjeneste_type)
    )
    for m, kind, n in rows:
        of(m).hours_persons[kind] = n

    # Days from application to decision: the value counts of the service lines, and their persons.
    dated = and_(
        known,
        services.c.application_date.is_not(None),
        services.c.decision_date.is_not(None),
        services.c.decision_date >= services.c.application_date,
    )
    base = select().select_from(submissions).join(persons, person_of).join(services, service_of).where(dated)
    days = _days_between(conn, services.c.application_date, services.c.decision_date).label("days")
    rows = conn.execute(
        base.add_columns(submissions.c.municipality, days, func.count()).group_by(submissions.c.municipality, days)
    )
    for m, n_days, n in rows:
        of(m).days[int(n_days)] += n
    rows = conn.execute(
        base.add_columns(submissions.c.municipality, func.count(func.distinct(persons.c.ref))).group_by(
            submissions.c.municipality
        )
    )
    for m, n in rows:
        of(m).days_persons = n

    rows = conn.execute(
        select(submissions.c.municipality, func.count())
        .select_from(submissions)
        .join(persons, person_of)
        .where(known, persons.c.individual_plan.is_(True))
        .group_by(submissions.c.municipality)
    )
    for m, n in rows:
        of(m).individual_plan = n

    _scores(conn, year, known, person_of, of)

    rows = conn.execute(
        select(submissions.c.municipality, findings.c.code, func.count(func.distinct(findings.c.ref)))
        .select_from(submissions)
        .join(findings, findings.c.submission_id == submissions.c.message_id)
        .where(active, findings.c.ref.is_not(None), findings.c.code.not_in(sorted(REGISTRY_ONLY_CODES)))
        .group_by(submissions.c.municipality, findings.c.code)
    )
    for m, code, n in rows:
        of(m).findings[code] = n

    for m, inhabitants in _inhabitants(conn, year, out).items():
        out[m].inhabitants = inhabitants
    return out


def _scores(conn: Connection, year: int, known: Any, person_of: Any, of: Any) -> None:
    """Each person's mean function score (1-5; 9 "not relevant" and 0 left out) on their latest assessment day, summed
    per municipality for persons with and without a long-term stay in the year. One pass over the scores: summed per
    person and day, each person's latest day found by a window over those sums (measured on a national year: a
    second join of the scores to each person's latest day took PostgreSQL three times as long)."""
    fa = function_assessments
    columns = [fa.c[name] for name in FUNCTION_COLUMNS.values()]
    scored = [case((column.between(1, 5), column), else_=0) for column in columns]
    counted = [case((column.between(1, 5), 1), else_=0) for column in columns]
    # Whether the person had a long-term stay in the year: by their own services (indexed by submission and ref).
    long_term = (
        select(services.c.ref)
        .where(
            services.c.submission_id == fa.c.submission_id,
            services.c.ref == fa.c.ref,
            services.c.tjeneste_type == LONG_TERM_STAY,
        )
        .exists()
    )
    per_day = (
        select(
            submissions.c.municipality.label("municipality"),
            fa.c.assessed_on,
            long_term.label("institution"),
            func.sum(sum(scored[1:], scored[0])).label("total"),
            func.sum(sum(counted[1:], counted[0])).label("scores"),
            func.max(fa.c.assessed_on).over(partition_by=[fa.c.submission_id, fa.c.ref]).label("last_day"),
        )
        .select_from(submissions)
        .join(persons, person_of)
        .join(fa, and_(fa.c.submission_id == persons.c.submission_id, fa.c.ref == persons.c.ref))
        .where(known)
        .group_by(submissions.c.municipality, fa.c.submission_id, fa.c.ref, fa.c.assessed_on)
        .subquery()
    )
    rows = conn.execute(
        select(
            per_day.c.municipality,
            per_day.c.institution,
            func.sum(cast(per_day.c.total, Float) / per_day.c.scores),
            func.count(),
        )
        .where(per_day.c.assessed_on == per_day.c.last_day, per_day.c.scores > 0)
        .group_by(per_day.c.municipality, per_day.c.institution)
    )
    for m, is_institution, total, n in rows:
        of(m).scores["institution" if is_institution else "home"] = (float(total), int(n))


def _inhabitants(conn: Connection, year: int, municipalities: Iterable[str]) -> dict[str, Counter[str]]:
    """The persons who lived in the municipality on at least one day of ``year`` by age group: every person of its
    active register extract of the year (which lists exactly those); only municipalities that have one. The same
    span as the recipients counted (anyone who received a service in the year), so that the one is part of the
    other."""
    group = _age_group(year, register_persons.c.birth_year)
    chosen = and_(
        register_years.c.year == year,
        register_years.c.active_message_id.is_not(None),
        register_years.c.municipality.in_(sorted(municipalities)),
    )
    rows = conn.execute(
        select(register_years.c.municipality, group, func.count())
        .select_from(register_years)
        .join(register_persons, register_persons.c.extract_id == register_years.c.active_message_id)
        .where(chosen, register_persons.c.birth_year.is_not(None))
        .group_by(register_years.c.municipality, group)
    )
    out: dict[str, Counter[str]] = defaultdict(Counter)
    for m, age, n in rows:
        out[m][age] = n
    # An extract with no one of a known birth year still says how many live there: none.
    for m in conn.execute(select(register_years.c.municipality).where(chosen)).scalars():
        out.setdefault(m, Counter())
    return dict(out)
