"""The TPF's durable outbox: what the TPF has answered for is on disk and in its database first.

Taking a message is: verify it, pseudonymise into a staging folder (submission header and signature, the
signed delivery header, the sealed pseudonyms, the payload ciphertext byte for byte), fsync, then one
transaction that records the message as queued, writes the audit entry and renames the folder into
``outbox/<message id>/``. Only then is the message delivered: first in the request that brought it (so a
healthy chain answers with the registry's receipt at once), and if that does not settle it, by the worker,
with exponential backoff and full jitter, until a verified receipt or a permanent refusal ends it. A TPF
killed at any point loses nothing it answered for: an uncommitted staging folder is swept at start, a
committed message is delivered after the restart.

The outbox holds nothing the TPF can read back: the pseudonyms are sealed for the registry, the payload is
the municipality's ciphertext for the registry. Both are deleted once the registry has answered for good.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import json
import os
import random
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import structlog
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from services.kit.bodies import Upload
from services.kit.files import copy_durably, fsync_dir, write_durably
from services.kit.http import MAX_ANSWER_BYTES, AnswerTooLarge, read_bounded
from services.kit.problems import PERMANENT_PROBLEMS, Problem, problem_slug
from services.kit.refusals import FINAL, RefusalMemory, finalised
from services.tpf.models import outbox, receipts
from services.tpf.monitoring import TpfMetrics
from services.tpf.service import Pseudonymised, TpfContext, pseudonymise
from shared.audit import FactValue, identity_safe
from shared.envelope import InvalidEnvelope, MessageRefused, SubmissionHeader
from shared.envelope import receipts as receipts_module
from shared.envelope import transport as wire

log = structlog.get_logger("tpf.outbox")

STAGING_PREFIX = ".staging-"
# The files of one queued delivery, by the multipart field they are sent as.
FILES = {
    wire.DELIVERY_SUBMISSION_HEADER: "submission-header.json",
    wire.DELIVERY_SUBMISSION_SIGNATURE: "submission.sig",
    wire.DELIVERY_HEADER: "delivery-header.json",
    wire.DELIVERY_SIGNATURE: "delivery.sig",
    wire.PSEUDONYMS: "pseudonyms.part",
    wire.PAYLOAD: "payload.part",
}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def stage(
    ctx: TpfContext,
    staging_root: Path,
    header: SubmissionHeader,
    header_bytes: bytes,
    signature: bytes,
    identity: Upload,
    payload: Upload,
) -> tuple[Path, Pseudonymised]:
    """Pseudonymise into a new staging folder with every file of the delivery, fsynced. Problems propagate
    (the folder is removed): nothing is staged for a message that is refused."""
    staging_root.mkdir(parents=True, exist_ok=True)
    folder = staging_root / f"{STAGING_PREFIX}{secrets.token_hex(8)}"
    folder.mkdir()
    try:
        with (folder / FILES[wire.PSEUDONYMS]).open("wb") as out:
            done = pseudonymise(ctx, header, header_bytes, identity, out)
            out.flush()
            os.fsync(out.fileno())
        write_durably(folder / FILES[wire.DELIVERY_SUBMISSION_HEADER], header_bytes)
        write_durably(folder / FILES[wire.DELIVERY_SUBMISSION_SIGNATURE], signature)
        write_durably(folder / FILES[wire.DELIVERY_HEADER], done.delivery_header)
        write_durably(folder / FILES[wire.DELIVERY_SIGNATURE], done.delivery_signature)
        # The payload goes on byte for byte, as it arrived (its digest was checked against the signed header).
        copy_durably(payload.file, folder / FILES[wire.PAYLOAD])
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return folder, done


@dataclass(frozen=True)
class Status:
    message_id: str
    submission_sha256: str
    state: str
    attempts: int
    last_error: str | None

    def view(self, receipt: tuple[dict[str, Any], str] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "message_id": self.message_id,
            "state": self.state,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "status_url": f"/v1/messages/{self.message_id}",
        }
        if receipt is not None:
            body["receipt"], body["signature"] = receipt
        return body


@dataclass(frozen=True)
class Outcome:
    state: str  # delivered | rejected | queued (try again)
    error: str | None = None
    receipt: dict[str, Any] | None = None
    signature: str | None = None
    upstream_type: str | None = None
    upstream_status: int | None = None
    final: bool = False
    """Rejected, and the registry marked its refusal final for the message id (spec section 9)."""

    def problem(self) -> Problem:
        """What the TPF answers for a rejected message: ``registry-refused`` (502), with the registry's type."""
        problem = Problem(
            "registry-refused",
            502,
            "The registry refused the delivery",
            upstream_type=self.upstream_type,
            upstream_status=self.upstream_status,
        )
        return finalised(problem) if self.final else problem


class TpfOutbox:
    def __init__(
        self,
        engine: Engine,
        ctx: TpfContext,
        folder: Path,
        registry_url: str,
        client: httpx.AsyncClient,
        *,
        max_attempts: int,
        backoff_s: float,
        backoff_max_s: float,
        lease_s: float,
        metrics: TpfMetrics | None = None,
        refusals: RefusalMemory | None = None,
    ) -> None:
        """``refusals``: where a rejection the registry marked final is kept (spec section 9)."""
        self._engine = engine
        self._refusals = refusals
        self._ctx = ctx
        self.folder = folder
        self._registry_url = registry_url.rstrip("/")
        self.client = client
        self._max_attempts = max_attempts
        self._backoff_s = backoff_s
        self._backoff_max_s = backoff_max_s
        self._lease = dt.timedelta(seconds=lease_s)
        self.metrics = metrics or TpfMetrics()
        self._wake = asyncio.Event()

    # -- taking messages --------------------------------------------------------------------------------------

    def enqueue(self, staged: Path, header: SubmissionHeader, header_bytes: bytes, done: Pseudonymised) -> bool:
        """Commit a staged delivery. False if the message id is queued already (a concurrent duplicate)."""
        now = _now()
        target = self.folder / header.message_id
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    insert(outbox),
                    {
                        "message_id": header.message_id,
                        "submission_sha256": hashlib.sha256(header_bytes).hexdigest(),
                        "state": "queued",
                        "attempts": 0,
                        # Leased to the request that took it, which makes the first attempt itself.
                        "next_attempt_at": now + self._lease,
                        "created_at": now,
                        "updated_at": now,
                    },
                )
                self._ctx.audit.append(conn, "pseudonymised", header.message_id, _facts(header, header_bytes, done))
                # Last before commit: if the rename fails nothing is queued; if the commit fails after it,
                # the folder has no row and sweep() removes it at the next start.
                staged.rename(target)
                fsync_dir(self.folder)
        except IntegrityError:
            shutil.rmtree(staged, ignore_errors=True)
            return False
        self.metrics.pseudonymised(done.header.counts)
        return True

    def status(self, message_id: str) -> Status | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(outbox).where(outbox.c.message_id == message_id)).first()
        if row is None:
            return None
        return Status(row.message_id, row.submission_sha256, row.state, row.attempts, row.last_error)

    def forget(self, message_id: str) -> None:
        """Drop a rejected or dead-lettered message so that the municipality's re-delivery is taken afresh (a
        rejection that was final is answered from ``refused_messages`` before this is ever called)."""
        with self._engine.begin() as conn:
            conn.execute(delete(outbox).where(outbox.c.message_id == message_id, outbox.c.state != "queued"))
        shutil.rmtree(self.folder / message_id, ignore_errors=True)

    # -- delivering -------------------------------------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    def sweep(self) -> None:
        """At start-up: remove staging folders and folders of transactions that never committed, and end the
        leases of attempts that died with the previous process."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with self._engine.begin() as conn:
            conn.execute(update(outbox).where(outbox.c.state == "queued").values(next_attempt_at=_now()))
            queued = {row.message_id for row in conn.execute(select(outbox.c.message_id))}
        for entry in self.folder.iterdir():
            if entry.is_dir() and entry.name not in queued:
                if not entry.name.startswith(STAGING_PREFIX):
                    log.warning("removing an outbox folder that was never accepted", message_id=entry.name)
                shutil.rmtree(entry, ignore_errors=True)

    async def run(self) -> None:
        while True:
            try:
                busy = await self.deliver_due()
            except Exception as exc:  # keep the worker alive; the next round tries again
                log.error("outbox round failed", error_type=type(exc).__name__)
                busy = False
            if not busy:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=1.0)

    async def deliver_due(self) -> bool:
        due = await run_in_threadpool(self._claim_due)
        for message_id in due:
            await self.deliver(message_id)
        return bool(due)

    def _claim_due(self) -> list[str]:
        """Lease up to 20 due messages, so neither a concurrent request nor a second round delivers them too."""
        now = _now()
        claimed = []
        with self._engine.begin() as conn:
            rows = conn.execute(
                select(outbox.c.message_id)
                .where(outbox.c.state == "queued", outbox.c.next_attempt_at <= now)
                .order_by(outbox.c.next_attempt_at)
                .limit(20)
            ).all()
            for row in rows:
                result = conn.execute(
                    update(outbox)
                    .where(
                        outbox.c.message_id == row.message_id,
                        outbox.c.state == "queued",
                        outbox.c.next_attempt_at <= now,
                    )
                    .values(next_attempt_at=now + self._lease)
                )
                if result.rowcount == 1:
                    claimed.append(row.message_id)
        return claimed

    async def deliver(self, message_id: str) -> Outcome:
        """One attempt; the outcome is recorded before it is returned. Never raises for a failed attempt."""
        try:
            with self.metrics.stage("forward_attempt"):
                outcome = await self._post(message_id)
        except Exception as exc:  # counted as a failed attempt, so the message backs off
            log.error("delivery failed", message_id=message_id, error_type=type(exc).__name__)
            outcome = Outcome("queued", type(exc).__name__)
        await run_in_threadpool(self._record, message_id, outcome)
        if outcome.state != "queued":
            # Settled for good: the sealed parts are of no further use to anyone here.
            await run_in_threadpool(shutil.rmtree, self.folder / message_id, True)
        return outcome

    async def _post(self, message_id: str) -> Outcome:
        folder = self.folder / message_id
        submission_bytes = (folder / FILES[wire.DELIVERY_SUBMISSION_HEADER]).read_bytes()
        with contextlib.ExitStack() as stack:
            files = {
                field: (name, stack.enter_context((folder / name).open("rb")), _media_type(name))
                for field, name in FILES.items()
            }
            try:
                response = await read_bounded(self.client, "POST", f"{self._registry_url}/v1/deliveries", files=files)
            except httpx.HTTPError as exc:
                return Outcome("queued", f"registry unreachable ({type(exc).__name__})")
            except AnswerTooLarge:
                # Read no further; the registry (or whatever answered) is asked again later.
                return Outcome("queued", f"the registry's answer is larger than {MAX_ANSWER_BYTES} bytes")
        body = response.json_object()
        if response.status_code in (200, 201) or (response.status_code == 409 and "receipt" in body):
            try:
                receipts_module.verify_receipt(
                    self._ctx.directory, body, message_id, hashlib.sha256(submission_bytes).hexdigest()
                )
            except (InvalidEnvelope, MessageRefused):
                return Outcome("queued", "the registry's receipt does not verify")
            return Outcome("delivered", None, body["receipt"], body["signature"])
        problem = str(body.get("type", ""))
        slug = problem_slug(problem)
        if slug in PERMANENT_PROBLEMS:
            return Outcome(
                "rejected",
                f"registry: {slug}",
                upstream_type=problem,
                upstream_status=response.status_code,
                final=body.get(FINAL) is True,
            )
        return Outcome("queued", slug or f"HTTP {response.status_code}")

    def _record(self, message_id: str, outcome: Outcome) -> None:
        now = _now()
        with self._engine.begin() as conn:
            row = conn.execute(
                select(outbox.c.attempts, outbox.c.submission_sha256).where(outbox.c.message_id == message_id)
            ).one()
            attempts = row.attempts + 1
            values: dict[str, Any] = {"attempts": attempts, "updated_at": now, "last_error": outcome.error}
            if outcome.state == "queued":
                if attempts >= self._max_attempts:
                    values.update(state="dead-letter", next_attempt_at=None)
                    self._ctx.audit.append(conn, "dead-lettered", message_id, {"outcome": "dead-letter"})
                else:
                    # Full jitter: many queued messages do not all hit a recovering registry at once.
                    delay = random.uniform(0, min(self._backoff_max_s, self._backoff_s * 2**attempts))  # noqa: S311
                    values.update(next_attempt_at=now + dt.timedelta(seconds=delay))
            else:
                values.update(state=outcome.state, next_attempt_at=None)
                if outcome.receipt is not None:
                    conn.execute(
                        insert(receipts),
                        {
                            "message_id": message_id,
                            "receipt": json.dumps(outcome.receipt),
                            "signature": outcome.signature,
                            "at": now,
                        },
                    )
            conn.execute(update(outbox).where(outbox.c.message_id == message_id).values(**values))
            if outcome.final and self._refusals is not None and self._refusals.lookup_in(conn, message_id) is None:
                # Final for the message id: the municipality's re-delivery is answered from here (section 9).
                self._refusals.remember_in(conn, message_id, row.submission_sha256, outcome.problem())
            if outcome.state != "queued":
                self._ctx.audit.append(conn, "forwarded", message_id, _settled_facts(outcome))
        if "state" in values:  # settled for good: delivered, rejected or dead-letter
            self.metrics.settled(values["state"])
        log.info("delivery attempt", message_id=message_id, attempt=attempts, state=values.get("state", "queued"))


def stored_receipt(engine: Engine, message_id: str) -> tuple[dict[str, Any], str] | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(receipts.c.receipt, receipts.c.signature).where(receipts.c.message_id == message_id)
        ).first()
    return (json.loads(row.receipt), row.signature) if row else None


def _facts(header: SubmissionHeader, header_bytes: bytes, done: Pseudonymised) -> dict[str, FactValue]:
    counts = done.header.counts
    return {
        "municipality": header.municipality,
        "year": header.year,
        "sequence": identity_safe(header.sequence),
        "records": counts.records,
        "pseudonymised": counts.pseudonymised,
        "refused": counts.refused,
        "submission_sha256": hashlib.sha256(header_bytes).hexdigest(),
        "identity_sha256": header.parts.identity.sha256,
        "payload_sha256": header.parts.payload.sha256,
        "pseudonyms_sha256": done.header.parts.pseudonyms.sha256,
        "delivery_sha256": hashlib.sha256(done.delivery_header).hexdigest(),
        "key_version": done.header.pseudonym_key_version,
    }


def _settled_facts(outcome: Outcome) -> dict[str, FactValue]:
    """How the registry answered: its receipt's status and count, or the refusal that made it final."""
    if outcome.receipt is None:
        return {"outcome": "rejected", "problem": problem_slug(outcome.upstream_type or "") or None}
    stored = outcome.receipt.get("records_stored")
    return {
        "outcome": "delivered",
        "receipt_status": str(outcome.receipt.get("status")),
        "stored": stored if isinstance(stored, int) else None,
    }


def _media_type(name: str) -> str:
    return "application/json" if name.endswith(".json") else "application/octet-stream"
