"""Lifting a sequence block (``repository/sequence_block.py``), against the real repository on SQLite and PostgreSQL.

A block is a stored sequence later than the clock plus the skew, as the repository stored it before receivers
bounded the sequence (it stores what it is given). Lifting an active one keeps it active with its records and sets
the year's floor to now; a held one is refused and its records deleted; each in one transaction with its audit
entries. Nothing blocking: nothing changes, nothing is written. The HTTP side, the credentials and the CLI are in
tests/e2e/test_sequence_block.py.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from nacl.signing import SigningKey
from sqlalchemy import Engine

from services.kit.audit_log import AuditLog
from services.registry_intake import models
from services.registry_intake.repository import StaleSubmission, SubmissionRepository
from services.registry_intake.repository.sequence_block import lift_sequence_block
from services.registry_intake.submissions import IncomingSubmission
from shared.audit import parse_entry

from .test_storage import active_pointer, incoming, make_records, stored_rows

NOW = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)
SKEW = dt.timedelta(minutes=5)
NOW_MS = int(NOW.timestamp() * 1000)
LIMIT = NOW_MS + 300_000  # the latest sequence that does not block at NOW
BLOCKING = 2**53 - 1


@pytest.fixture
def audit(engine: Engine) -> AuditLog:
    return AuditLog(engine, models.audit, service="registry", log_name="registry", signing_key=SigningKey.generate())


@pytest.fixture
def repo(engine: Engine, audit: AuditLog) -> SubmissionRepository:
    return SubmissionRepository(engine, audit=audit)


def _lift(engine: Engine, audit: AuditLog, year: int = 2024):  # type: ignore[no-untyped-def]
    return lift_sequence_block(
        engine, audit, "0301", year, now=NOW, max_skew=SKEW, caller="test-operator", reason="INC-1"
    )


def _events(audit: AuditLog) -> list[tuple[str, str]]:
    return [(e.event, e.message_id) for e in (parse_entry(s.entry.encode()) for s in audit.entries(0))]


def _declared(sub: IncomingSubmission, persons: int) -> IncomingSubmission:
    return dataclasses.replace(sub, declared_records=persons)


def test_a_blocking_active_submission_stays_active_and_the_next_real_one_replaces_it(
    engine: Engine, repo: SubmissionRepository, audit: AuditLog
) -> None:
    blocking = repo.store(incoming(BLOCKING), make_records("old", 3))
    with pytest.raises(StaleSubmission):
        repo.store(incoming(NOW_MS), make_records("real", 3))
    before = len(_events(audit))

    lift = _lift(engine, audit)

    assert (lift.lifted, lift.blocking_message_id, lift.lifted_sequence, lift.floor) == (
        True,
        blocking.message_id,
        BLOCKING,
        NOW_MS,
    )
    assert active_pointer(engine) == (blocking.message_id, NOW_MS)
    assert stored_rows(engine, blocking.message_id)["persons"] == 3  # the year's data until something replaces it
    [entry] = [parse_entry(s.entry.encode()) for s in audit.entries(before)]
    assert (entry.event, entry.message_id) == ("sequence-block-lifted", blocking.message_id)
    assert dict(entry.facts) == {
        "municipality": "0301",
        "year": 2024,
        "sequence": BLOCKING,
        "floor": NOW_MS,
        "caller": "test-operator",
        "reason": "INC-1",
    }
    # Signed before the lift: still not newer. Signed after it: replaces the blocking submission.
    with pytest.raises(StaleSubmission):
        repo.store(incoming(NOW_MS - 1), make_records("late", 3))
    real = repo.store(incoming(NOW_MS + 1), make_records("real", 3))
    assert (real.status, real.supersedes) == ("active", blocking.message_id)
    assert stored_rows(engine, blocking.message_id)["persons"] == 0


def test_a_blocking_held_submission_is_refused_and_the_active_floor_kept(
    engine: Engine, repo: SubmissionRepository, audit: AuditLog
) -> None:
    active = repo.store(_declared(incoming(NOW_MS - 10_000), 10), make_records("one", 10), hold_below=0.5)
    held = repo.store(_declared(incoming(BLOCKING), 2), make_records("two", 2), hold_below=0.5)
    assert held.status == "held"

    lift = _lift(engine, audit)

    assert (lift.lifted, lift.blocking_message_id, lift.floor, lift.held_discarded) == (
        True,
        held.message_id,
        NOW_MS - 10_000,
        [held.message_id],
    )
    assert active_pointer(engine) == (active.message_id, NOW_MS - 10_000)
    assert stored_rows(engine, held.message_id)["persons"] == 0
    assert _events(audit)[-2:] == [("refused", held.message_id), ("sequence-block-lifted", held.message_id)]
    assert repo.store(incoming(NOW_MS), make_records("real", 10)).supersedes == active.message_id


@pytest.mark.parametrize("sequence", [None, LIMIT], ids=["no submission", "at the limit"])
def test_nothing_to_lift_changes_nothing_and_writes_nothing(
    engine: Engine, repo: SubmissionRepository, audit: AuditLog, sequence: int | None
) -> None:
    if sequence is not None:
        repo.store(incoming(sequence), make_records("one", 2))
    before = _events(audit)
    pointer = active_pointer(engine) if sequence is not None else None

    lift = _lift(engine, audit)

    assert (lift.lifted, lift.floor) == (False, sequence)
    assert _events(audit) == before
    if pointer is not None:
        assert active_pointer(engine) == pointer


def test_one_millisecond_past_the_limit_blocks_and_a_second_lift_finds_nothing(
    engine: Engine, repo: SubmissionRepository, audit: AuditLog
) -> None:
    repo.store(incoming(LIMIT + 1), make_records("one", 2))
    assert _lift(engine, audit).lifted
    before = _events(audit)
    assert not _lift(engine, audit).lifted
    assert _events(audit) == before
