"""The registry's storage since migration 0002: every IPLOS variable, the controls' findings, the statistics.

Every test with the ``engine`` fixture runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, Table, select

from services.registry_intake.models import (
    coercion_decisions,
    complaints,
    diagnoses,
    findings,
    persons,
    refusals,
    services,
)
from services.registry_intake.read import SubmissionQueries, stored_function_scores
from services.registry_intake.repository import StaleSubmission, SubmissionRepository
from services.registry_intake.repository.bulk import PERSON_CHILDREN
from services.registry_intake.submissions import RuleCount, ServiceTypeCount, StoredFinding, StoredRecord, YearCount
from shared.iplos.model import (
    FUNCTION_VARIABLES,
    CodeSystem,
    Coercion,
    Complaint,
    Diagnosis,
    FidType,
    Finding,
    FunctionScore,
    PayloadRecord,
    PersonBackground,
    Refusal,
    Service,
    Severity,
    Sex,
)

from .conftest import sqlite_engine
from .test_storage import RECORD_TABLES, incoming, make_records, payload_record, pseudonym, stored_rows

SEVERITY = {"T001": Severity.ERROR, "T002": Severity.WARNING, "H001": Severity.ERROR, "X001": Severity.WARNING}
severity_of = SEVERITY.__getitem__


def _scores(k: int) -> tuple[FunctionScore, ...]:
    """Every variable, each on a day of its own; for odd ``k`` also the first variable scored twice on its day and
    a variable the export schema does not name (a newer minor version's): every way the scores are stored."""
    scores = [
        FunctionScore(v, (1, 2, 3, 4, 5, 9)[(i + k) % 6], dt.date(2024, 3, 1 + i % 28))
        for i, v in enumerate(FUNCTION_VARIABLES)
    ]
    if k % 2:
        # In the order the stored scores read back in: by day, the day's second row after its first, the
        # variables without a column last.
        scores.insert(1, FunctionScore(FUNCTION_VARIABLES[0], 0, dt.date(2024, 3, 1)))
        scores.append(FunctionScore("nyVariabel" + "x" * 54, 7, dt.date(2024, 4, 1)))
    return tuple(scores)


def rich_record(ref: str, k: int = 0) -> PayloadRecord:
    """A person with every variable set (``k`` varies the values); odd ``k``: the background left empty."""
    background = (
        PersonBackground(
            housing=2,
            household=1,
            unpaid_help=True,
            assisted_communication=False,
            death_date=dt.date(2024, 11, 30),
            assessed_by_doctor=dt.date(2024, 2, 1),
            assessed_by_dentist=dt.date(2023, 9, 15),
            individual_plan=False,
        )
        if k % 2 == 0
        else PersonBackground()
    )
    return PayloadRecord(
        ref=ref,
        birth_year=1930 + k,
        sex=Sex.MALE if k % 2 else Sex.FEMALE,
        fid_type=FidType.DNR if k % 3 == 1 else FidType.FNR,
        function_scores=_scores(k),
        diagnoses=(Diagnosis(CodeSystem.ICD10, "F03"), Diagnosis(CodeSystem.ICPC2, "P70")),
        services=(
            Service("s1", 15, dt.date(2024, 1, 10), dt.date(2024, 1, 15), None, 4.5, "974760673"),
            Service(
                "s2",
                21,
                dt.date(2024, 5, 2),
                dt.date(2024, 5, 6),
                dt.date(2024, 11, 30),
                None,
                None,
                application_date=dt.date(2024, 4, 20),
                event_type="M",
            ),
            # The seeds' kind of fault: a start in the 1800s. Stored as given; the controls report it.
            Service("s3", 6, None, dt.date(1899, 12, 31), None, None, None, application_date=None, event_type="C"),
        ),
        background=background,
        refusals=(
            Refusal(tjeneste_type=8, application_date=dt.date(2024, 2, 1), decision_date=dt.date(2024, 2, 20)),
            Refusal(tjeneste_type=3, application_date=None, decision_date=dt.date(2024, 6, 1)),
        ),
        complaints=(Complaint(tjeneste_type=8, complaint_date=dt.date(2024, 3, 5), outcome="ikke-medhold"),),
        coercion=(
            Coercion(
                vedtak_id=f"{ref}-tv1",
                legal_basis="PBRL4A",
                decision_date=dt.date(2024, 7, 1),
                start_date=dt.date(2024, 7, 2),
                end_date=None,
            ),
        )
        if k % 2 == 0
        else (),
    )


def rich_records(prefix: str, count: int, *, findings_every: int = 0) -> list[StoredRecord]:
    """``count`` rich records; every ``findings_every``-th one carries two findings (0: none)."""
    out: list[StoredRecord] = []
    for i in range(count):
        ref = f"{prefix}-{i:05d}"
        found: tuple[Finding, ...] = ()
        if findings_every and i % findings_every == 0:
            found = (
                Finding("T001", ref, "tjeneste[3].startdato", "start before 1900"),
                Finding("T002", ref),
            )
        out.append((rich_record(ref, i), pseudonym(ref), "ok", found))
    return out


def _by_id(engine: Engine, table: Table, sid: str, ref: str) -> list[Any]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(table).where(table.c.submission_id == sid, table.c.ref == ref).order_by(table.c.id)
            ).all()
        )


def read_back(engine: Engine, sid: str, ref: str) -> PayloadRecord:
    """The record as stored, rebuilt from its rows through SQLAlchemy (types included)."""
    with engine.connect() as conn:
        p = conn.execute(select(persons).where(persons.c.submission_id == sid, persons.c.ref == ref)).one()
        scores = stored_function_scores(conn, sid, ref)
    return PayloadRecord(
        ref=p.ref,
        birth_year=p.birth_year,
        sex=None if p.sex is None else Sex(p.sex),
        fid_type=FidType(p.fid_type),
        function_scores=scores,
        diagnoses=tuple(Diagnosis(CodeSystem(r.system), r.code) for r in _by_id(engine, diagnoses, sid, ref)),
        services=tuple(
            Service(
                r.tjeneste_id,
                r.tjeneste_type,
                r.decision_date,
                r.start_date,
                r.end_date,
                r.hours_per_week,
                r.org_nr,
                application_date=r.application_date,
                event_type=r.event_type,
            )
            for r in _by_id(engine, services, sid, ref)
        ),
        background=PersonBackground(
            housing=p.housing,
            household=p.household,
            unpaid_help=p.unpaid_help,
            assisted_communication=p.assisted_communication,
            death_date=p.death_date,
            assessed_by_doctor=p.assessed_by_doctor,
            assessed_by_dentist=p.assessed_by_dentist,
            individual_plan=p.individual_plan,
        ),
        refusals=tuple(
            Refusal(r.tjeneste_type, r.application_date, r.decision_date) for r in _by_id(engine, refusals, sid, ref)
        ),
        complaints=tuple(
            Complaint(r.tjeneste_type, r.complaint_date, r.outcome) for r in _by_id(engine, complaints, sid, ref)
        ),
        coercion=tuple(
            Coercion(r.vedtak_id, r.legal_basis, r.decision_date, r.start_date, r.end_date)
            for r in _by_id(engine, coercion_decisions, sid, ref)
        ),
    )


def assert_same_types(stored: PayloadRecord, original: PayloadRecord) -> None:
    """Equal dataclasses could still hide ``1 == True`` or a datetime for a date: compare the types too."""
    assert stored == original

    def parts(r: PayloadRecord) -> tuple[Any, ...]:
        return (r.background, *r.services, *r.refusals, *r.complaints, *r.coercion, *r.function_scores)

    for got, want in zip(parts(stored), parts(original), strict=True):
        for field in dataclasses.fields(got):
            assert type(getattr(got, field.name)) is type(getattr(want, field.name)), field.name


# -- every variable round-trips ------------------------------------------------------------------------------


def test_every_variable_round_trips(engine: Engine) -> None:
    repo = SubmissionRepository(engine, batch_size=3)
    read = SubmissionQueries(engine)
    sub = incoming(bydel_nr="030105")
    records = rich_records("a", 7)

    stored = repo.store(sub, records)

    assert stored.bydel_nr == "030105"
    assert read.get(sub.message_id) == stored
    for record, _, _, _ in records:
        assert_same_types(read_back(engine, sub.message_id, record.ref), record)
    assert stored_rows(engine, sub.message_id) == {
        "persons": 7,
        "services": 21,
        "function_assessments": 7 * 17 + 3,  # a row per day; three of the seven scored a variable twice
        "other_function_scores": 3,
        "diagnoses": 14,
        "refusals": 14,
        "complaints": 7,
        "coercion_decisions": 4,
        "findings": 0,
    }


# -- findings ---------------------------------------------------------------------------------------------------


def test_findings_are_stored_in_order_and_counted(engine: Engine) -> None:
    repo = SubmissionRepository(engine, batch_size=2)
    read = SubmissionQueries(engine)
    sub = incoming()
    records = rich_records("a", 5, findings_every=2)  # a-00000, a-00002, a-00004: T001 and T002 each
    header_finding = Finding("H001", None, "meldingshode.kommuneNr", "not valid in 2024")
    cross_record = Finding("X001", "a-00003", detail="same tjenesteID as a-00001")

    stored = repo.store(sub, records, [header_finding, cross_record], severity_of=severity_of)

    assert (stored.finding_count, stored.error_count, stored.warning_count) == (8, 4, 4)
    assert read.findings(sub.message_id) == [
        StoredFinding(None, "H001", "error", "meldingshode.kommuneNr", "not valid in 2024"),
        StoredFinding("a-00000", "T001", "error", "tjeneste[3].startdato", "start before 1900"),
        StoredFinding("a-00000", "T002", "warning", None, None),
        StoredFinding("a-00002", "T001", "error", "tjeneste[3].startdato", "start before 1900"),
        StoredFinding("a-00002", "T002", "warning", None, None),
        StoredFinding("a-00004", "T001", "error", "tjeneste[3].startdato", "start before 1900"),
        StoredFinding("a-00004", "T002", "warning", None, None),
        StoredFinding("a-00003", "X001", "warning", None, "same tjenesteID as a-00001"),
    ]
    assert read.finding_counts(sub.message_id) == {"H001": 1, "T001": 3, "T002": 3, "X001": 1}
    assert read.findings("no-such-submission") == []
    assert read.finding_counts("no-such-submission") == {}


def test_submission_findings_may_be_appended_while_the_records_stream(engine: Engine) -> None:
    repo = SubmissionRepository(engine)
    read = SubmissionQueries(engine)
    late: list[Finding] = []

    def streaming() -> Iterator[StoredRecord]:
        yield from make_records("a", 3)
        late.append(Finding("X001", "a-00001", detail="found across records, at the end"))

    stored = repo.store(incoming(), streaming(), late, severity_of=severity_of)

    assert stored.finding_count == stored.warning_count == 1
    assert [(f.ref, f.code) for f in read.findings(stored.message_id)] == [("a-00001", "X001")]


def test_findings_need_a_valid_severity_and_their_own_record(engine: Engine) -> None:
    repo = SubmissionRepository(engine)
    read = SubmissionQueries(engine)
    record = payload_record("a-00000")
    own = Finding("T001", "a-00000")

    with pytest.raises(ValueError, match="severity_of"):
        repo.store(incoming(), [(record, pseudonym("a-00000"), "ok", [own])])
    with pytest.raises(ValueError, match="'fatal'"):
        repo.store(incoming(), [(record, pseudonym("a-00000"), "ok", [own])], severity_of=lambda code: "fatal")
    with pytest.raises(ValueError, match="about record a-99999"):
        repo.store(
            incoming(), [(record, pseudonym("a-00000"), "ok", [Finding("T001", "a-99999")])], severity_of=severity_of
        )
    with pytest.raises(ValueError, match="about record None"):
        repo.store(incoming(), [(record, pseudonym("a-00000"), "ok", [Finding("T001", None)])], severity_of=severity_of)
    # A submission-level finding naming a record must name one of this submission's (foreign key).
    with pytest.raises(Exception, match=r"(?i)foreign key"):
        repo.store(incoming(), make_records("a", 2), [Finding("X001", "a-77777")], severity_of=severity_of)
    assert read.list() == []


def test_replacement_deletes_the_old_records_and_findings_and_keeps_its_counts(engine: Engine) -> None:
    repo = SubmissionRepository(engine)
    read = SubmissionQueries(engine)
    first = repo.store(
        incoming(1), rich_records("one", 6, findings_every=3), [Finding("H001", None)], severity_of=severity_of
    )
    assert (first.finding_count, first.error_count, first.warning_count) == (5, 3, 2)
    untouched = repo.store(incoming(1, year=2023), rich_records("y23", 2, findings_every=1), severity_of=severity_of)

    second = repo.store(incoming(2), rich_records("two", 4, findings_every=4), severity_of=severity_of)

    old = read.get(first.message_id)
    assert old is not None
    assert old.status == "superseded"
    assert (old.record_count, old.finding_count, old.error_count, old.warning_count) == (6, 5, 3, 2)
    assert stored_rows(engine, first.message_id) == {t.name: 0 for t in RECORD_TABLES}
    assert read.findings(first.message_id) == []
    assert read.finding_counts(second.message_id) == {"T001": 1, "T002": 1}
    assert stored_rows(engine, untouched.message_id)["findings"] == 4
    assert stored_rows(engine, second.message_id)["coercion_decisions"] == 2


def test_records_failing_half_way_leave_no_findings(engine: Engine) -> None:
    repo = SubmissionRepository(engine, batch_size=10)
    read = SubmissionQueries(engine)
    first = repo.store(incoming(1), rich_records("one", 3, findings_every=1), severity_of=severity_of)
    replacement = incoming(2)

    def failing_records() -> Iterator[StoredRecord]:
        yield from rich_records("two", 25, findings_every=2)  # two batches with findings are written first
        raise RuntimeError("the last chunk of the payload envelope does not decrypt")

    with pytest.raises(RuntimeError, match="does not decrypt"):
        repo.store(replacement, failing_records(), [Finding("H001", None)], severity_of=severity_of)

    assert read.get(replacement.message_id) is None
    assert stored_rows(engine, replacement.message_id) == {t.name: 0 for t in RECORD_TABLES}
    assert read.get(first.message_id) == first
    assert read.finding_counts(first.message_id) == {"T001": 3, "T002": 3}
    assert stored_rows(engine, first.message_id)["refusals"] == 6


def test_stale_submission_stores_no_findings(engine: Engine) -> None:
    repo = SubmissionRepository(engine)
    read = SubmissionQueries(engine)
    repo.store(incoming(3), make_records("a", 1))
    with pytest.raises(StaleSubmission) as caught:
        repo.store(
            incoming(2), rich_records("b", 2, findings_every=1), [Finding("H001", None)], severity_of=severity_of
        )
    refused = caught.value.refused
    assert (refused.status, refused.finding_count, refused.error_count, refused.warning_count) == ("refused", 0, 0, 0)
    assert read.findings(refused.message_id) == []


# -- statistics -------------------------------------------------------------------------------------------------


def test_statistics_count_the_active_submissions_only(engine: Engine) -> None:
    repo = SubmissionRepository(engine, batch_size=4)
    read = SubmissionQueries(engine)
    # Oslo 2024: replaced once (the first one's rows must not count); Bergen 2024; Oslo 2023.
    repo.store(incoming(1), rich_records("o24-old", 9, findings_every=1), severity_of=severity_of)
    repo.store(incoming(2), rich_records("o24", 5, findings_every=2), severity_of=severity_of)
    repo.store(
        incoming(1, municipality="4601"), make_records("b24", 3), [Finding("H001", None)], severity_of=severity_of
    )
    repo.store(incoming(1, year=2023), rich_records("o23", 2, findings_every=1), severity_of=severity_of)

    # rich records: types 15, 21, 6 once each; make_records: 6, 15, 21, 26, 28, 29 once each.
    assert read.records_per_service_type("0301", 2024) == [
        ServiceTypeCount(6, 5, 5),
        ServiceTypeCount(15, 5, 5),
        ServiceTypeCount(21, 5, 5),
    ]
    assert read.records_per_service_type(None, 2024) == [
        ServiceTypeCount(6, 8, 8),
        ServiceTypeCount(15, 8, 8),
        ServiceTypeCount(21, 8, 8),
        ServiceTypeCount(26, 3, 3),
        ServiceTypeCount(28, 3, 3),
        ServiceTypeCount(29, 3, 3),
    ]
    assert read.records_per_service_type("4601", 2023) == []

    assert read.persons_per_year() == [YearCount(2023, 2), YearCount(2024, 8)]
    assert read.persons_per_year("0301") == [YearCount(2023, 2), YearCount(2024, 5)]
    assert read.persons_per_year("4601") == [YearCount(2024, 3)]
    assert read.persons_per_year("5001") == []

    assert read.findings_by_rule() == [
        RuleCount("H001", 1, 1),
        RuleCount("T001", 5, 2),
        RuleCount("T002", 5, 2),
    ]
    assert read.findings_by_rule(2024) == [RuleCount("H001", 1, 1), RuleCount("T001", 3, 1), RuleCount("T002", 3, 1)]
    assert read.findings_by_rule(2024, municipality="4601") == [RuleCount("H001", 1, 1)]
    assert read.findings_by_rule(2022) == []


def test_service_type_counts_persons_once_per_submission(engine: Engine) -> None:
    """Two service lines of one type for one person: one person, two services. The same reference in two
    submissions (references are only unique within one): two persons."""
    repo = SubmissionRepository(engine)
    read = SubmissionQueries(engine)
    record = payload_record("same-ref", n_services=7)  # types 6, 15, 21, 26, 28, 29, 6
    repo.store(incoming(1), [(record, pseudonym("x"), "ok", ())])
    repo.store(incoming(1, municipality="4601"), [(record, pseudonym("y"), "ok", ())])

    counts = {c.tjeneste_type: (c.persons, c.services) for c in read.records_per_service_type(None, 2024)}
    assert counts[6] == (2, 4)
    assert counts[15] == (2, 2)


# -- the SQLite fast path ---------------------------------------------------------------------------------------


def test_sqlite_fast_path_stores_values_exactly_as_sqlalchemy_would(tmp_path: Path) -> None:
    """Rows written straight to the sqlite3 cursor hold the same values of the same storage classes as rows
    written through SQLAlchemy's types (dates as ``YYYY-MM-DD`` text, booleans as integers), and read back
    through SQLAlchemy as ``date`` and ``bool``."""
    engine = sqlite_engine(tmp_path / "fast.db")
    try:
        repo = SubmissionRepository(engine)
        sub = incoming()
        record = rich_record("fast", 0)
        early = Service("early", 6, dt.date(999, 1, 2), dt.date(1, 1, 1), dt.date(9999, 12, 31), 0.5, None)
        unnamed = FunctionScore("nyVariabel", 7, dt.date(9999, 12, 31))  # a row of other_function_scores
        record = PayloadRecord(
            **{
                **_fields(record),
                "services": (*record.services, early),
                "function_scores": (*record.function_scores, unnamed),
            }
        )
        repo.store(
            sub, [(record, pseudonym("fast"), "ok", [Finding("T001", "fast", "f", "d")])], severity_of=severity_of
        )
        assert_same_types(read_back(engine, sub.message_id, "fast"), record)

        tables: Sequence[Table] = (persons, *PERSON_CHILDREN)
        with engine.begin() as conn:
            # The same rows again, through SQLAlchemy Core, under another reference.
            for table in (*tables, findings):
                rows = conn.execute(select(table).where(table.c.ref == "fast")).mappings().all()
                copies = [{k: v for k, v in row.items() if k != "id"} | {"ref": "core"} for row in rows]
                conn.execute(table.insert(), copies)
            for table in (*tables, findings):
                names = [c.name for c in table.columns if c.name not in {"id", "ref"}]
                raw = ", ".join(f"typeof({n}), {n}" for n in names)
                # A WITHOUT ROWID table (function_assessments) has its key's order instead of a rowid.
                key = [c.name for c in table.primary_key.columns if c.name != "ref"]
                order = "rowid" if table.dialect_options["sqlite"]["with_rowid"] else ", ".join(key)
                fast, core = (
                    conn.exec_driver_sql(f"SELECT {raw} FROM {table.name} WHERE ref = ? ORDER BY {order}", (ref,)).all()  # noqa: S608
                    for ref in ("fast", "core")
                )
                assert fast == core, table.name
                assert fast, table.name
            stored_dates = conn.exec_driver_sql(
                "SELECT decision_date, start_date, end_date FROM services WHERE ref = 'fast' AND tjeneste_id = 'early'"
            ).one()
        assert tuple(stored_dates) == ("0999-01-02", "0001-01-01", "9999-12-31")
    finally:
        engine.dispose()


def _fields(record: PayloadRecord) -> dict[str, Any]:
    return {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}
