"""The register controls (K032-K035, ``shared.iplos.controls``): care records judged against the population
register's extracts, by pseudonym, inside the transaction of the decision that makes them due.

They are due whenever either side changes: when a care submission is stored (or held), against the register as it
stands, and when an extract becomes active, for the submissions of its municipality and year stored before it. Both
sides serialise on the ``register_years`` row of the municipality and year (a care decision takes it after its own
``municipality_years`` row, an extract's decision holds it from its start), so whichever of two concurrent decisions
commits second sees the other's rows: no submission misses the extract that arrived while it was being stored.

* ``K032`` (not resident): the record's pseudonym is in no person line of the active extract of its municipality and
  year. An extract lists everyone who lived there on any day of the year with every number they had, so a D-number
  replaced by a fødselsnummer during the year still matches.
* ``K033`` (a service after the register's date of death) and ``K034`` (sex or birth year differing from the
  register): only for a person found there, so that what a municipality learns of a number it chose is what it may
  know of its own residents.
* ``K035`` (unknown to the register): in no extract of the year, decided only once the register's extracts of every
  municipality of the year are stored (:func:`register_complete`), and never shown to the municipality, whose report
  already has ``K032``. It changes when any municipality's extract arrives, so :func:`recheck_unknown` runs after
  each extract's decision, serialised on all of the year's ``register_years`` rows.
* ``K040`` (never resident, issue 17): the register knows the pseudonym (it is in some active extract, of any year),
  but none of the residence periods of the person lines that list it is in the reporting municipality. What a
  municipality probing a number it chose looks like; for the registry's operators only, like ``K035``. Judged with
  the others, and again after each extract's decision (:func:`recheck_never_resident`) for the submissions whose
  records the extract lists and those already flagged. Not judged again: a record whose only residence in the
  municipality was in a person line a replacement extract dropped, until its own municipality-year is judged again.

A submission's findings of these codes are replaced whole each time, its finding counts recomputed, and its sealed
report dropped (it is sealed again with the new findings when next asked for). A refused identity number has no
pseudonym and is not judged here (it has ``K005``).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from typing import Any, Final

from sqlalchemy import Connection, Engine, and_, delete, exists, select

from services.registry_intake.models import (
    SubmissionStatus,
    findings,
    persons,
    register_extracts,
    register_numbers,
    register_persons,
    register_residences,
    register_years,
    sealed_reports,
    services,
    submissions,
)
from services.registry_intake.read.register_status import register_complete
from services.registry_intake.repository.finding_rows import (
    FindingRow,
    finding_row,
    insert_findings,
    recount,
    short,
)
from shared.iplos.controls import (
    DIFFERS_FROM_REGISTER,
    NEVER_RESIDENT,
    NOT_RESIDENT,
    REGISTER_CODES,
    SERVICE_AFTER_REGISTER_DEATH,
    UNKNOWN_TO_REGISTER,
)

__all__ = ["check_municipality_year", "recheck_never_resident", "recheck_unknown"]

#: The submissions the register controls judge: the active one of each municipality and year, and one held for the
#: municipality's confirmation (whose report helps it decide).
_JUDGED: Final = (SubmissionStatus.ACTIVE.value, SubmissionStatus.HELD.value)


def check_municipality_year(conn: Connection, municipality: str, year: int, *, only: str | None = None) -> Counter[str]:
    """Judge the active and held care submissions of ``municipality`` and ``year`` (or only the submission ``only``)
    against the register as it stands on ``conn``, the transaction of a decision that holds the municipality-year's
    ``register_years`` row (a care decision takes it at its start, an extract's decision before it stores anything);
    their findings by code. Called by a care decision after its records are written (``only`` the new submission), and
    by an extract's decision after its persons are."""
    judged = [only] if only is not None else _judged(conn, municipality=municipality, year=year)
    if not judged:
        return Counter()
    extract_id = conn.execute(
        select(register_years.c.active_message_id).where(
            register_years.c.municipality == municipality, register_years.c.year == year
        )
    ).scalar_one_or_none()
    removed = conn.execute(
        delete(findings).where(findings.c.submission_id.in_(judged), findings.c.code.in_(REGISTER_CODES))
    ).rowcount
    rows: list[FindingRow] = []
    if extract_id is not None:
        for submission_id in judged:
            rows += _residence_findings(conn, submission_id, extract_id)
    if register_complete(conn, year):
        rows += _unknown_findings(conn, judged, year)
    rows += _never_resident_findings(conn, judged)
    if not rows and not removed:
        return Counter()  # nothing changed (a care store with no extract of its year): counts and report stand
    insert_findings(conn, rows)
    recount(conn, judged)
    # The municipality's report changes with K032-K034: sealed again when next asked for.
    conn.execute(delete(sealed_reports).where(sealed_reports.c.message_id.in_(judged)))
    return Counter(row["code"] for row in rows)


def recheck_unknown(engine: Engine, year: int) -> Counter[str]:
    """Judge ``K035`` again for every care submission of ``year`` once the register of the year is complete; nothing
    (and no lock) before. Its own transaction, after an extract's decision has committed: an extract stored
    concurrently commits before its own recheck, which then sees this one's."""
    with engine.connect() as conn:
        if not register_complete(conn, year):
            return Counter()
    with engine.begin() as conn:
        # Every municipality-year of the register in one order: two rechecks, or a recheck and a care decision
        # (which takes one of these rows), never wait for each other in a cycle.
        conn.execute(
            select(register_years.c.municipality)
            .where(register_years.c.year == year)
            .order_by(register_years.c.municipality)
            .with_for_update()
        ).all()
        judged = _judged(conn, year=year)
        if not judged:
            return Counter()
        conn.execute(
            delete(findings).where(findings.c.submission_id.in_(judged), findings.c.code == UNKNOWN_TO_REGISTER)
        )
        rows = _unknown_findings(conn, judged, year)
        insert_findings(conn, rows)
        recount(conn, judged)  # no sealed report to drop: K035 is never in one
    return Counter(row["code"] for row in rows)


def recheck_never_resident(engine: Engine, extract_id: str) -> Counter[str]:
    """Judge ``K040`` again, after the decision that made ``extract_id`` active has committed, for the active and
    held care submissions with a record it lists (the person may now be known, or known to have lived in the
    municipality) and for those already flagged (a replaced extract may have taken the person away). Its own
    transaction; no kept report to drop (K040 is never in one)."""
    with engine.begin() as conn:
        listed = (
            select(persons.c.submission_id)
            .join(register_numbers, register_numbers.c.pseudonym == persons.c.pseudonym)
            .where(register_numbers.c.extract_id == extract_id)
        )
        flagged = select(findings.c.submission_id).where(findings.c.code == NEVER_RESIDENT)
        judged = list(
            conn.execute(
                select(submissions.c.message_id)
                .where(
                    submissions.c.status.in_(_JUDGED),
                    submissions.c.message_id.in_(listed) | submissions.c.message_id.in_(flagged),
                )
                .order_by(submissions.c.message_id)
                # Locked in one order: two rechecks at once (two extracts decided together) take turns, so the
                # second deletes what the first inserted instead of adding its K040 rows beside them.
                .with_for_update(of=submissions)
            ).scalars()
        )
        if not judged:
            return Counter()
        removed = conn.execute(
            delete(findings).where(findings.c.submission_id.in_(judged), findings.c.code == NEVER_RESIDENT)
        ).rowcount
        rows = _never_resident_findings(conn, judged)
        if rows or removed:
            insert_findings(conn, rows)
            recount(conn, judged)
    return Counter(row["code"] for row in rows)


def _judged(conn: Connection, *, year: int, municipality: str | None = None) -> list[str]:
    query = select(submissions.c.message_id).where(submissions.c.year == year, submissions.c.status.in_(_JUDGED))
    if municipality is not None:
        query = query.where(submissions.c.municipality == municipality)
    return list(conn.execute(query.order_by(submissions.c.message_id)).scalars())


def _residence_findings(conn: Connection, submission_id: str, extract_id: str) -> list[FindingRow]:
    """K032-K034 of one submission against the extract of its municipality and year."""
    judged = and_(persons.c.submission_id == submission_id, persons.c.pseudonym.is_not(None))
    in_extract = and_(register_numbers.c.extract_id == extract_id, register_numbers.c.pseudonym == persons.c.pseudonym)
    rows: list[FindingRow] = [
        finding_row(submission_id, ref, NOT_RESIDENT, "fid", None)
        for ref in conn.execute(
            select(persons.c.ref).where(judged, ~exists().where(in_extract)).order_by(persons.c.ref)
        ).scalars()
    ]
    # The register's person of each record found in the extract (a number is one person's: the first line wins).
    matched = conn.execute(
        select(
            persons.c.ref,
            persons.c.birth_year,
            persons.c.sex,
            register_persons.c.birth_year.label("register_birth_year"),
            register_persons.c.sex.label("register_sex"),
            register_persons.c.death_date,
        )
        .select_from(persons)
        .join(register_numbers, in_extract)
        .join(
            register_persons,
            and_(register_persons.c.extract_id == extract_id, register_persons.c.n == register_numbers.c.n),
        )
        .where(
            judged,
            (register_persons.c.death_date.is_not(None))
            | (persons.c.birth_year != register_persons.c.birth_year)
            | (persons.c.sex != register_persons.c.sex),
        )
        .order_by(persons.c.ref, register_numbers.c.n)
    ).all()
    seen: set[str] = set()
    for row in matched:
        if row.ref in seen:
            continue
        seen.add(row.ref)
        rows += _differences(submission_id, row)
        if row.death_date is not None:
            rows += _after_death(conn, submission_id, row.ref, row.death_date)
    return rows


def _differences(submission_id: str, row: Any) -> list[FindingRow]:
    """K034: one finding per differing value, naming both (the municipality's own resident: it may know)."""
    out = []
    if row.birth_year is not None and row.register_birth_year is not None and row.birth_year != row.register_birth_year:
        detail = f"fødselsår {row.birth_year}, i folkeregisteret {row.register_birth_year}"
        out.append(finding_row(submission_id, row.ref, DIFFERS_FROM_REGISTER, "fodselsaar", detail))
    if row.sex is not None and row.register_sex is not None and row.sex != row.register_sex:
        detail = f"kjønn {row.sex}, i folkeregisteret {row.register_sex}"
        out.append(finding_row(submission_id, row.ref, DIFFERS_FROM_REGISTER, "kjonn", detail))
    return out


def _after_death(conn: Connection, submission_id: str, ref: str, death: dt.date) -> list[FindingRow]:
    """K033: each of the record's services that starts after the date of death, lasts past it or has no end. The
    field names the service by its place in the record (stored order), as the payload controls do."""
    out = []
    rows = conn.execute(
        select(services.c.tjeneste_id, services.c.start_date, services.c.end_date)
        .where(services.c.submission_id == submission_id, services.c.ref == ref)
        .order_by(services.c.id)
    )
    for i, service in enumerate(rows, 1):
        start, end = service.start_date, service.end_date
        if start > death or end is None or end > death:
            period = f"{start} – {'' if end is None else end}"
            detail = f"tjenesteID {short(service.tjeneste_id)}: {period}, dødsdato {death}"
            out.append(finding_row(submission_id, ref, SERVICE_AFTER_REGISTER_DEATH, f"tjenester[{i}]", detail))
    return out


def _unknown_findings(conn: Connection, judged: Sequence[str], year: int) -> list[FindingRow]:
    """K035: each record whose pseudonym is in no active extract of ``year`` (the caller knows the year complete;
    a superseded extract's numbers are deleted with it)."""
    of_year = (
        select(register_numbers.c.pseudonym)
        .join(register_extracts, register_extracts.c.message_id == register_numbers.c.extract_id)
        .where(register_extracts.c.year == year, register_numbers.c.pseudonym == persons.c.pseudonym)
    )
    query = (
        select(persons.c.submission_id, persons.c.ref)
        .where(persons.c.submission_id.in_(judged), persons.c.pseudonym.is_not(None), ~of_year.exists())
        .order_by(persons.c.submission_id, persons.c.ref)
    )
    return [
        finding_row(submission_id, ref, UNKNOWN_TO_REGISTER, "fid", None) for submission_id, ref in conn.execute(query)
    ]


def _never_resident_findings(conn: Connection, judged: Sequence[str]) -> list[FindingRow]:
    """K040: each record whose pseudonym some active extract lists (of any year: a superseded extract's numbers are
    deleted with it), while no person line listing it has a residence period in the submission's municipality."""
    known = select(register_numbers.c.pseudonym).where(register_numbers.c.pseudonym == persons.c.pseudonym)
    lived_there = (
        select(register_numbers.c.pseudonym)
        .join(
            register_residences,
            and_(
                register_residences.c.extract_id == register_numbers.c.extract_id,
                register_residences.c.n == register_numbers.c.n,
            ),
        )
        .where(
            register_numbers.c.pseudonym == persons.c.pseudonym,
            register_residences.c.municipality == submissions.c.municipality,
        )
    )
    query = (
        select(persons.c.submission_id, persons.c.ref)
        .join(submissions, submissions.c.message_id == persons.c.submission_id)
        .where(
            persons.c.submission_id.in_(judged),
            persons.c.pseudonym.is_not(None),
            known.exists(),
            ~lived_there.exists(),
        )
        .order_by(persons.c.submission_id, persons.c.ref)
    )
    return [finding_row(submission_id, ref, NEVER_RESIDENT, "fid", None) for submission_id, ref in conn.execute(query)]
