"""A sharp drop in persons is held, not applied: the active year stays until the municipality confirms.

Against the real repository on SQLite and PostgreSQL (the ``engine`` fixture): what is stored, what the statistics
count, what the audit log says, and what a confirmation swaps in one transaction.
"""

from __future__ import annotations

import dataclasses

import pytest
from nacl.signing import SigningKey
from sqlalchemy import Engine

from services.kit.audit_log import AuditLog
from services.registry_intake import models
from services.registry_intake.read import SubmissionQueries
from services.registry_intake.repository import NotHeld, StaleSubmission, SubmissionRepository
from services.registry_intake.submissions import IncomingSubmission
from shared.audit import AuditEntry, parse_entry

from .test_storage import RECORD_TABLES, active_pointer, incoming, make_records, stored_rows

HOLD = 0.5


def declared(sub: IncomingSubmission, persons: int) -> IncomingSubmission:
    return dataclasses.replace(sub, declared_records=persons, pseudonyms_sha256="c" * 64, delivery_sha256="d" * 64)


@pytest.fixture
def audit(engine: Engine) -> AuditLog:
    return AuditLog(engine, models.audit, service="registry", log_name="registry", signing_key=SigningKey.generate())


@pytest.fixture
def repo(engine: Engine, audit: AuditLog) -> SubmissionRepository:
    return SubmissionRepository(engine, audit=audit)


@pytest.fixture
def read(engine: Engine) -> SubmissionQueries:
    return SubmissionQueries(engine)


def log(audit: AuditLog) -> list[AuditEntry]:
    return [parse_entry(stored.entry.encode()) for stored in audit.entries(0)]


def events(audit: AuditLog, message_id: str) -> list[str]:
    return [entry.event for entry in log(audit) if entry.message_id == message_id]


def test_a_sharp_drop_is_held_and_the_active_year_stays(
    engine: Engine, repo: SubmissionRepository, read: SubmissionQueries
) -> None:
    first = repo.store(declared(incoming(1), 10), make_records("one", 10), hold_below=HOLD)
    assert first.status == "active"

    held = repo.store(declared(incoming(2), 4), make_records("two", 4), hold_below=HOLD)

    assert (held.status, held.supersedes, held.record_count) == ("held", None, 4)
    again = read.get(first.message_id)
    assert again is not None
    assert (again.status, again.superseded_by) == ("active", None)
    assert active_pointer(engine) == (first.message_id, 1)
    assert stored_rows(engine, first.message_id)["persons"] == 10  # nothing of the year was deleted
    assert stored_rows(engine, held.message_id)["persons"] == 4  # kept, ready to be applied
    # The statistics count the active submission only.
    assert [y.persons for y in read.persons_per_year("0301")] == [10]


@pytest.mark.parametrize(("persons", "status"), [(5, "active"), (4, "held")], ids=["half", "under-half"])
def test_the_threshold_is_a_share_of_the_active_persons(repo: SubmissionRepository, persons: int, status: str) -> None:
    repo.store(declared(incoming(1), 10), make_records("one", 10), hold_below=HOLD)
    assert repo.store(declared(incoming(2), persons), make_records("two", persons), hold_below=HOLD).status == status


def test_no_hold_without_an_active_submission_or_with_the_rule_off(repo: SubmissionRepository) -> None:
    assert repo.store(declared(incoming(1), 1), make_records("one", 1), hold_below=HOLD).status == "active"
    assert repo.store(declared(incoming(2, year=2023), 1), make_records("a", 1), hold_below=HOLD).status == "active"
    repo.store(declared(incoming(3), 100), make_records("big", 100), hold_below=HOLD)
    assert repo.store(declared(incoming(4), 1), make_records("small", 1), hold_below=0).status == "active"


def test_confirming_applies_the_held_submission_in_one_step(
    engine: Engine, repo: SubmissionRepository, read: SubmissionQueries, audit: AuditLog
) -> None:
    first = repo.store(declared(incoming(1), 10), make_records("one", 10), hold_below=HOLD)
    held = repo.store(declared(incoming(2), 3), make_records("two", 3), hold_below=HOLD)

    applied = repo.confirm(held.message_id, "e" * 64)

    assert (applied.status, applied.supersedes, applied.record_count) == ("active", first.message_id, 3)
    old = read.get(first.message_id)
    assert old is not None
    assert (old.status, old.superseded_by) == ("superseded", held.message_id)
    assert stored_rows(engine, first.message_id) == {t.name: 0 for t in RECORD_TABLES}  # the seed's rule
    assert stored_rows(engine, held.message_id)["persons"] == 3
    assert active_pointer(engine) == (held.message_id, 2)
    assert events(audit, held.message_id) == ["held", "stored"]
    assert events(audit, first.message_id) == ["stored", "superseded"]
    stored_entry = [e for e in log(audit) if e.event == "stored"][-1]
    assert stored_entry.facts["confirmation_sha256"] == "e" * 64
    assert (stored_entry.facts["pseudonyms_sha256"], stored_entry.facts["delivery_sha256"]) == ("c" * 64, "d" * 64)
    assert stored_entry.facts["records"] == 3

    with pytest.raises(NotHeld) as again:  # a second confirmation changes nothing
        repo.confirm(held.message_id, "e" * 64)
    assert again.value.submission.status == "active"
    with pytest.raises(KeyError):
        repo.confirm("00000000-0000-4000-8000-00000000beef", "e" * 64)


def test_a_newer_submission_discards_the_held_one(
    engine: Engine, repo: SubmissionRepository, read: SubmissionQueries, audit: AuditLog
) -> None:
    first = repo.store(declared(incoming(1), 10), make_records("one", 10), hold_below=HOLD)
    held = repo.store(declared(incoming(2), 2), make_records("two", 2), hold_below=HOLD)

    newer = repo.store(declared(incoming(3), 9), make_records("three", 9), hold_below=HOLD)

    assert (newer.status, newer.supersedes) == ("active", first.message_id)
    gone = read.get(held.message_id)
    assert gone is not None
    # Never applied, and never will be: refused, so its receipt says so (not "stored").
    assert (gone.status, gone.refusal_reason, gone.superseded_by) == ("refused", "held-discarded", newer.message_id)
    assert stored_rows(engine, held.message_id)["persons"] == 0
    assert events(audit, held.message_id) == ["held", "refused"]
    assert [e.facts["problem"] for e in log(audit) if e.message_id == held.message_id and e.event == "refused"] == [
        "held-discarded"
    ]
    with pytest.raises(NotHeld) as not_held:
        repo.confirm(held.message_id, "e" * 64)
    assert not_held.value.submission.status == "refused"


def test_a_second_held_submission_replaces_the_first_held_one(
    engine: Engine, repo: SubmissionRepository, read: SubmissionQueries
) -> None:
    repo.store(declared(incoming(1), 10), make_records("one", 10), hold_below=HOLD)
    older = repo.store(declared(incoming(2), 2), make_records("two", 2), hold_below=HOLD)
    newer = repo.store(declared(incoming(3), 3), make_records("three", 3), hold_below=HOLD)
    assert newer.status == "held"
    gone = read.get(older.message_id)
    assert gone is not None
    assert (gone.status, gone.refusal_reason) == ("refused", "held-discarded")
    assert stored_rows(engine, older.message_id)["persons"] == 0
    assert [s.status for s in read.list("0301", 2024)].count("held") == 1


@pytest.mark.parametrize("persons", [10, 2], ids=["a full year", "few persons"])
def test_a_submission_older_than_the_held_one_is_stale(
    engine: Engine, repo: SubmissionRepository, persons: int
) -> None:
    # Held at sequence 7; then sequence 5 arrives late. The held one is what the municipality sent last: the older
    # one replaces nothing and is not held beside it (at most one waits for confirmation, the newest).
    first = repo.store(declared(incoming(1), 10), make_records("one", 10), hold_below=HOLD)
    held = repo.store(declared(incoming(7), 4), make_records("two", 4), hold_below=HOLD)
    late = declared(incoming(5), persons)
    with pytest.raises(StaleSubmission) as stale:
        repo.store(late, make_records("three", persons), hold_below=HOLD)
    assert (stale.value.active_sequence, stale.value.refused.status) == (7, "refused")
    assert stored_rows(engine, late.message_id)["persons"] == 0
    assert active_pointer(engine) == (first.message_id, 1)
    assert repo.confirm(held.message_id, "e" * 64).supersedes == first.message_id


def test_confirming_a_held_submission_older_than_the_active_one_refuses_it(
    engine: Engine, repo: SubmissionRepository
) -> None:
    repo.store(declared(incoming(1), 10), make_records("one", 10), hold_below=HOLD)
    held = repo.store(declared(incoming(5), 2), make_records("two", 2), hold_below=HOLD)
    # An active sequence past the held one's that did not discard it (as a store from an older version, or an
    # operator's repair, could leave it): the confirmation itself must still refuse to go back in time.
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE municipality_years SET active_sequence = 6 WHERE municipality = '0301' AND year = 2024"
        )
    with pytest.raises(StaleSubmission) as refused:
        repo.confirm(held.message_id, "e" * 64)
    assert (refused.value.refused.status, refused.value.refused.refusal_reason) == ("refused", "stale-sequence")
    assert stored_rows(engine, held.message_id)["persons"] == 0
