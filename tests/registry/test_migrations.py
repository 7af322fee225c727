"""Migrations on a database that holds data: 0001 -> head keeps it and reads it back, and head downgrades to 0001.

Each test runs on SQLite and on PostgreSQL, each on a database of its own that starts empty.
"""

from __future__ import annotations

import datetime as dt

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Engine, MetaData, func, select
from sqlalchemy.exc import IntegrityError

from services.registry_intake.migrations import SCRIPT_LOCATION
from services.registry_intake.models import metadata, persons, services
from services.registry_intake.read import SubmissionQueries, stored_function_scores
from services.registry_intake.repository import SubmissionRepository
from services.registry_intake.submissions import ServiceTypeCount, YearCount
from shared.iplos.model import Finding, FunctionScore

from .conftest import head_revision
from .test_findings_and_statistics import read_back, rich_records, severity_of
from .test_storage import RECORD_TABLES, incoming, pseudonym, stored_rows

LEGACY_ID = "00000000-0000-4000-8000-000000000001"
RECEIVED = dt.datetime(2024, 2, 1, 9, 0, tzinfo=dt.UTC)


def migrate(engine: Engine, revision: str, *, down: bool = False) -> None:
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION).replace("%", "%%"))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(config, revision)


def version(engine: Engine) -> str:
    with engine.connect() as conn:
        return str(conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar_one())


def insert_legacy_submission(engine: Engine) -> None:
    """One submission with two persons, as revision 0001 stored it (through its reflected tables)."""
    old = MetaData()
    with engine.begin() as conn:
        old.reflect(conn)
        t = old.tables
        conn.execute(
            t["submissions"].insert(),
            {
                "message_id": LEGACY_ID,
                "municipality": "0301",
                "year": 2024,
                "sequence": 1,
                "status": "active",
                "refusal_reason": None,
                "received_at": RECEIVED,
                "record_count": 2,
                "pseudonymised_count": 2,
                "identity_refused_count": 0,
                "supersedes": None,
                "superseded_by": None,
                "header_sha256": "a" * 64,
                "payload_sha256": "b" * 64,
                "sender": "kommune-0301",
                "pseudonym_key_version": 1,
            },
        )
        conn.execute(
            t["municipality_years"].insert(),
            {"municipality": "0301", "year": 2024, "active_message_id": LEGACY_ID, "active_sequence": 1},
        )
        conn.execute(
            t["persons"].insert(),
            [
                {
                    "submission_id": LEGACY_ID,
                    "ref": ref,
                    "pseudonym": pseudonym(ref),
                    "pseudonym_key_version": 1,
                    "identity_status": "ok",
                    "birth_year": 1940,
                    "sex": "K",
                    "fid_type": "FNR",
                }
                for ref in ("old-1", "old-2")
            ],
        )
        conn.execute(
            t["services"].insert(),
            [
                {
                    "submission_id": LEGACY_ID,
                    "ref": ref,
                    "tjeneste_id": f"{ref}-s{k}",
                    "tjeneste_type": tjeneste_type,
                    "decision_date": dt.date(2024, 1, 10),
                    "start_date": dt.date(2024, 1, 15),
                    "end_date": None,
                    "hours_per_week": 2.5,
                    "org_nr": None,
                }
                for ref in ("old-1", "old-2")
                for k, tjeneste_type in enumerate((15, 21))
            ],
        )
        conn.execute(
            t["function_scores"].insert(),
            {
                "submission_id": LEGACY_ID,
                "ref": "old-1",
                "variable": "spise",
                "score": 3,
                "assessed_on": dt.date(2024, 3, 1),
            },
        )
        conn.execute(
            t["diagnoses"].insert(), {"submission_id": LEGACY_ID, "ref": "old-2", "system": "ICD-10", "code": "F03"}
        )


def test_upgrade_from_0001_keeps_the_data_and_reads_it_back(unmigrated_engine: Engine) -> None:
    engine = unmigrated_engine
    migrate(engine, "0001")
    insert_legacy_submission(engine)

    migrate(engine, "head")

    assert version(engine) == head_revision()
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
        assert compare_metadata(context, metadata) == []
    repo = SubmissionRepository(engine)
    read = SubmissionQueries(engine)
    legacy = read.get(LEGACY_ID)
    assert legacy is not None
    assert (legacy.status, legacy.record_count, legacy.received_at, legacy.bydel_nr) == ("active", 2, RECEIVED, None)
    # Never controlled: no counts, which is not "no findings".
    assert (legacy.finding_count, legacy.error_count, legacy.warning_count) == (None, None, None)
    old = read_back(engine, LEGACY_ID, "old-1")
    assert [(s.tjeneste_type, s.event_type, s.application_date, s.start_date) for s in old.services] == [
        (15, "N", None, dt.date(2024, 1, 15)),
        (21, "N", None, dt.date(2024, 1, 15)),
    ]
    assert old.background.housing is None
    assert old.background.death_date is None
    assert (old.refusals, old.complaints, old.coercion) == ((), (), ())
    assert read.records_per_service_type("0301", 2024) == [ServiceTypeCount(15, 2, 2), ServiceTypeCount(21, 2, 2)]
    assert read.persons_per_year() == [YearCount(2024, 2)]
    assert read.findings(LEGACY_ID) == []

    # The new code replaces the old submission as it would any other.
    new = repo.store(
        incoming(2), rich_records("new", 3, findings_every=2), [Finding("H001", None)], severity_of=severity_of
    )
    assert new.supersedes == LEGACY_ID
    assert stored_rows(engine, LEGACY_ID) == {t.name: 0 for t in RECORD_TABLES}
    superseded = read.get(LEGACY_ID)
    assert superseded is not None
    assert (superseded.status, superseded.finding_count) == ("superseded", None)
    assert (new.finding_count, new.error_count, new.warning_count) == (5, 3, 2)


def test_downgrade_to_0001_keeps_the_original_data_and_upgrades_again(unmigrated_engine: Engine) -> None:
    engine = unmigrated_engine
    migrate(engine, "head")
    repo = SubmissionRepository(engine)
    read = SubmissionQueries(engine)
    records = [record for record, *_ in rich_records("a", 4, findings_every=2)]
    stored = repo.store(incoming(1), rich_records("a", 4, findings_every=2), severity_of=severity_of)

    migrate(engine, "0001", down=True)

    assert version(engine) == "0001"
    old = MetaData()
    with engine.connect() as conn:
        old.reflect(conn)
        assert "findings" not in old.tables
        assert "event_type" not in old.tables["services"].c
        # The persons were not rebuilt: their children are all still there (no cascade on SQLite).
        assert conn.execute(select(func.count()).select_from(old.tables["persons"])).scalar_one() == 4
        assert conn.execute(select(func.count()).select_from(old.tables["services"])).scalar_one() == 12
        # A row per score again: 17 each, and two of the four records scored a variable twice and one unnamed.
        assert conn.execute(select(func.count()).select_from(old.tables["function_scores"])).scalar_one() == 72

    migrate(engine, "head")
    assert read.count_records(stored.message_id) == 4
    for record in records:
        assert read_back(engine, stored.message_id, record.ref).function_scores == record.function_scores
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(services)).scalar_one() == 12
        assert conn.execute(select(func.count()).select_from(persons)).scalar_one() == 4


def test_0004_lets_a_submission_be_held_and_still_refuses_an_unknown_status(unmigrated_engine: Engine) -> None:
    engine = unmigrated_engine
    migrate(engine, "0003")
    insert_legacy_submission(engine)
    with engine.connect() as conn, pytest.raises(IntegrityError):
        conn.exec_driver_sql("UPDATE submissions SET status = 'held'")  # 0003 allows no held submission

    migrate(engine, "0004")
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE submissions SET status = 'held'")
    with engine.connect() as conn, pytest.raises(IntegrityError):
        conn.exec_driver_sql("UPDATE submissions SET status = 'bogus'")
    # The persons that refer to the submission are untouched by the change of the constraint.
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(persons)).scalar_one() == 2

    migrate(engine, "0003", down=True)  # a held submission was never applied: it goes back as refused
    with engine.connect() as conn:
        row = conn.exec_driver_sql("SELECT status, refusal_reason FROM submissions").one()
    assert tuple(row) == ("refused", "held-not-confirmed")
    with engine.connect() as conn:  # a refused submission keeps no records
        assert conn.execute(select(func.count()).select_from(persons)).scalar_one() == 0
    with engine.connect() as conn, pytest.raises(IntegrityError):
        conn.exec_driver_sql("UPDATE submissions SET status = 'held', refusal_reason = NULL")


def test_0007_moves_every_function_score_into_day_rows_and_back(unmigrated_engine: Engine) -> None:
    engine = unmigrated_engine
    migrate(engine, "0006")
    insert_legacy_submission(engine)
    day, later = dt.date(2024, 3, 1), dt.date(2024, 9, 1)
    # Scores as revision 0001 stored them, in this order: old-1 already has spise 3 on `day` (the legacy row).
    scores = [
        ("old-1", "toalett", 2, day),
        ("old-1", "spise", 4, day),  # spise again on the same day: the day's second row
        ("old-1", "spise", 5, later),
        ("old-1", "nyVariabel", 7, day),  # no column: kept a row per score
        ("old-2", "horsel", 1, later),
    ]
    old = MetaData()
    with engine.begin() as conn:
        old.reflect(conn)
        conn.execute(
            old.tables["function_scores"].insert(),
            [
                {"submission_id": LEGACY_ID, "ref": ref, "variable": v, "score": score, "assessed_on": on}
                for ref, v, score, on in scores
            ],
        )

    migrate(engine, "0007")

    with engine.connect() as conn:
        days = conn.exec_driver_sql(
            "SELECT ref, assessed_on, ordinal, spise, toalett, horsel FROM function_assessments"
            " ORDER BY ref, assessed_on, ordinal"
        ).all()
        others = conn.exec_driver_sql("SELECT ref, variable, score FROM other_function_scores").all()
        assert stored_function_scores(conn, LEGACY_ID, "old-1") == (
            FunctionScore("spise", 3, day),
            FunctionScore("toalett", 2, day),
            FunctionScore("spise", 4, day),
            FunctionScore("spise", 5, later),
            FunctionScore("nyVariabel", 7, day),
        )
    assert [(r, str(on), n, s, t, h) for r, on, n, s, t, h in days] == [
        ("old-1", "2024-03-01", 0, 3, 2, None),
        ("old-1", "2024-03-01", 1, 4, None, None),
        ("old-1", "2024-09-01", 0, 5, None, None),
        ("old-2", "2024-09-01", 0, None, None, 1),
    ]
    assert [tuple(row) for row in others] == [("old-1", "nyVariabel", 7)]

    migrate(engine, "0006", down=True)

    with engine.connect() as conn:
        back = conn.exec_driver_sql("SELECT ref, variable, score, assessed_on FROM function_scores").all()
    expected = [("old-1", "spise", 3, day), *scores]
    assert sorted((r, v, s, str(on)) for r, v, s, on in back) == sorted((r, v, s, str(on)) for r, v, s, on in expected)
