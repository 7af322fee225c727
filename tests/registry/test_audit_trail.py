"""The registry's audit trail is written in the transaction of each decision: stored, superseded, refused.

On both backends: a store that fails half-way leaves no entry, a replacement records both sides, a stale
submission is on record as refused, and every entry carries digests and counts only.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from nacl.signing import SigningKey
from sqlalchemy import Engine, select

from services.kit.audit_log import AuditLog
from services.registry_intake.models import audit
from services.registry_intake.repository import StaleSubmission, SubmissionRepository
from services.registry_intake.submissions import StoredRecord
from shared.audit import parse_entry, verify_entries
from tests.registry.test_storage import incoming, make_records


def _log(engine: Engine) -> AuditLog:
    return AuditLog(engine, audit, service="registry", log_name="registry", signing_key=SigningKey.generate())


def _entries(engine: Engine) -> list[tuple[str, str, dict[str, object]]]:
    with engine.connect() as conn:
        rows = conn.execute(select(audit.log.c.entry).order_by(audit.log.c.idx)).all()
    parsed = [parse_entry(row.entry.encode("ascii")) for row in rows]
    return [(e.event, e.message_id, dict(e.facts)) for e in parsed]


def test_a_store_and_a_replacement_are_on_record_with_their_counts(engine: Engine) -> None:
    log = _log(engine)
    repo = SubmissionRepository(engine, audit=log)
    first = repo.store(incoming(1), make_records("a", 5, refused=(3,)))
    second = repo.store(incoming(2), make_records("b", 4))

    entries = _entries(engine)
    assert [(event, mid) for event, mid, _ in entries] == [
        ("stored", first.message_id),
        ("superseded", first.message_id),
        ("stored", second.message_id),
    ]
    stored_first = entries[0][2]
    assert (stored_first["records"], stored_first["pseudonymised"], stored_first["refused"]) == (5, 4, 1)
    assert stored_first["submission_sha256"] == "a" * 64
    assert entries[1][2]["superseded_by"] == second.message_id
    assert entries[2][2]["supersedes"] == first.message_id
    # The stored log verifies against a checkpoint the service signs.
    checkpoint = log.checkpoint()
    with engine.connect() as conn:
        texts = [row.entry for row in conn.execute(select(audit.log.c.entry).order_by(audit.log.c.idx))]
    assert len(verify_entries(texts, checkpoint.checkpoint)) == 3


def test_a_stale_submission_is_on_record_as_refused(engine: Engine) -> None:
    repo = SubmissionRepository(engine, audit=_log(engine))
    repo.store(incoming(5), make_records("a", 2))
    late = incoming(4)
    with pytest.raises(StaleSubmission):
        repo.store(late, make_records("b", 2))
    event, message_id, facts = _entries(engine)[-1]
    assert (event, message_id, facts["problem"], facts["sequence"]) == ("refused", late.message_id, "stale-sequence", 4)


def test_a_store_that_fails_half_way_leaves_no_entry(engine: Engine) -> None:
    repo = SubmissionRepository(engine, audit=_log(engine), batch_size=2)

    def breaking() -> Iterator[StoredRecord]:
        yield from make_records("a", 3)
        raise RuntimeError("the payload stream broke")

    with pytest.raises(RuntimeError):
        repo.store(incoming(1), breaking())
    assert _entries(engine) == []
