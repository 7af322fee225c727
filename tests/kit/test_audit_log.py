"""The services' audit log (services/kit/audit_log.py) on SQLite and PostgreSQL, and its HTTP endpoints.

Everything a log serves is checked the way an auditor would: with the verifiers of ``shared.audit`` and the
public-key directory, never by trusting the service's own answers.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, insert, inspect, select, text
from sqlalchemy.exc import OperationalError

from services.kit.audit_log import (
    MAX_PAGE,
    AuditLog,
    AuditLogCorrupt,
    AuditNotFound,
    AuditRangeError,
    AuditTables,
    audit_router,
    audit_tables,
)
from services.kit.database import READ_ONLY
from services.kit.problems import Problem, ProblemType, install_problem_handlers
from shared.audit import (
    EMPTY_ROOT,
    Checkpoint,
    InvalidAuditData,
    MerkleTree,
    leaf_hash,
    parse_checkpoint,
    parse_entry,
    verify_checkpoint,
    verify_checkpoint_document,
    verify_consistency,
    verify_consistency_document,
    verify_entries,
    verify_inclusion,
    verify_inclusion_document,
)
from shared.keys import PartyKeys, PublicDirectory

MESSAGE_IDS = [f"{i:08x}-0000-4000-8000-000000000000" for i in range(40)]
DIGEST = "cd" * 32
READER_TOKEN = "Bearer let-me-read"


@pytest.fixture
def tables(engine: Engine) -> Iterator[AuditTables]:
    """The audit tables, created from their definitions (the services' migrations write out the same tables, and
    tests/kit/test_frozen_migrations.py checks that each service's migrated database matches its models)."""
    metadata = MetaData()
    made = audit_tables(metadata)
    with engine.begin() as conn:
        metadata.create_all(conn)
    yield made
    with engine.begin() as conn:
        metadata.drop_all(conn)


@pytest.fixture
def audit(engine: Engine, tables: AuditTables, tpf_keys: PartyKeys) -> AuditLog:
    return AuditLog(
        engine, tables, service="tpf", log_name="tpf", signing_key=tpf_keys.signing, kid=tpf_keys.signing_kid
    )


def _append(audit: AuditLog, message: int, event: str = "forwarded", **facts: Any) -> int:
    with audit.engine.begin() as conn:
        return audit.append(
            conn, event, MESSAGE_IDS[message], {"records": message, "payload_sha256": DIGEST, **facts}
        ).index


def _stored_leaves(audit: AuditLog) -> list[bytes]:
    """Leaf hashes recomputed from the stored entry text, as an auditor would from served entries."""
    return [leaf_hash(e.entry.encode()) for e in audit.entries(0)]


# --- schema -------------------------------------------------------------------------------------------------------


def test_the_tables_are_what_the_metadata_describes(engine: Engine, tables: AuditTables) -> None:
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), tables.log.metadata) == []
        inspector = inspect(conn)
        assert {"audit_log", "audit_checkpoints"} <= set(inspector.get_table_names())
        assert inspector.get_pk_constraint("audit_log")["constrained_columns"] == ["idx"]
        assert [ix["column_names"] for ix in inspector.get_indexes("audit_log")] == [["message_id"]]


# --- appending ----------------------------------------------------------------------------------------------------


def test_appends_get_consecutive_indexes_and_checkpoints_sign_the_tree(
    audit: AuditLog, directory: PublicDirectory
) -> None:
    empty = audit.checkpoint()  # a log with no entries still has a signed head: the empty tree
    assert (empty.checkpoint.tree_size, empty.checkpoint.root) == (0, EMPTY_ROOT)

    assert [_append(audit, i) for i in range(5)] == [0, 1, 2, 3, 4]
    signed = audit.checkpoint()
    checkpoint, party = verify_checkpoint(signed.body, signed.signature, directory, log="tpf")
    assert party.name == "tpf"
    assert checkpoint.tree_size == 5
    assert checkpoint.root == MerkleTree.from_leaves(_stored_leaves(audit)).root()
    entries = verify_entries([e.entry for e in audit.entries(0)], checkpoint)
    assert [(e.index, e.service, e.message_id, e.facts["records"]) for e in entries] == [
        (i, "tpf", MESSAGE_IDS[i], i) for i in range(5)
    ]

    # No growth, no new checkpoint: the same signed bytes come back.
    assert audit.checkpoint().body == signed.body
    _append(audit, 5)
    assert audit.checkpoint().checkpoint.tree_size == 6
    assert [_size_of(c.body) for c in audit.checkpoints()] == [0, 5, 6]
    assert [_size_of(c.body) for c in audit.checkpoints(since=5)] == [5, 6]


def _size_of(body: str) -> int:
    return parse_checkpoint(body.encode()).tree_size


def test_an_entry_commits_and_rolls_back_with_the_callers_transaction(engine: Engine, audit: AuditLog) -> None:
    state = Table("state", MetaData(), Column("id", Integer, primary_key=True), Column("note", String(10)))
    state.create(engine)
    try:
        with engine.begin() as conn:
            conn.execute(insert(state).values(id=1, note="stored"))
            audit.append(conn, "stored", MESSAGE_IDS[1], {"stored": 3})

        def store_then_fail() -> None:
            with engine.begin() as conn:
                conn.execute(insert(state).values(id=2, note="stored"))
                audit.append(conn, "stored", MESSAGE_IDS[2], {"stored": 4})
                raise RuntimeError("boom")  # the state change fails after the audit entry was written

        with pytest.raises(RuntimeError, match="boom"):
            store_then_fail()
        with engine.connect() as conn:
            assert conn.execute(select(state.c.id)).scalars().all() == [1]
        assert [parse_entry(e.entry.encode()).message_id for e in audit.entries(0)] == [MESSAGE_IDS[1]]
        # The rolled-back entry left no gap: the next one takes index 1.
        assert _append(audit, 3) == 1
        assert audit.verify_stored() == 2
    finally:
        state.drop(engine)


def test_append_refuses_to_run_outside_a_write_transaction(engine: Engine, audit: AuditLog) -> None:
    with engine.connect() as conn, pytest.raises(RuntimeError, match="transaction"):
        audit.append(conn, "forwarded", MESSAGE_IDS[0], {})
    if engine.dialect.name == "sqlite":
        with (
            engine.connect().execution_options(**READ_ONLY) as conn,
            conn.begin(),
            pytest.raises(RuntimeError, match="write transaction"),
        ):
            audit.append(conn, "forwarded", MESSAGE_IDS[0], {})
    else:
        with (
            engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn,
            conn.begin(),
            pytest.raises(RuntimeError, match="READ COMMITTED"),
        ):
            audit.append(conn, "forwarded", MESSAGE_IDS[0], {})
    assert audit.size() == 0


def test_a_forbidden_fact_is_refused_before_anything_is_written(audit: AuditLog) -> None:
    for facts in ({"fnr": "x"}, {"outcome": "01010112345"}, {"records": "many"}):
        with pytest.raises(InvalidAuditData), audit.engine.begin() as conn:
            audit.append(conn, "refused", MESSAGE_IDS[0], facts)
    with pytest.raises(InvalidAuditData), audit.engine.begin() as conn:
        audit.append(conn, "refused", "01010112345", {})
    assert audit.size() == 0


@pytest.mark.timeout(120)
def test_concurrent_appends_from_threads_give_a_gap_free_sequence(audit: AuditLog, directory: PublicDirectory) -> None:
    threads, per_thread = 8, 15
    start = threading.Barrier(threads + 1)
    errors: list[BaseException] = []
    checkpoints: list[Checkpoint] = []

    def appender(worker: int) -> None:
        try:
            start.wait()
            for _ in range(per_thread):
                _append(audit, worker, event="pseudonymised")
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    def checkpointer() -> None:
        # Checkpoints signed while appends race must each be a prefix of the final log.
        try:
            start.wait()
            for _ in range(10):
                signed = audit.checkpoint()
                checkpoints.append(verify_checkpoint(signed.body, signed.signature, directory)[0])
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=appender, args=(w,)) for w in range(threads)]
    workers.append(threading.Thread(target=checkpointer))
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []

    total = threads * per_thread
    stored = audit.entries(0, total + 10)
    assert [e.index for e in stored] == list(range(total))
    assert [parse_entry(e.entry.encode()).index for e in stored] == list(range(total))
    counts: dict[str, int] = {}
    for e in stored:
        message = parse_entry(e.entry.encode()).message_id
        counts[message] = counts.get(message, 0) + 1
    assert counts == {MESSAGE_IDS[w]: per_thread for w in range(threads)}
    assert audit.verify_stored() == total

    final = verify_checkpoint(audit.checkpoint().body, audit.checkpoint().signature, directory)[0]
    assert final.tree_size == total
    leaves = _stored_leaves(audit)
    tree = MerkleTree.from_leaves(leaves)
    for earlier in checkpoints:
        assert earlier.root == tree.root(earlier.tree_size)
        proof = audit.consistency(earlier.tree_size, total)
        assert verify_consistency(earlier.tree_size, total, earlier.root, final.root, proof)


@pytest.mark.parametrize("engine", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
def test_on_postgresql_an_append_holds_the_exclusive_table_lock_until_commit(engine: Engine, audit: AuditLog) -> None:
    _append(audit, 0)
    with engine.begin() as holder:
        audit.append(holder, "forwarded", MESSAGE_IDS[1], {})
        with engine.connect() as observer:
            modes = observer.execute(
                text(
                    "SELECT mode FROM pg_locks JOIN pg_class ON pg_class.oid = pg_locks.relation"
                    " WHERE pg_class.relname = 'audit_log' AND granted"
                )
            ).scalars()
            assert "ExclusiveLock" in set(modes)
        # Readers are not blocked ...
        assert [e.index for e in audit.entries(0)] == [0]
        # ... but a second appender waits for the commit.
        with engine.begin() as second:
            second.exec_driver_sql("SET LOCAL lock_timeout = '200ms'")
            with pytest.raises(OperationalError, match="lock timeout"):
                audit.append(second, "forwarded", MESSAGE_IDS[2], {})
    assert _append(audit, 3) == 2


# --- proofs -------------------------------------------------------------------------------------------------------


def test_every_proof_the_log_gives_verifies(audit: AuditLog) -> None:
    for i in range(13):
        _append(audit, i % 4)
    leaves = _stored_leaves(audit)
    tree = MerkleTree.from_leaves(leaves)
    for size in range(1, 14):
        for index in range(size):
            proof = audit.inclusion(index, size)
            assert (proof.index, proof.tree_size, proof.leaf_hash) == (index, size, leaves[index].hex())
            assert verify_inclusion(leaves[index], index, size, list(proof.proof), tree.root(size))
    for second in range(14):
        for first in range(second + 1):
            proof = audit.consistency(first, second)
            assert verify_consistency(first, second, tree.root(first), tree.root(second), proof)

    by_message = audit.inclusion_for_message(MESSAGE_IDS[1], 13)
    assert [p.index for p in by_message] == [1, 5, 9]
    assert all(verify_inclusion(leaves[p.index], p.index, 13, list(p.proof), tree.root(13)) for p in by_message)
    assert [p.index for p in audit.inclusion_for_message(MESSAGE_IDS[1], 6)] == [1, 5]
    # Without a tree size: the latest checkpoint's (signed now, since the log grew).
    assert audit.inclusion(0).tree_size == 13


def test_impossible_proof_requests_are_range_errors(audit: AuditLog) -> None:
    for i in range(3):
        _append(audit, i)
    for call in (
        lambda: audit.inclusion(3, 3),
        lambda: audit.inclusion(0, 4),
        lambda: audit.inclusion(-1, 3),
        lambda: audit.inclusion(0, -1),
        lambda: audit.consistency(2, 1),
        lambda: audit.consistency(1, 4),
        lambda: audit.entries(4),
        lambda: audit.entries(2, 1),
        lambda: audit.inclusion_for_message(MESSAGE_IDS[0], 4),
    ):
        with pytest.raises(AuditRangeError):
            call()
    with pytest.raises(AuditNotFound):
        audit.inclusion_for_message(MESSAGE_IDS[9], 3)
    with pytest.raises(AuditNotFound):
        audit.inclusion_for_message(MESSAGE_IDS[2], 2)  # not yet in the tree of size 2


def test_entries_are_served_in_bounded_pages(audit: AuditLog) -> None:
    with audit.engine.begin() as conn:
        for i in range(MAX_PAGE + 3):
            audit.append(conn, "sealed", MESSAGE_IDS[i % 40], {"records": i})
    first = audit.entries(0)
    assert [e.index for e in first] == list(range(MAX_PAGE))
    assert [e.index for e in audit.entries(MAX_PAGE)] == [MAX_PAGE, MAX_PAGE + 1, MAX_PAGE + 2]
    assert [e.index for e in audit.entries(5, 8)] == [5, 6, 7]
    assert audit.entries(MAX_PAGE + 3) == []
    assert len(audit.inclusion_for_message(MESSAGE_IDS[0], MAX_PAGE + 3)) == 26


# --- tampering ----------------------------------------------------------------------------------------------------


def _tamper(engine: Engine, sql: str, **params: Any) -> None:
    """What someone with write access to the database could do behind the service's back."""
    with engine.begin() as conn:
        conn.execute(text(sql), params)


def _fresh(audit: AuditLog, tpf_keys: PartyKeys) -> AuditLog:
    """The same log opened again, as after a restart: nothing cached."""
    return AuditLog(audit.engine, audit.tables, service="tpf", log_name="tpf", signing_key=tpf_keys.signing)


def test_an_edited_entry_is_detected(audit: AuditLog, tpf_keys: PartyKeys, directory: PublicDirectory) -> None:
    for i in range(6):
        _append(audit, i)
    signed = audit.checkpoint()
    checkpoint = verify_checkpoint(signed.body, signed.signature, directory)[0]
    _tamper(
        audit.engine,
        "UPDATE audit_log SET entry = replace(entry, :old, :new) WHERE idx = 2",
        old='"records":2',
        new='"records":7',
    )

    # The auditor replaying the served entries, and checking the served proof, both notice.
    with pytest.raises(InvalidAuditData, match="root"):
        verify_entries([e.entry for e in audit.entries(0)], checkpoint)
    with pytest.raises(InvalidAuditData) as caught:
        verify_inclusion_document(audit.inclusion(2, 6).document(), checkpoint)
    assert caught.value.code == "proof-failed"
    verify_inclusion_document(audit.inclusion(3, 6).document(), checkpoint)  # the others still prove
    # The service's own full check, and the service after a restart, refuse the log.
    with pytest.raises(AuditLogCorrupt, match="entry 2"):
        audit.verify_stored()
    with pytest.raises(AuditLogCorrupt, match="entry 2"):
        _fresh(audit, tpf_keys).checkpoint()


def test_an_entry_edited_with_its_leaf_hash_contradicts_the_signed_checkpoint(
    audit: AuditLog, tpf_keys: PartyKeys
) -> None:
    for i in range(6):
        _append(audit, i)
    audit.checkpoint()
    with audit.engine.connect() as conn:
        original = conn.execute(text("SELECT entry FROM audit_log WHERE idx = 4")).scalar_one()
    forged = original.replace('"records":4', '"records":9')
    _tamper(
        audit.engine,
        "UPDATE audit_log SET entry = :entry, leaf_hash = :leaf WHERE idx = 4",
        entry=forged,
        leaf=leaf_hash(forged.encode()).hex(),
    )
    with pytest.raises(AuditLogCorrupt, match="root signed for tree size 6"):
        audit.verify_stored()
    with pytest.raises(AuditLogCorrupt):
        _fresh(audit, tpf_keys).checkpoint()  # it will not sign a fork of what it signed before


@pytest.mark.parametrize(("deleted", "message"), [(5, "covers 6 entries"), (2, "no entry 2")])
def test_a_deleted_entry_is_detected(audit: AuditLog, tpf_keys: PartyKeys, deleted: int, message: str) -> None:
    for i in range(6):
        _append(audit, i)
    audit.checkpoint()
    _tamper(audit.engine, "DELETE FROM audit_log WHERE idx = :idx", idx=deleted)
    with pytest.raises(AuditLogCorrupt, match=message):
        _fresh(audit, tpf_keys).checkpoint()


# --- background checkpoints ---------------------------------------------------------------------------------------


async def _until(condition: Callable[[], bool], what: str, timeout_s: float = 20.0) -> None:
    """Wait for the background task to get somewhere: a fixed sleep fails on a loaded machine (CI once saw the first
    checkpoint come after the appends it was meant to precede)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def test_the_background_task_signs_checkpoints_as_the_log_grows(audit: AuditLog) -> None:
    async def scenario() -> list[int]:
        task = asyncio.create_task(audit.run_checkpoints(0.05))
        await _until(lambda: bool(audit.checkpoints()), "the first checkpoint")
        await asyncio.to_thread(_append, audit, 1)
        await asyncio.to_thread(_append, audit, 2)
        await _until(lambda: _size_of(audit.checkpoints()[-1].body) == 2, "a checkpoint covering both entries")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return [_size_of(c.body) for c in audit.checkpoints()]

    assert asyncio.run(scenario())[0] == 0
    assert _size_of(audit.checkpoints()[-1].body) == 2


def test_the_background_task_reports_each_run_to_its_callbacks(
    audit: AuditLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the service's metrics hear (iplos_audit_checkpoint_age_seconds, _tree_size, _failures_total): every run
    that left the log covered, with the size covered, and every run that failed."""
    signed: list[int] = []
    failed: list[None] = []

    async def scenario() -> None:
        task = asyncio.create_task(
            audit.run_checkpoints(0.05, signed=signed.append, failed=lambda: failed.append(None))
        )
        await _until(lambda: bool(signed), "the first checkpoint")
        await asyncio.to_thread(_append, audit, 1)
        await _until(lambda: signed[-1] == 1, "a checkpoint covering the entry")
        original = AuditLog.checkpoint

        def broken(self: AuditLog) -> Any:
            raise RuntimeError("the database went away")

        monkeypatch.setattr(AuditLog, "checkpoint", broken)
        await _until(lambda: bool(failed), "a failed run")
        monkeypatch.setattr(AuditLog, "checkpoint", original)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert signed[0] == 0
    assert signed[-1] == 1
    assert failed


# --- HTTP ---------------------------------------------------------------------------------------------------------


def _require_reader(request: Request) -> None:
    if request.headers.get("authorization") != READER_TOKEN:
        raise Problem(ProblemType.UNAUTHENTICATED, "This endpoint needs a bearer token")


@pytest.fixture
def client(audit: AuditLog) -> Iterator[TestClient]:
    app = FastAPI()
    install_problem_handlers(app, body_limit=1024)
    app.state.audit_log = audit

    def get_log(request: Request) -> AuditLog:
        log: AuditLog = request.app.state.audit_log
        return log

    app.include_router(audit_router(get_log, _require_reader))
    with TestClient(app, headers={"Authorization": READER_TOKEN}) as test_client:
        yield test_client


def _get(client: TestClient, path: str, status: int = 200, **params: Any) -> Any:
    response = client.get(path, params=params)
    assert response.status_code == status, response.text
    return response.json()


def test_the_endpoints_serve_what_an_auditor_can_verify(
    client: TestClient, audit: AuditLog, directory: PublicDirectory
) -> None:
    for i in range(4):
        _append(audit, i)
    old = verify_checkpoint_document(_get(client, "/v1/audit/checkpoint"), directory, log="tpf").checkpoint
    for i in range(4, 9):
        _append(audit, i % 6)
    new = verify_checkpoint_document(_get(client, "/v1/audit/checkpoint"), directory, log="tpf").checkpoint
    assert (old.tree_size, new.tree_size) == (4, 9)

    listed = _get(client, "/v1/audit/checkpoints")["checkpoints"]
    assert [verify_checkpoint_document(c, directory).checkpoint for c in listed] == [old, new]
    assert len(_get(client, "/v1/audit/checkpoints", since=5)["checkpoints"]) == 1

    entries = _get(client, "/v1/audit/entries", start=0)["entries"]
    assert [e["index"] for e in entries] == list(range(9))
    verify_entries([e["entry"] for e in entries], new)
    assert [e["index"] for e in _get(client, "/v1/audit/entries", start=2, end=4)["entries"]] == [2, 3]

    for index in range(9):
        answer = _get(client, "/v1/audit/proof/inclusion", index=index, tree_size=9)
        assert verify_inclusion_document(answer, new).index == index
    assert _get(client, "/v1/audit/proof/inclusion", index=0)["tree_size"] == 9  # default: latest checkpoint
    answer = _get(client, "/v1/audit/proof/inclusion", index=3, tree_size=4)
    verify_inclusion_document(answer, old)

    by_message = _get(client, "/v1/audit/proof/inclusion", message_id=MESSAGE_IDS[2], tree_size=9)
    assert by_message["message_id"] == MESSAGE_IDS[2]
    assert [verify_inclusion_document(p, new).index for p in by_message["proofs"]] == [2, 8]

    consistency = _get(client, "/v1/audit/proof/consistency", first=4, second=9)
    verify_consistency_document(consistency, old, new)


@pytest.mark.parametrize(
    ("path", "params", "status", "problem"),
    [
        ("/v1/audit/proof/inclusion", {"index": 3, "tree_size": 3}, 400, "invalid-range"),
        ("/v1/audit/proof/inclusion", {"index": 0, "tree_size": 4}, 400, "invalid-range"),
        ("/v1/audit/proof/inclusion", {"tree_size": 3}, 400, "invalid-range"),
        ("/v1/audit/proof/inclusion", {"index": 0, "message_id": MESSAGE_IDS[0]}, 400, "invalid-range"),
        ("/v1/audit/proof/inclusion", {"message_id": MESSAGE_IDS[9], "tree_size": 3}, 404, "not-found"),
        ("/v1/audit/proof/inclusion", {"message_id": "01010112345"}, 422, "invalid-request"),
        ("/v1/audit/proof/inclusion", {"index": -1}, 422, "invalid-request"),
        ("/v1/audit/proof/consistency", {"first": 2, "second": 1}, 400, "invalid-range"),
        ("/v1/audit/proof/consistency", {"first": 1, "second": 4}, 400, "invalid-range"),
        ("/v1/audit/proof/consistency", {"first": 1}, 422, "invalid-request"),
        ("/v1/audit/entries", {"start": 4}, 400, "invalid-range"),
        ("/v1/audit/entries", {"start": 2, "end": 1}, 400, "invalid-range"),
        ("/v1/audit/entries", {"start": "x"}, 422, "invalid-request"),
        ("/v1/audit/checkpoints", {"since": -1}, 422, "invalid-request"),
    ],
)
def test_bad_requests_get_problem_documents(
    client: TestClient, audit: AuditLog, path: str, params: dict[str, Any], status: int, problem: str
) -> None:
    for i in range(3):
        _append(audit, i)
    response = client.get(path, params=params)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == f"urn:iplos-chain:problem:{problem}"
    assert "01010112345" not in response.text


@pytest.mark.parametrize(
    "path",
    [
        "/v1/audit/checkpoint",
        "/v1/audit/checkpoints",
        "/v1/audit/entries",
        "/v1/audit/proof/inclusion?index=0",
        "/v1/audit/proof/consistency?first=0&second=0",
    ],
)
def test_every_endpoint_needs_the_readers_credential(client: TestClient, path: str) -> None:
    response = client.get(path, headers={"Authorization": "Bearer wrong"})
    assert response.status_code == 401
    assert response.json()["type"] == "urn:iplos-chain:problem:unauthenticated"


def test_a_tampered_log_is_visible_through_the_endpoints(
    client: TestClient, audit: AuditLog, tpf_keys: PartyKeys, directory: PublicDirectory
) -> None:
    for i in range(5):
        _append(audit, i)
    checkpoint = verify_checkpoint_document(_get(client, "/v1/audit/checkpoint"), directory).checkpoint
    _tamper(
        audit.engine,
        "UPDATE audit_log SET entry = replace(entry, :old, :new) WHERE idx = 1",
        old='"records":1',
        new='"records":8',
    )

    served = [e["entry"] for e in _get(client, "/v1/audit/entries")["entries"]]
    with pytest.raises(InvalidAuditData):
        verify_entries(served, checkpoint)
    with pytest.raises(InvalidAuditData):
        verify_inclusion_document(_get(client, "/v1/audit/proof/inclusion", index=1, tree_size=5), checkpoint)

    # After a restart the service checks its log before signing again, and says so.
    client.app.state.audit_log = _fresh(audit, tpf_keys)  # type: ignore[attr-defined]
    body = _get(client, "/v1/audit/checkpoint", status=500)
    assert body["type"] == "urn:iplos-chain:problem:audit-log-inconsistent"
    assert "records" not in str(body)


def test_the_checkpoint_clock_and_entry_times_are_utc_seconds(
    engine: Engine, tables: AuditTables, tpf_keys: PartyKeys
) -> None:
    oslo = dt.timezone(dt.timedelta(hours=1))
    audit = AuditLog(
        engine,
        tables,
        service="tpf",
        log_name="tpf",
        signing_key=tpf_keys.signing,
        clock=lambda: dt.datetime(2025, 3, 1, 13, 30, 5, 999_999, tzinfo=oslo),
    )
    _append(audit, 0)
    assert parse_entry(audit.entries(0)[0].entry.encode()).at == "2025-03-01T12:30:05Z"
    assert audit.checkpoint().checkpoint.created_at == "2025-03-01T12:30:05Z"


def test_the_log_refuses_a_key_id_or_names_that_do_not_fit(
    engine: Engine, tables: AuditTables, tpf_keys: PartyKeys, registry_keys: PartyKeys
) -> None:
    with pytest.raises(ValueError, match="kid"):
        AuditLog(
            engine, tables, service="tpf", log_name="tpf", signing_key=tpf_keys.signing, kid=registry_keys.signing_kid
        )
    with pytest.raises(ValueError, match="service"):
        AuditLog(engine, tables, service="auditor", log_name="tpf", signing_key=tpf_keys.signing)
    with pytest.raises(InvalidAuditData):
        AuditLog(engine, tables, service="tpf", log_name="The TPF", signing_key=tpf_keys.signing)
