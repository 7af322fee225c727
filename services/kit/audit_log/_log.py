"""``AuditLog``: appending inside the caller's transaction under the log's write lock, signing checkpoints,
and reading entries, checkpoints and proofs from committed rows (the package docstring says why that is sound)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import datetime as dt
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import structlog
from nacl.signing import SigningKey
from sqlalchemy import Connection, Engine, Row, func, insert, select

from services.kit.audit_log._results import (
    MAX_PAGE,
    AuditLogCorrupt,
    AuditNotFound,
    AuditRangeError,
    InclusionProof,
    StoredCheckpoint,
    StoredEntry,
)
from services.kit.audit_log._tables import AuditTables
from services.kit.audit_log._verified import VerifiedLog, signed_checkpoint
from services.kit.database import READ_ONLY
from shared.audit import (
    EMPTY_ROOT,
    SERVICES,
    UNKNOWN_MESSAGE,
    AuditEntry,
    Checkpoint,
    FactValue,
    SignedCheckpoint,
    encode_entry,
    leaf_hash,
    new_checkpoint,
    sanitise_facts,
)
from shared.envelope import SubmissionHeader
from shared.envelope.headers import utc_timestamp
from shared.keys import ALG_ED25519, key_id

log = structlog.get_logger("audit")


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
        self._verified = VerifiedLog(tables, service)

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
        nobody can have the service sign what a message merely claims. ``problem`` is the service's own type. The
        services record only a proven sender's refusals (services.kit.refusals.unproven counts the others)."""
        with self.engine.begin() as conn:
            return self.append_refusal(conn, problem, header)

    def append_refusal(self, conn: Connection, problem: str, header: SubmissionHeader | None) -> AuditEntry:
        """The entry of :meth:`record_refusal`, inside the caller's transaction (with what else records the
        refusal: services.kit.refusals)."""
        facts: dict[str, FactValue] = {"problem": problem}
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
            self._verified.catch_up(conn)
            latest = self._latest_row(conn)
            tree = self._verified.tree
            if latest is not None and latest.tree_size >= tree.size:
                return signed_checkpoint(latest)
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

    async def run_checkpoints(
        self,
        interval_s: float,
        *,
        signed: Callable[[int], None] | None = None,
        failed: Callable[[], None] | None = None,
    ) -> None:
        """Sign a checkpoint now and then every ``interval_s`` seconds while the log grows; run it as a task in
        the service's lifespan and cancel it at shutdown. A failure is logged by its type and retried.
        ``signed(tree_size)`` after each run that left the log covered, ``failed()`` after each that did not (the
        service's metrics: an alert when checkpoints stop)."""
        while True:
            signing = asyncio.ensure_future(asyncio.to_thread(self.checkpoint))
            try:
                # Shielded: a cancellation at shutdown waits for the thread to finish its transaction, so the
                # engine is never disposed under a connection the checkpoint still holds.
                checkpoint = await asyncio.shield(signing)
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    await signing
                raise
            except Exception as exc:  # the loop must outlive a database hiccup
                log.error("audit checkpoint failed", error_type=type(exc).__name__)
                if failed is not None:
                    failed()
            else:
                if signed is not None:
                    signed(checkpoint.checkpoint.tree_size)
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
        verified = VerifiedLog(self.tables, self.service)
        with self._reader() as conn:
            verified.catch_up(conn)
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
                self._verified.catch_up(conn)
        if tree_size > self._verified.tree.size:
            raise AuditRangeError("tree_size is larger than the log")

    def _latest_row(self, conn: Connection) -> Row[Any] | None:
        table = self.tables.checkpoints
        return conn.execute(select(table).order_by(table.c.tree_size.desc()).limit(1)).first()
