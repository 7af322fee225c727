"""A service's tamper-evident audit log: storage, signed checkpoints, proofs and read-only HTTP endpoints.

The log is an RFC 9162 Merkle tree over ``shared.audit`` entries, kept in two tables of the service's own
database:

* ``audit_log``: one row per entry; ``idx`` is the leaf index, ``entry`` the canonical JSON that was hashed,
  ``leaf_hash`` its leaf hash (hex), ``message_id`` and ``event`` copies for lookups.
* ``audit_checkpoints``: each signed checkpoint (``tree_size``, ``root_hash``, the signed ``body``, the
  signature in base64).

Indexes are gap-free: ``append`` assigns ``max(idx) + 1`` inside the caller's transaction while holding the
log's write lock (the SQLite write lock that ``BEGIN IMMEDIATE`` takes; ``LOCK TABLE audit_log IN EXCLUSIVE
MODE`` on PostgreSQL), so the entry commits or rolls back together with the state change it records, and the
next append cannot read the size until this one has committed. Committed rows are therefore always a prefix
0 .. n-1 of the log, which is what lets checkpoints and proofs be computed from committed rows alone.

``AuditLog`` keeps the verified tree in memory (``MerkleTree``). Whenever it reads rows it has not seen, it
recomputes each leaf hash from the entry text and checks it against the stored hash, and checks every stored
checkpoint's root against the tree; on any mismatch it raises ``AuditLogCorrupt`` and refuses to sign: a log
never signs a checkpoint that contradicts one it signed before. ``verify_stored`` repeats the whole check from
scratch. An auditor does not rely on either: it verifies what the endpoints serve (``shared.audit.verify``).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import dataclasses
import datetime as dt
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any, Final

import structlog
from fastapi import APIRouter, Depends, Query
from nacl.signing import SigningKey
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Connection,
    DateTime,
    Engine,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Row,
    String,
    Table,
    Text,
    func,
    insert,
    select,
)
from sqlalchemy.schema import SchemaItem
from sqlalchemy.types import TypeEngine

from services.kit.database import READ_ONLY
from services.kit.problems import Problem
from shared.audit import (
    EMPTY_ROOT,
    SERVICES,
    UNKNOWN_MESSAGE,
    AuditEntry,
    Checkpoint,
    FactValue,
    InvalidAuditData,
    MerkleTree,
    SignedCheckpoint,
    encode_entry,
    leaf_hash,
    new_checkpoint,
    parse_checkpoint,
    parse_entry,
    sanitise_facts,
)
from shared.envelope import SubmissionHeader
from shared.envelope.headers import utc_timestamp
from shared.keys import ALG_ED25519, key_id

__all__ = [
    "AUDIT_CHECKPOINTS",
    "AUDIT_LOG",
    "MAX_PAGE",
    "AuditLog",
    "AuditLogCorrupt",
    "AuditNotFound",
    "AuditRangeError",
    "AuditTables",
    "InclusionProof",
    "StoredCheckpoint",
    "StoredEntry",
    "audit_router",
    "audit_tables",
]

AUDIT_LOG: Final = "audit_log"
AUDIT_CHECKPOINTS: Final = "audit_checkpoints"
_MESSAGE_INDEX: Final = "ix_audit_log_message_id"
#: The most entries, checkpoints or proofs one call returns; callers page on.
MAX_PAGE: Final = 1000
_MAX_SAFE_INTEGER: Final = 2**53 - 1
_MESSAGE_ID_PATTERN: Final = r"^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|unknown)$"

log = structlog.get_logger("audit")


# --- schema -----------------------------------------------------------------------------------------------------


def _index_type() -> TypeEngine[int]:
    # 64-bit on PostgreSQL; on SQLite an INTEGER primary key is the rowid itself (64-bit), which makes
    # max(idx) a lookup at the end of the table's own b-tree.
    return BigInteger().with_variant(Integer(), "sqlite")


def _log_columns() -> list[SchemaItem]:
    return [
        # autoincrement=False: the index is assigned by ``append`` (max + 1 under the lock), never by a
        # sequence, which could leave gaps after a rollback.
        Column("idx", _index_type(), nullable=False, autoincrement=False),
        Column("message_id", String(36), nullable=False),
        Column("event", String(40), nullable=False),
        Column("entry", Text(), nullable=False),
        Column("leaf_hash", String(64), nullable=False),
        Column("at", DateTime(timezone=True), nullable=False),
        PrimaryKeyConstraint("idx", name="pk_audit_log"),
        CheckConstraint("idx >= 0", name="ck_audit_log_idx"),
    ]


def _checkpoint_columns() -> list[SchemaItem]:
    return [
        Column("tree_size", _index_type(), nullable=False, autoincrement=False),
        Column("root_hash", String(64), nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("body", Text(), nullable=False),
        Column("signature", String(88), nullable=False),
        PrimaryKeyConstraint("tree_size", name="pk_audit_checkpoints"),
        CheckConstraint("tree_size >= 0", name="ck_audit_checkpoints_tree_size"),
    ]


@dataclass(frozen=True, slots=True)
class AuditTables:
    log: Table
    checkpoints: Table


def audit_tables(metadata: MetaData) -> AuditTables:
    """The two audit tables in a service's ``MetaData``. Each service's migration writes them out as they were at
    its revision (frozen history); tests/kit/test_frozen_migrations.py keeps the two in step."""
    return AuditTables(
        log=Table(AUDIT_LOG, metadata, *_log_columns(), Index(_MESSAGE_INDEX, "message_id")),
        checkpoints=Table(AUDIT_CHECKPOINTS, metadata, *_checkpoint_columns()),
    )


# --- errors and results -----------------------------------------------------------------------------------------


class AuditLogCorrupt(RuntimeError):
    """The stored log contradicts itself or a checkpoint it signed. The message names a row, never content."""


class AuditRangeError(ValueError):
    """An index, tree size or range outside the log (HTTP 400)."""


class AuditNotFound(LookupError):
    """No entry for this message id (HTTP 404)."""


@dataclass(frozen=True, slots=True)
class StoredEntry:
    index: int
    entry: str
    """The canonical JSON exactly as stored: what the leaf hash was computed over."""
    leaf_hash: str

    def document(self) -> dict[str, Any]:
        return {"index": self.index, "entry": self.entry, "leaf_hash": self.leaf_hash}


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    """A checkpoint row as stored, served unparsed so that an auditor sees exactly what the database holds."""

    body: str
    signature: str

    def document(self) -> dict[str, str]:
        return {"body": self.body, "signature": self.signature}


@dataclass(frozen=True, slots=True)
class InclusionProof:
    index: int
    tree_size: int
    entry: str
    leaf_hash: str
    proof: tuple[bytes, ...]

    def document(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "tree_size": self.tree_size,
            "entry": self.entry,
            "leaf_hash": self.leaf_hash,
            "proof": [p.hex() for p in self.proof],
        }


@dataclass
class _Verified:
    """What has been read from the tables and checked: the tree so far and the checkpoints checked."""

    tree: MerkleTree = dataclasses.field(default_factory=MerkleTree)
    checked_tree_size: int = -1  # the largest checkpoint tree size checked against ``tree``


# --- the log ----------------------------------------------------------------------------------------------------


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class AuditLog:
    """One service's audit log in ``engine``'s database.

    ``service`` is what entries name (``gateway``, ``tpf``, ``registry``); ``log_name`` is the party whose key
    signs the checkpoints and who is named in them (``tpf``, ``registry``, ``kommune-0301``): an auditor finds
    its public key in the directory by the checkpoint's ``signer_kid`` and requires that party to be ``log``.
    """

    def __init__(
        self,
        engine: Engine,
        tables: AuditTables,
        *,
        service: str,
        log_name: str,
        signing_key: SigningKey,
        kid: str | None = None,
        clock: Callable[[], dt.datetime] = _utc_now,
    ) -> None:
        if service not in SERVICES:
            raise ValueError("service is gateway, tpf or registry")
        own_kid = key_id(ALG_ED25519, bytes(signing_key.verify_key))
        if kid is not None and kid != own_kid:
            raise ValueError("kid does not name the signing key")
        # Fails now, not at the first checkpoint, if the log name is not a party name.
        Checkpoint(log_name, 0, EMPTY_ROOT.hex(), utc_timestamp(clock()), own_kid)
        self.engine = engine
        self.tables = tables
        self.service = service
        self.log_name = log_name
        self.kid = own_kid
        self._key = signing_key
        self._clock = clock
        # One lock for the in-memory tree: FastAPI runs the sync endpoints on a thread pool.
        self._mutex = threading.Lock()
        self._verified = _Verified()

    # -- writing --

    def append(
        self, conn: Connection, event: str, message_id: str, facts: Mapping[str, FactValue] | None = None
    ) -> AuditEntry:
        """Add an entry inside the caller's open transaction, so it commits (or not) with the state change.

        Call it as the last write of the transaction: from here to the commit the log's write lock is held and
        every other appender waits (on PostgreSQL an appender that took other row locks first could otherwise
        deadlock with one that holds the audit lock and wants them). Raises ``InvalidAuditData`` for a fact the
        entry format refuses, before any lock is taken.
        """
        if not conn.in_transaction():
            raise RuntimeError("append runs inside the caller's transaction (engine.begin())")
        now = self._clock().astimezone(dt.UTC).replace(microsecond=0)
        draft = AuditEntry(self.service, 0, event, message_id, utc_timestamp(now), dict(facts or {}))
        self._lock_for_append(conn)
        log_table = self.tables.log
        size = conn.execute(select(func.coalesce(func.max(log_table.c.idx) + 1, 0))).scalar_one()
        entry = dataclasses.replace(draft, index=int(size))
        data = encode_entry(entry)
        conn.execute(
            insert(log_table).values(
                idx=entry.index,
                message_id=entry.message_id,
                event=entry.event,
                entry=data.decode("ascii"),
                leaf_hash=leaf_hash(data).hex(),
                at=now,
            )
        )
        return entry

    def record_refusal(self, problem: str, header: SubmissionHeader | None) -> AuditEntry:
        """A refused message on the record, in a transaction of its own (a refusal changes nothing else): by
        message id and the facts of ``header`` when its signature held, else as ``unknown`` with none, so that
        nobody can have the service sign what a message merely claims. ``problem`` is the service's own type."""
        with self.engine.begin() as conn:
            return self.append_refusal(conn, problem, header)

    def append_refusal(self, conn: Connection, problem: str, header: SubmissionHeader | None) -> AuditEntry:
        """The entry of :meth:`record_refusal`, inside the caller's transaction (with what else records the
        refusal: services.kit.refusals)."""
        facts = {"problem": problem}
        if header is not None:
            facts |= {"municipality": header.municipality, "year": header.year, "sequence": header.sequence}
        return self.append(conn, "refused", header.message_id if header else UNKNOWN_MESSAGE, sanitise_facts(facts))

    def _lock_for_append(self, conn: Connection) -> None:
        dialect = conn.dialect.name
        if dialect == "sqlite":
            # make_engine begins every transaction with BEGIN IMMEDIATE: the write lock is already held, so no
            # other connection can insert between reading max(idx) and the insert. A deferred transaction
            # would read under a shared lock and fail (or race) when it tries to write.
            if str(conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")).upper() == "DEFERRED":
                raise RuntimeError("append needs a write transaction (BEGIN IMMEDIATE), not a READ_ONLY one")
            return
        if dialect == "postgresql":
            # Plain READ COMMITTED row reads cannot serialise "read max, insert max + 1": two transactions would
            # read the same max. EXCLUSIVE mode conflicts with itself and with every writer's ROW EXCLUSIVE
            # lock, yet lets plain SELECTs (checkpoints, proofs, entries) go on; it is held to the commit, so
            # the next appender reads the size only after this entry is visible. A table lock rather than an
            # advisory lock: no database-wide key to agree on, and it also holds off any other INSERT path.
            if conn.get_isolation_level() != "READ COMMITTED":
                # Under REPEATABLE READ the snapshot predates the lock and max(idx) could be stale.
                raise RuntimeError("append needs a READ COMMITTED transaction on PostgreSQL")
            table = conn.dialect.identifier_preparer.format_table(self.tables.log)
            conn.exec_driver_sql(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
            return
        raise RuntimeError(f"the audit log supports SQLite and PostgreSQL, not {dialect}")

    def checkpoint(self) -> SignedCheckpoint:
        """The latest signed checkpoint, after signing a new one if the log grew since (or none exists yet)."""
        with self._mutex, self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # Two processes signing at once would both try to insert the same tree size; this makes the
                # second one find the first one's checkpoint instead. Appends are not blocked.
                table = conn.dialect.identifier_preparer.format_table(self.tables.checkpoints)
                conn.exec_driver_sql(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
            self._catch_up(conn, self._verified)
            latest = self._latest_row(conn)
            tree = self._verified.tree
            if latest is not None and latest.tree_size >= tree.size:
                return self._signed(latest)
            now = self._clock().astimezone(dt.UTC).replace(microsecond=0)
            signed = new_checkpoint(self.log_name, tree.size, tree.root(), self._key, utc_timestamp(now))
            conn.execute(
                insert(self.tables.checkpoints).values(
                    tree_size=signed.checkpoint.tree_size,
                    root_hash=signed.checkpoint.root_hash,
                    created_at=now,
                    body=signed.body.decode("ascii"),
                    signature=base64.b64encode(signed.signature).decode("ascii"),
                )
            )
            self._verified.checked_tree_size = signed.checkpoint.tree_size
        log.info("audit checkpoint signed", tree_size=signed.checkpoint.tree_size)
        return signed

    async def run_checkpoints(self, interval_s: float) -> None:
        """Sign a checkpoint now and then every ``interval_s`` seconds while the log grows; run it as a task in
        the service's lifespan and cancel it at shutdown. A failure is logged by its type and retried."""
        while True:
            signing = asyncio.ensure_future(asyncio.to_thread(self.checkpoint))
            try:
                # Shielded: a cancellation at shutdown waits for the thread to finish its transaction, so the
                # engine is never disposed under a connection the checkpoint still holds.
                await asyncio.shield(signing)
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    await signing
                raise
            except Exception as exc:  # the loop must outlive a database hiccup
                log.error("audit checkpoint failed", error_type=type(exc).__name__)
            await asyncio.sleep(interval_s)

    # -- reading --

    @contextmanager
    def _reader(self) -> Iterator[Connection]:
        with self.engine.connect().execution_options(**READ_ONLY) as conn, conn.begin():
            yield conn

    def _size(self, conn: Connection) -> int:
        return int(conn.execute(select(func.coalesce(func.max(self.tables.log.c.idx) + 1, 0))).scalar_one())

    def size(self) -> int:
        """The number of committed entries."""
        with self._reader() as conn:
            return self._size(conn)

    def checkpoints(self, since: int = 0) -> list[StoredCheckpoint]:
        """Stored checkpoints with tree_size >= ``since``, oldest first, at most ``MAX_PAGE``."""
        table = self.tables.checkpoints
        with self._reader() as conn:
            rows = conn.execute(
                select(table.c.body, table.c.signature)
                .where(table.c.tree_size >= since)
                .order_by(table.c.tree_size)
                .limit(MAX_PAGE)
            ).all()
        return [StoredCheckpoint(row.body, row.signature) for row in rows]

    def entries(self, start: int, end: int | None = None) -> list[StoredEntry]:
        """Entries [start, end) as stored (end exclusive, capped at the log's size and at ``MAX_PAGE``)."""
        table = self.tables.log
        with self._reader() as conn:
            size = self._size(conn)
            if not 0 <= start <= size:
                raise AuditRangeError("start lies beyond the log")
            if end is not None and end < start:
                raise AuditRangeError("end lies before start")
            stop = min(size, start + MAX_PAGE, size if end is None else end)
            rows = conn.execute(
                select(table.c.idx, table.c.entry, table.c.leaf_hash)
                .where(table.c.idx >= start, table.c.idx < stop)
                .order_by(table.c.idx)
            ).all()
        return [StoredEntry(int(row.idx), row.entry, row.leaf_hash) for row in rows]

    def inclusion(self, index: int, tree_size: int | None = None) -> InclusionProof:
        """The inclusion proof of entry ``index`` in the tree of ``tree_size`` (default: the latest checkpoint)."""
        size = self._proof_size(tree_size)
        if not 0 <= index < size:
            raise AuditRangeError("index lies outside the tree")
        table = self.tables.log
        with self._reader() as conn:
            text = conn.execute(select(table.c.entry).where(table.c.idx == index)).scalar_one_or_none()
        if text is None:
            raise AuditLogCorrupt(f"audit_log has no entry {index} any more")
        return self._proof_for(index, size, text)

    def inclusion_for_message(self, message_id: str, tree_size: int | None = None) -> list[InclusionProof]:
        """Inclusion proofs of every entry about ``message_id`` in the tree of ``tree_size`` (at most MAX_PAGE)."""
        size = self._proof_size(tree_size)
        table = self.tables.log
        with self._reader() as conn:
            rows = conn.execute(
                select(table.c.idx, table.c.entry)
                .where(table.c.message_id == message_id, table.c.idx < size)
                .order_by(table.c.idx)
                .limit(MAX_PAGE)
            ).all()
        if not rows:
            raise AuditNotFound("no entry about this message id in the tree")
        return [self._proof_for(int(row.idx), size, row.entry) for row in rows]

    def consistency(self, first: int, second: int) -> list[bytes]:
        """The consistency proof between the trees of sizes ``first`` <= ``second``."""
        if not 0 <= first <= second:
            raise AuditRangeError("the sizes must satisfy 0 <= first <= second")
        with self._mutex:
            self._ensure(second)
            return self._verified.tree.consistency_proof(first, second)

    def verify_stored(self) -> int:
        """Re-read and re-check the whole log and every checkpoint from scratch; the number of entries, or
        ``AuditLogCorrupt``. For an operator's check or a test, not for every request."""
        verified = _Verified()
        with self._reader() as conn:
            self._catch_up(conn, verified)
        return verified.tree.size

    # -- internals --

    def _proof_for(self, index: int, size: int, text: str) -> InclusionProof:
        with self._mutex:
            self._ensure(size)
            tree = self._verified.tree
            return InclusionProof(index, size, text, tree.leaf(index).hex(), tuple(tree.inclusion_proof(index, size)))

    def _proof_size(self, tree_size: int | None) -> int:
        if tree_size is None:
            return self.checkpoint().checkpoint.tree_size
        if tree_size < 0:
            raise AuditRangeError("tree_size is negative")
        with self._mutex:
            self._ensure(tree_size)
        return tree_size

    def _ensure(self, tree_size: int) -> None:
        """Bring the in-memory tree up to ``tree_size`` entries (the caller holds the mutex)."""
        if tree_size > self._verified.tree.size:
            with self._reader() as conn:
                self._catch_up(conn, self._verified)
        if tree_size > self._verified.tree.size:
            raise AuditRangeError("tree_size is larger than the log")

    def _latest_row(self, conn: Connection) -> Row[Any] | None:
        table = self.tables.checkpoints
        return conn.execute(select(table).order_by(table.c.tree_size.desc()).limit(1)).first()

    def _signed(self, row: Row[Any]) -> SignedCheckpoint:
        try:
            body = row.body.encode("ascii")
            return SignedCheckpoint(parse_checkpoint(body), body, base64.b64decode(row.signature, validate=True))
        except (UnicodeEncodeError, InvalidAuditData, binascii.Error):
            raise AuditLogCorrupt(f"checkpoint of tree size {row.tree_size} is malformed") from None

    def _catch_up(self, conn: Connection, verified: _Verified) -> None:
        """Read the rows ``verified`` has not seen, check each, and check every new checkpoint against them.

        Checkpoints are read *before* the entries: a checkpoint that is committed by then covers only entries
        committed earlier still, so the entries read next include all of them, even on PostgreSQL where each
        statement sees the database as of its own start.
        """
        checkpoints = self.tables.checkpoints
        new_checkpoints = conn.execute(
            select(checkpoints)
            .where(checkpoints.c.tree_size > verified.checked_tree_size)
            .order_by(checkpoints.c.tree_size)
        ).all()
        table = self.tables.log
        # Streamed in pages (a server-side cursor on PostgreSQL): the first read after a start is the whole log.
        rows = conn.execute(
            select(table.c.idx, table.c.message_id, table.c.event, table.c.entry, table.c.leaf_hash)
            .where(table.c.idx >= verified.tree.size)
            .order_by(table.c.idx)
            .execution_options(yield_per=MAX_PAGE)
        )
        try:
            for row in rows:
                verified.tree.append(self._check_row(row, verified.tree.size))
        finally:
            rows.close()  # also when a row fails its check half-way through the stream
        for row in new_checkpoints:
            self._check_checkpoint(row, verified.tree)
            verified.checked_tree_size = int(row.tree_size)

    def _check_row(self, row: Any, expected_index: int) -> bytes:
        index = int(row.idx)
        if index != expected_index:
            raise AuditLogCorrupt(f"audit_log has no entry {expected_index} (the next one is {index})")
        try:
            data = row.entry.encode("ascii")
            entry = parse_entry(data)
        except (UnicodeEncodeError, InvalidAuditData):
            raise AuditLogCorrupt(f"audit_log entry {index} is not a valid canonical entry") from None
        if (entry.index, entry.service, entry.message_id, entry.event) != (
            index,
            self.service,
            row.message_id,
            row.event,
        ):
            raise AuditLogCorrupt(f"audit_log entry {index} does not match its row")
        leaf = leaf_hash(data)
        if leaf.hex() != row.leaf_hash:
            raise AuditLogCorrupt(f"audit_log entry {index} does not hash to its stored leaf hash")
        return leaf

    def _check_checkpoint(self, row: Any, tree: MerkleTree) -> None:
        signed = self._signed(row)
        size = signed.checkpoint.tree_size
        if (size, signed.checkpoint.root_hash) != (int(row.tree_size), row.root_hash):
            raise AuditLogCorrupt(f"checkpoint of tree size {row.tree_size} does not match its row")
        if size > tree.size:
            raise AuditLogCorrupt(f"a checkpoint covers {size} entries but audit_log has only {tree.size}")
        if tree.root(size).hex() != signed.checkpoint.root_hash:
            raise AuditLogCorrupt(f"the entries do not hash to the root signed for tree size {size}")


# --- HTTP -------------------------------------------------------------------------------------------------------


def _problem(exc: Exception) -> Problem:
    if isinstance(exc, AuditRangeError):
        return Problem("invalid-range", 400, "The index, tree size or range lies outside the audit log", str(exc))
    if isinstance(exc, AuditNotFound):
        return Problem("not-found", 404, "The audit log has no entry about this message id")
    log.error("audit log inconsistent", reason=str(exc))
    return Problem("audit-log-inconsistent", 500, "The stored audit log failed its own consistency check")


_RANGE: dict[int | str, dict[str, Any]] = {400: {"description": "An index, tree size or range outside the log"}}
_INCONSISTENT: dict[int | str, dict[str, Any]] = {
    500: {"description": "The stored log contradicts itself or a checkpoint it signed"}
}
Size = Annotated[int, Query(ge=0, le=_MAX_SAFE_INTEGER)]
OptionalSize = Annotated[int | None, Query(ge=0, le=_MAX_SAFE_INTEGER)]


def audit_router(
    get_log: Callable[..., AuditLog],
    require_reader: Callable[..., Any],
    *,
    prefix: str = "/v1/audit",
) -> APIRouter:
    """Read-only endpoints of one service's audit log.

    ``get_log`` is a FastAPI dependency that returns the service's ``AuditLog`` (e.g. from ``app.state``);
    ``require_reader`` is a dependency that raises a 401/403 ``Problem`` unless the caller may read the log.
    Both are required: nothing here is readable by default.
    """
    router = APIRouter(prefix=prefix, tags=["audit"], dependencies=[Depends(require_reader)])
    # The log comes in as a default ``Depends(get_log)``, not in an ``Annotated`` hint: this module's hints are
    # strings (postponed annotations) that FastAPI resolves in the module's globals, where ``get_log`` is not.

    @router.get(
        "/checkpoint",
        summary="The latest signed checkpoint (signed now if the log grew since the last one)",
        responses=_INCONSISTENT,
    )
    def latest_checkpoint(audit: AuditLog = Depends(get_log)) -> dict[str, str]:
        try:
            return audit.checkpoint().document()
        except AuditLogCorrupt as exc:
            raise _problem(exc) from None

    @router.get("/checkpoints", summary=f"Signed checkpoints with tree_size >= since, oldest first (<= {MAX_PAGE})")
    def list_checkpoints(since: Size = 0, audit: AuditLog = Depends(get_log)) -> dict[str, Any]:
        return {"checkpoints": [c.document() for c in audit.checkpoints(since)]}

    @router.get(
        "/entries",
        summary=f"Entries [start, end) as stored, end exclusive (<= {MAX_PAGE}; page on from the last index + 1)",
        responses=_RANGE,
    )
    def list_entries(start: Size = 0, end: OptionalSize = None, audit: AuditLog = Depends(get_log)) -> dict[str, Any]:
        try:
            return {"entries": [e.document() for e in audit.entries(start, end)]}
        except AuditRangeError as exc:
            raise _problem(exc) from None

    @router.get(
        "/proof/inclusion",
        summary="Inclusion proof of entry `index`, or of every entry about `message_id`, in the tree of `tree_size`"
        " (default: the latest checkpoint's)",
        responses={**_RANGE, 404: {"description": "No entry about this message id"}, **_INCONSISTENT},
    )
    def inclusion_proof(
        index: OptionalSize = None,
        message_id: Annotated[str | None, Query(pattern=_MESSAGE_ID_PATTERN)] = None,
        tree_size: OptionalSize = None,
        audit: AuditLog = Depends(get_log),
    ) -> dict[str, Any]:
        if (index is None) == (message_id is None):
            raise Problem("invalid-range", 400, "Give either index or message_id")
        try:
            if index is not None:
                return audit.inclusion(index, tree_size).document()
            assert message_id is not None
            proofs = audit.inclusion_for_message(message_id, tree_size)
        except (AuditRangeError, AuditNotFound, AuditLogCorrupt) as exc:
            raise _problem(exc) from None
        return {"message_id": message_id, "tree_size": proofs[0].tree_size, "proofs": [p.document() for p in proofs]}

    @router.get(
        "/proof/consistency",
        summary="Consistency proof between the trees of sizes first <= second",
        responses={**_RANGE, **_INCONSISTENT},
    )
    def consistency_proof(first: Size, second: Size, audit: AuditLog = Depends(get_log)) -> dict[str, Any]:
        try:
            proof = audit.consistency(first, second)
        except (AuditRangeError, AuditLogCorrupt) as exc:
            raise _problem(exc) from None
        return {"first": first, "second": second, "proof": [p.hex() for p in proof]}

    return router
