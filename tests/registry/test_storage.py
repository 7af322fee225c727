"""The registry's storage: replace-by-year, stale and replayed submissions, atomicity, concurrency, schema.

Every test with the ``engine`` fixture runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import OperationalError, StatementError

from services.kit.database import make_engine, upgrade_database
from services.registry_intake.migrations import SCRIPT_LOCATION
from services.registry_intake.models import (
    findings,
    metadata,
    municipality_years,
    persons,
    services,
)
from services.registry_intake.read import SubmissionQueries
from services.registry_intake.repository import ReplayedMessage, StaleSubmission, SubmissionRepository
from services.registry_intake.repository.bulk import PERSON_CHILDREN
from services.registry_intake.submissions import IncomingSubmission, StoredRecord, StoredSubmission
from shared.iplos.model import (
    FUNCTION_VARIABLES,
    CodeSystem,
    Diagnosis,
    FidType,
    FunctionScore,
    PayloadRecord,
    Service,
    Sex,
)

from .conftest import head_revision, sqlite_engine

Records = list[StoredRecord]

T0 = dt.datetime(2025, 2, 1, 9, 0, tzinfo=dt.UTC)
ASSESSED = dt.date(2024, 3, 1)
RECORD_TABLES = (persons, *PERSON_CHILDREN, findings)
# What the records of make_records() do not have.
NONE_OF_THE_REST = {"other_function_scores": 0, "refusals": 0, "complaints": 0, "coercion_decisions": 0, "findings": 0}


# -- building submissions by hand --------------------------------------------------------------------------


def payload_record(ref: str, *, n_services: int = 6) -> PayloadRecord:
    """A person with ``n_services`` services, all 17 function scores and 2 diagnoses."""
    return PayloadRecord(
        ref=ref,
        birth_year=1938,
        sex=Sex.FEMALE,
        fid_type=FidType.FNR,
        function_scores=tuple(FunctionScore(v, 3, ASSESSED) for v in FUNCTION_VARIABLES),
        diagnoses=(Diagnosis(CodeSystem.ICPC2, "T90"), Diagnosis(CodeSystem.ICD10, "I10")),
        services=tuple(
            Service(
                tjeneste_id=f"{ref}-s{k}",
                tjeneste_type=(6, 15, 21, 26, 28, 29)[k % 6],
                decision_date=dt.date(2024, 1, 10),
                start_date=dt.date(2024, 1, 15),
                end_date=None if k else dt.date(2024, 6, 30),
                hours_per_week=7.5 if k else None,
                org_nr="974760673",
            )
            for k in range(n_services)
        ),
    )


def pseudonym(ref: str) -> bytes:
    return hashlib.sha256(f"test-pseudonym/{ref}".encode()).digest()


def make_records(prefix: str, count: int, *, refused: tuple[int, ...] = ()) -> Records:
    """``count`` records; those at the indexes in ``refused`` had their identity number refused by the TPF."""
    out: Records = []
    for i in range(count):
        ref = f"{prefix}-{i:05d}"
        if i in refused:
            out.append((payload_record(ref), None, "invalid-check-digits", ()))
        else:
            out.append((payload_record(ref), pseudonym(ref), "ok", ()))
    return out


def incoming(
    sequence: int = 1,
    *,
    municipality: str = "0301",
    year: int = 2024,
    message_id: str | None = None,
    received_at: dt.datetime | None = None,
    bydel_nr: str | None = None,
) -> IncomingSubmission:
    return IncomingSubmission(
        message_id=message_id or str(uuid.uuid4()),
        municipality=municipality,
        year=year,
        sequence=sequence,
        sender=f"kommune-{municipality}",
        header_sha256="a" * 64,
        payload_sha256="b" * 64,
        pseudonym_key_version=1,
        received_at=received_at or T0 + dt.timedelta(minutes=sequence % 1_000_000),
        bydel_nr=bydel_nr,
    )


def never_iterated() -> Iterator[StoredRecord]:
    raise AssertionError("the records of a refused submission must not be read")
    yield  # pragma: no cover


def stored_rows(engine: Engine, message_id: str) -> dict[str, int]:
    """Rows per record table that belong to the submission."""
    with engine.connect() as conn:
        return {
            table.name: conn.execute(
                select(func.count()).select_from(table).where(table.c.submission_id == message_id)
            ).scalar_one()
            for table in RECORD_TABLES
        }


def active_pointer(engine: Engine, municipality: str = "0301", year: int = 2024) -> tuple[str | None, int | None]:
    with engine.connect() as conn:
        row = conn.execute(
            select(municipality_years.c.active_message_id, municipality_years.c.active_sequence).where(
                municipality_years.c.municipality == municipality, municipality_years.c.year == year
            )
        ).one()
    return row.active_message_id, row.active_sequence


def actives(read: SubmissionQueries, municipality: str = "0301", year: int = 2024) -> list[StoredSubmission]:
    return [s for s in read.list(municipality, year) if s.status == "active"]


# -- storing and reading -------------------------------------------------------------------------------------


def test_store_then_get_and_list(engine: Engine) -> None:
    repo = SubmissionRepository(engine)
    read = SubmissionQueries(engine)
    oslo_time = dt.timezone(dt.timedelta(hours=1))
    sub = incoming(received_at=dt.datetime(2025, 2, 1, 10, 30, tzinfo=oslo_time))

    stored = repo.store(sub, make_records("a", 5, refused=(3,)))

    assert stored == StoredSubmission(
        message_id=sub.message_id,
        municipality="0301",
        year=2024,
        sequence=1,
        status="active",
        refusal_reason=None,
        received_at=dt.datetime(2025, 2, 1, 9, 30, tzinfo=dt.UTC),
        record_count=5,
        pseudonymised_count=4,
        identity_refused_count=1,
        supersedes=None,
        superseded_by=None,
        header_sha256=sub.header_sha256,
        bydel_nr=None,
        finding_count=0,
        error_count=0,
        warning_count=0,
    )
    assert stored.received_at.utcoffset() == dt.timedelta(0)
    assert read.get(sub.message_id) == stored
    assert read.get(str(uuid.uuid4())) is None
    assert read.list() == [stored]
    assert read.list(municipality="0301", year=2024) == [stored]
    assert read.list(municipality="4601") == []
    assert read.list(year=2023) == []
    assert read.count_records(sub.message_id) == 5
    assert stored_rows(engine, sub.message_id) == {
        "persons": 5,
        "services": 30,
        "function_assessments": 5,  # each person's 17 scores of one day: one row
        "diagnoses": 10,
        **NONE_OF_THE_REST,
    }
    assert active_pointer(engine) == (sub.message_id, 1)


def test_records_are_stored_as_given(engine: Engine) -> None:
    repo = SubmissionRepository(engine)
    sub = incoming()
    repo.store(sub, make_records("a", 2, refused=(1,)))

    with engine.connect() as conn:
        people = conn.execute(select(persons).order_by(persons.c.ref)).all()
        first_services = conn.execute(
            select(services).where(services.c.ref == "a-00000").order_by(services.c.tjeneste_id)
        ).all()
    ok, refused = people
    assert (ok.ref, ok.pseudonym, ok.pseudonym_key_version, ok.identity_status) == (
        "a-00000",
        pseudonym("a-00000"),
        1,
        "ok",
    )
    # The TPF refused this identity number: no pseudonym, the refusal code instead; the data is kept.
    assert (refused.ref, refused.pseudonym, refused.pseudonym_key_version, refused.identity_status) == (
        "a-00001",
        None,
        None,
        "invalid-check-digits",
    )
    assert (ok.birth_year, ok.sex, ok.fid_type) == (1938, "K", "FNR")
    expected = payload_record("a-00000").services
    assert [
        (
            s.tjeneste_id,
            s.tjeneste_type,
            s.decision_date,
            s.start_date,
            s.end_date,
            s.hours_per_week,
            s.org_nr,
        )
        for s in first_services
    ] == [
        (e.tjeneste_id, e.tjeneste_type, e.decision_date, e.start_date, e.end_date, e.hours_per_week, e.org_nr)
        for e in expected
    ]


def test_pseudonym_and_identity_status_must_agree(engine: Engine) -> None:
    repo = SubmissionRepository(engine)
    read = SubmissionQueries(engine)
    record = payload_record("a-00000")
    with pytest.raises(ValueError, match="a-00000"):
        repo.store(incoming(), [(record, None, "ok", ())])
    with pytest.raises(ValueError, match="a-00000"):
        repo.store(incoming(), [(record, pseudonym("a-00000"), "invalid-check-digits", ())])
    assert read.list() == []


def test_naive_received_at_is_refused(engine: Engine) -> None:
    repo = SubmissionRepository(engine)
    read = SubmissionQueries(engine)
    with pytest.raises(StatementError, match="naive datetime"):
        repo.store(incoming(received_at=dt.datetime(2025, 2, 1, 9, 0)), make_records("a", 1))
    assert read.list() == []


# -- replace by year, stale, replay ------------------------------------------------------------------------


def test_newer_sequence_replaces_the_active_submission(engine: Engine) -> None:
    repo = SubmissionRepository(engine)
    read = SubmissionQueries(engine)
    first, second = incoming(1), incoming(2)
    repo.store(first, make_records("one", 3))

    stored = repo.store(second, make_records("two", 4, refused=(0, 1)))

    old = read.get(first.message_id)
    assert old is not None
    assert (old.status, old.superseded_by, old.supersedes) == ("superseded", second.message_id, None)
    assert old.record_count == 3  # what it had: an audit fact, even though its records are gone
    assert (stored.status, stored.supersedes, stored.superseded_by) == ("active", first.message_id, None)
    assert (stored.record_count, stored.pseudonymised_count, stored.identity_refused_count) == (4, 2, 2)
    assert read.count_records(first.message_id) == 0
    assert stored_rows(engine, first.message_id) == {t.name: 0 for t in RECORD_TABLES}
    assert stored_rows(engine, second.message_id) == {
        "persons": 4,
        "services": 24,
        "function_assessments": 4,
        "diagnoses": 8,
        **NONE_OF_THE_REST,
    }
    assert [s.message_id for s in read.list()] == [second.message_id, first.message_id]
    assert active_pointer(engine) == (second.message_id, 2)

    third = repo.store(incoming(5), make_records("three", 1))
    assert [s.status for s in read.list()] == ["active", "superseded", "superseded"]
    assert third.supersedes == second.message_id
    assert read.count_records(second.message_id) == 0


@pytest.mark.parametrize("late_sequence", [2, 3], ids=["older", "equal"])
def test_stale_sequence_is_refused_and_recorded(engine: Engine, late_sequence: int) -> None:
    repo = SubmissionRepository(engine)
    read = SubmissionQueries(engine)
    active = repo.store(incoming(3), make_records("three", 2))
    late = incoming(late_sequence, received_at=T0 + dt.timedelta(hours=1))

    with pytest.raises(StaleSubmission) as caught:
        repo.store(late, never_iterated())

    assert caught.value.active_sequence == 3
    refused = caught.value.refused
    assert (refused.message_id, refused.status, refused.refusal_reason) == (
        late.message_id,
        "refused",
        "stale-sequence",
    )
    assert (refused.record_count, refused.supersedes, refused.superseded_by) == (0, None, None)
    assert read.get(late.message_id) == refused
    assert read.get(active.message_id) == active  # unchanged
    assert read.count_records(active.message_id) == 2
    assert read.count_records(late.message_id) == 0
    assert read.list() == [refused, active]
    assert active_pointer(engine) == (active.message_id, 3)


def test_replay_raises_with_the_original_and_changes_nothing(engine: Engine) -> None:
    repo = SubmissionRepository(engine)
    read = SubmissionQueries(engine)
    first = incoming(1)
    original = repo.store(first, make_records("one", 3))

    for sequence in (1, 2):  # the same message again, or its id on a newer sequence: the id decides
        replay = incoming(sequence, message_id=first.message_id)
        with pytest.raises(ReplayedMessage) as caught:
            repo.store(replay, make_records("again", 7))
        assert caught.value.original == original

    # The id is unique across municipalities and years too.
    with pytest.raises(ReplayedMessage):
        repo.store(incoming(1, municipality="4601", message_id=first.message_id), make_records("x", 1))

    assert read.list() == [original]
    assert read.count_records(first.message_id) == 3
    assert stored_rows(engine, first.message_id)["services"] == 18
    assert active_pointer(engine) == (first.message_id, 1)


def test_replay_of_refused_and_superseded_messages(engine: Engine) -> None:
    repo = SubmissionRepository(engine)
    read = SubmissionQueries(engine)
    first = repo.store(incoming(1), make_records("one", 1))
    second = repo.store(incoming(2), make_records("two", 1))
    with pytest.raises(StaleSubmission) as stale:
        repo.store(incoming(1), never_iterated())
    refused = stale.value.refused
    superseded = read.get(first.message_id)

    with pytest.raises(ReplayedMessage) as caught:
        repo.store(incoming(9, message_id=refused.message_id), make_records("late", 1))
    assert caught.value.original == refused
    with pytest.raises(ReplayedMessage) as caught:
        repo.store(incoming(9, message_id=first.message_id), make_records("late", 1))
    assert caught.value.original == superseded

    assert read.get(second.message_id) == second
    assert read.count_records(second.message_id) == 1
    assert len(read.list()) == 3


# -- atomicity ---------------------------------------------------------------------------------------------


def test_records_failing_half_way_roll_everything_back(engine: Engine) -> None:
    repo = SubmissionRepository(engine, batch_size=10)
    read = SubmissionQueries(engine)
    first = repo.store(incoming(1), make_records("one", 3))
    replacement = incoming(2)

    def failing_records() -> Iterator[StoredRecord]:
        yield from make_records("two", 25)  # two batches of ten are written before the failure
        raise RuntimeError("the last chunk of the payload envelope does not decrypt")

    with pytest.raises(RuntimeError, match="does not decrypt"):
        repo.store(replacement, failing_records())

    assert read.get(replacement.message_id) is None
    assert stored_rows(engine, replacement.message_id) == {t.name: 0 for t in RECORD_TABLES}
    assert read.get(first.message_id) == first  # still active, not superseded
    assert stored_rows(engine, first.message_id)["persons"] == 3
    assert stored_rows(engine, first.message_id)["function_assessments"] == 3
    assert active_pointer(engine) == (first.message_id, 1)

    # The same message can be delivered again, and then it goes through.
    stored = repo.store(replacement, make_records("two", 25))
    assert (stored.status, stored.record_count, stored.supersedes) == ("active", 25, first.message_id)


def test_first_submission_failing_leaves_nothing(engine: Engine) -> None:
    repo = SubmissionRepository(engine)
    read = SubmissionQueries(engine)
    duplicate_ref = make_records("a", 2) + make_records("a", 1)  # one reference twice: the primary key refuses it
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        repo.store(incoming(1), duplicate_ref)
    assert read.list() == []
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(municipality_years)).scalar_one() == 0


# -- independence and concurrency --------------------------------------------------------------------------


def test_municipalities_and_years_are_independent(engine: Engine) -> None:
    repo = SubmissionRepository(engine)
    read = SubmissionQueries(engine)
    oslo_2024 = repo.store(incoming(5), make_records("o24", 2))
    oslo_2023 = repo.store(incoming(1, year=2023), make_records("o23", 1))
    bergen_2024 = repo.store(incoming(1, municipality="4601"), make_records("b24", 3))

    assert all(s.status == "active" for s in (oslo_2024, oslo_2023, bergen_2024))
    assert actives(read) == [oslo_2024]
    assert actives(read, year=2023) == [oslo_2023]
    assert actives(read, municipality="4601") == [bergen_2024]

    with pytest.raises(StaleSubmission):
        repo.store(incoming(4), make_records("o24-old", 1))
    newer_bergen = repo.store(incoming(2, municipality="4601"), make_records("b24-new", 1))
    assert newer_bergen.supersedes == bergen_2024.message_id
    assert read.get(oslo_2024.message_id) == oslo_2024
    assert read.get(oslo_2023.message_id) == oslo_2023
    assert read.count_records(oslo_2024.message_id) == 2


def race(
    repo: SubmissionRepository, older: IncomingSubmission, newer: IncomingSubmission, first: IncomingSubmission | None
) -> tuple[str, str]:
    """Store both from two threads; the status each one got (``refused`` if stale).

    With ``first`` given, the other store starts only once ``first`` is reading its records, that is while its
    transaction is open, so it has to wait for it. Without, the order is left to the scheduler.
    """
    barrier = threading.Barrier(2)
    first_is_storing = threading.Event()

    def slow_records(sub: IncomingSubmission) -> Iterator[StoredRecord]:
        for item in make_records(f"y{sub.year}-s{sub.sequence}", 4):
            if sub is first:
                first_is_storing.set()
            time.sleep(0.01)  # hold the transaction open while the other one arrives
            yield item

    def submit(sub: IncomingSubmission) -> str:
        barrier.wait()
        if first is not None and sub is not first:
            assert first_is_storing.wait(timeout=10)
        try:
            return repo.store(sub, slow_records(sub)).status
        except StaleSubmission as exc:
            return exc.refused.status

    with ThreadPoolExecutor(max_workers=2) as pool:
        older_outcome, newer_outcome = pool.map(submit, (older, newer))
    return older_outcome, newer_outcome


@pytest.mark.parametrize("prior", [False, True], ids=["first-of-year", "replacing"])
@pytest.mark.parametrize("order", ["older-first", "newer-first", "simultaneous"])
def test_concurrent_submissions_of_one_year_serialise(engine: Engine, order: str, prior: bool) -> None:
    """Two submissions of one municipality-year race: whatever the order, the newer one ends up active."""
    repo = SubmissionRepository(engine, batch_size=2)
    read = SubmissionQueries(engine)

    for year in (2022, 2023):
        base = 1 if prior else 0
        if prior:  # the municipality-year row exists, so only its lock can serialise the two
            repo.store(incoming(base, year=year), make_records(f"y{year}-prior", 2))
        older, newer = incoming(base + 1, year=year), incoming(base + 2, year=year)
        first = {"older-first": older, "newer-first": newer}.get(order)

        older_outcome, newer_outcome = race(repo, older, newer, first)

        assert newer_outcome == "active"
        if order != "simultaneous":
            assert older_outcome == ("active" if order == "older-first" else "refused")
        (active,) = actives(read, year=year)
        assert active.message_id == newer.message_id
        assert active.record_count == read.count_records(newer.message_id) == 4
        loser = read.get(older.message_id)
        assert loser is not None
        # Stored first and then superseded, or refused as stale when it came second.
        assert loser.status == {"active": "superseded", "refused": "refused"}[older_outcome]
        assert read.count_records(older.message_id) == 0
        assert active_pointer(engine, year=year) == (newer.message_id, base + 2)


# -- schema and engine -------------------------------------------------------------------------------------


def test_migrated_schema_matches_the_models(engine: Engine) -> None:
    upgrade_database(engine, SCRIPT_LOCATION)  # a second run is a no-op
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
        assert compare_metadata(context, metadata) == []
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar_one() == head_revision()


def test_sqlite_engine_settings(tmp_path: Path) -> None:
    engine = sqlite_engine(tmp_path / "settings.db")
    try:
        with engine.connect() as conn:
            pragmas = {
                name: conn.exec_driver_sql(f"PRAGMA {name}").scalar_one()
                for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
            }
        assert pragmas == {"journal_mode": "wal", "synchronous": 1, "foreign_keys": 1, "busy_timeout": 30_000}
    finally:
        engine.dispose()


def test_sqlite_writers_take_the_write_lock_when_they_begin(tmp_path: Path) -> None:
    path = tmp_path / "locks.db"
    sqlite_engine(path).dispose()
    engine = make_engine(f"sqlite:///{path}", sqlite_busy_timeout_s=0.05)
    try:
        with engine.connect() as writer, engine.connect() as other:
            writer.begin()  # BEGIN IMMEDIATE: the write lock is held before any statement
            with pytest.raises(OperationalError, match="locked"):
                other.begin()
            # A read-only transaction (deferred BEGIN) is not blocked in WAL mode.
            reader = other.execution_options(sqlite_begin="DEFERRED")
            with reader.begin():
                assert reader.execute(select(func.count()).select_from(persons)).scalar_one() == 0
            writer.rollback()
    finally:
        engine.dispose()


def test_sequences_are_64_bit_acceptance_times(engine: Engine) -> None:
    """The gateway numbers submissions by acceptance time in milliseconds: past 2^31 on every backend."""
    repo = SubmissionRepository(engine)
    read = SubmissionQueries(engine)
    first = repo.store(incoming(1_795_000_000_000), make_records("a", 2))
    second = repo.store(incoming(1_795_000_000_001), make_records("b", 2))
    assert (first.sequence, second.sequence) == (1_795_000_000_000, 1_795_000_000_001)
    assert read.get(first.message_id).status == "superseded"  # type: ignore[union-attr]
    with pytest.raises(StaleSubmission) as stale:
        repo.store(incoming(1_794_999_999_999), make_records("c", 1))
    assert stale.value.active_sequence == 1_795_000_000_001
