"""The TPF's durable outbox: what the TPF has answered for is on disk and in its database first.

Taking a message is: verify it, pseudonymise into a staging folder (submission header and signature, the
signed delivery header, the sealed pseudonyms, the payload ciphertext byte for byte), fsync, then one
transaction that records the message as queued, writes the audit entry and renames the folder into
``outbox/<message id>/``. Only then is the message delivered: first in the request that brought it (so a
healthy chain answers with the registry's receipt at once), and if that does not settle it, by the worker,
with exponential backoff and full jitter, until a verified receipt or a permanent refusal ends it. A TPF
killed at any point loses nothing it answered for: an uncommitted staging folder is swept at start, a
committed message is delivered after the restart.

The mechanism (staging, the rename, leases, backoff, dead-letter, sweep, run loop) is the kit's
(:mod:`services.kit.outbox`); what is the TPF's is here: the files of a delivery, what delivering to the registry
means (:class:`_RegistryCourier`), and how an outcome is kept (receipts, final refusals, audit entries).

The outbox holds nothing the TPF can read back: the pseudonyms are sealed for the registry, the payload is
the municipality's ciphertext for the registry. Both are deleted once the registry has answered for good.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import httpx
import structlog
from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.exc import IntegrityError

from services.kit.audit_log import AuditLog
from services.kit.bodies import Upload
from services.kit.files import copy_durably, write_durably
from services.kit.http import MAX_ANSWER_BYTES, AnswerTooLarge, read_bounded
from services.kit.outbox import (
    STAGING_PREFIX,
    Claim,
    Outbox,
    OutboxTable,
    Policy,
    Recorded,
    Retry,
    Settle,
    Step,
    door_wait,
)
from services.kit.problems import PERMANENT_PROBLEMS, Problem, ProblemType, problem_slug
from services.kit.refusals import FINAL, RefusalMemory, finalised
from services.kit.signed_refusals import signed_if_final
from services.tpf.models import outbox, receipts
from services.tpf.monitoring import TpfMetrics
from services.tpf.pseudonymising import Pseudonymised
from services.tpf.schemas import MessageState
from shared.audit import FactValue, identity_safe
from shared.envelope import InvalidEnvelope, MessageRefused, SubmissionHeader
from shared.envelope import receipts as receipts_module
from shared.envelope import transport as wire
from shared.keys import PartyKeys, PublicDirectory

__all__ = ["FILES", "STAGING_PREFIX", "Outcome", "Status", "TpfOutbox", "stored_receipt"]

log = structlog.get_logger("tpf.outbox")

# The files of one queued delivery, by the multipart field they are sent as.
FILES = {
    wire.DELIVERY_SUBMISSION_HEADER: "submission-header.json",
    wire.DELIVERY_SUBMISSION_SIGNATURE: "submission.sig",
    wire.DELIVERY_HEADER: "delivery-header.json",
    wire.DELIVERY_SIGNATURE: "delivery.sig",
    wire.PSEUDONYMS: "pseudonyms.part",
    wire.PAYLOAD: "payload.part",
}
_TABLE = OutboxTable(
    outbox,
    queued=MessageState.QUEUED,
    active=frozenset({MessageState.QUEUED}),
    dead_letter=MessageState.DEAD_LETTER,
)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Status:
    message_id: str
    submission_sha256: str
    state: str
    attempts: int
    last_error: str | None


@dataclass(frozen=True)
class Outcome:
    state: str  # MessageState: delivered | rejected | queued (try again)
    error: str | None = None
    receipt: dict[str, Any] | None = None
    signature: str | None = None
    upstream_type: str | None = None
    upstream_status: int | None = None
    final: bool = False
    """Rejected, and the registry marked its refusal final for the message id (spec section 9)."""
    unreachable: bool = False
    """Queued because the registry could not be reached (nothing about this message): tried again as soon as the
    registry answers for another message (services.kit.outbox.Retry.peer_down), its backoff meanwhile."""
    wait_s: float | None = None
    """Queued because the registry refused it at its door (busy, or the TPF over its rate): asked again after these
    seconds, which costs no attempt (services.kit.outbox.door_wait)."""

    def problem(self) -> Problem:
        """What the TPF answers for a rejected message: ``registry-refused`` (502), with the registry's type."""
        problem = Problem(
            ProblemType.REGISTRY_REFUSED,
            "The registry refused the delivery",
            upstream_type=self.upstream_type,
            upstream_status=self.upstream_status,
        )
        return finalised(problem) if self.final else problem


class TpfOutbox:
    def __init__(
        self,
        engine: Engine,
        folder: Path,
        registry_url: str,
        client: httpx.AsyncClient,
        *,
        audit: AuditLog,
        directory: PublicDirectory,
        max_attempts: int,
        backoff_s: float,
        backoff_max_s: float,
        lease_s: float,
        metrics: TpfMetrics | None = None,
        refusals: RefusalMemory | None = None,
        signing: PartyKeys | None = None,
    ) -> None:
        """``audit``: where taking and settling a message is put on record; ``directory``: the registry's key the
        receipts and signed refusals are verified with; ``refusals``: where a rejection the registry signed as final
        is kept (spec section 9), signed with ``signing``, the TPF's keys, for the gateway (spec 7.10).
        ``lease_s``: how long a worker holds a message for an attempt without renewing it
        (services.kit.outbox.Policy)."""
        self._engine = engine
        self._audit = audit
        self.folder = folder
        self.metrics = metrics or TpfMetrics()
        self._courier = _RegistryCourier(audit, directory, registry_url, client, self.metrics, refusals, signing)
        policy = Policy(max_attempts=max_attempts, backoff_s=backoff_s, backoff_max_s=backoff_max_s, lease_s=lease_s)
        self._box = Outbox(engine, _TABLE, folder, self._courier, policy, log_name="tpf.outbox")

    @property
    def client(self) -> httpx.AsyncClient:
        """The HTTP client deliveries go out on (replaceable, for tests)."""
        return self._courier.client

    @client.setter
    def client(self, client: httpx.AsyncClient) -> None:
        self._courier.client = client

    # -- taking messages --------------------------------------------------------------------------------------

    def stage(
        self,
        header_bytes: bytes,
        signature: bytes,
        payload: Upload,
        pseudonymise: Callable[[BinaryIO], Pseudonymised],
    ) -> tuple[Path, Pseudonymised]:
        """A new staging folder with every file of the delivery, fsynced; ``pseudonymise`` writes the sealed
        pseudonyms into the file it is given (the service's step). Problems propagate (the folder is removed):
        nothing is staged for a message that is refused."""
        with self._box.staging() as folder:
            with (folder / FILES[wire.PSEUDONYMS]).open("wb") as out:
                done = pseudonymise(out)
                out.flush()
                os.fsync(out.fileno())
            write_durably(folder / FILES[wire.DELIVERY_SUBMISSION_HEADER], header_bytes)
            write_durably(folder / FILES[wire.DELIVERY_SUBMISSION_SIGNATURE], signature)
            write_durably(folder / FILES[wire.DELIVERY_HEADER], done.delivery_header)
            write_durably(folder / FILES[wire.DELIVERY_SIGNATURE], done.delivery_signature)
            # The payload goes on byte for byte, as it arrived (its digest was checked against the signed header).
            copy_durably(payload.file, folder / FILES[wire.PAYLOAD])
        return folder, done

    def enqueue(self, staged: Path, header: SubmissionHeader, header_bytes: bytes, done: Pseudonymised) -> bool:
        """Commit a staged delivery, leased to this worker for the attempt the request makes itself
        (:meth:`deliver`). False if the message id is queued already (a concurrent duplicate)."""
        try:
            with self._engine.begin() as conn:
                values = {"submission_sha256": hashlib.sha256(header_bytes).hexdigest(), "created_at": _now()}
                self._box.add(conn, header.message_id, values, leased=True)
                self._audit.append(conn, "pseudonymised", header.message_id, _facts(header, header_bytes, done))
                self._box.move_in(conn, staged, header.message_id)
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
        self._box.discard(message_id)

    # -- delivering -------------------------------------------------------------------------------------------

    def wake(self) -> None:
        self._box.wake()

    def sweep(self) -> None:
        """At start-up: remove staging folders and folders of transactions that never committed, free the leases
        of attempts that died with a previous process, and make every queued message due (a restart retries)."""
        self._box.sweep(due_now=True)

    async def run(self) -> None:
        await self._box.run()

    async def deliver_due(self) -> bool:
        return await self._box.deliver_due()

    async def deliver(self, message_id: str) -> Outcome:
        """One attempt; the outcome is recorded before it is returned. Never raises for a failed attempt. A
        message another worker is attempting is left to it (and answered as queued)."""
        outcome = await self._box.deliver(message_id)
        return outcome if outcome is not None else Outcome(MessageState.QUEUED)


def stored_receipt(engine: Engine, message_id: str) -> tuple[dict[str, Any], str] | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(receipts.c.receipt, receipts.c.signature).where(receipts.c.message_id == message_id)
        ).first()
    return (json.loads(row.receipt), row.signature) if row else None


class _RegistryCourier:
    """Delivering means: POST the files to the registry's ``/v1/deliveries`` and verify its receipt."""

    def __init__(
        self,
        audit: AuditLog,
        directory: PublicDirectory,
        registry_url: str,
        client: httpx.AsyncClient,
        metrics: TpfMetrics,
        refusals: RefusalMemory | None,
        signing: PartyKeys | None,
    ) -> None:
        self.client = client
        self._signing = signing
        self._audit = audit
        self._directory = directory
        self._registry_url = registry_url.rstrip("/")
        self._metrics = metrics
        self._refusals = refusals

    async def attempt(self, claim: Claim) -> Outcome:
        with self._metrics.stage("forward_attempt"):
            return await self._post(claim.message_id, claim.folder)

    def failed(self, claim: Claim, error: Exception) -> Outcome:
        return Outcome(MessageState.QUEUED, type(error).__name__)

    def step(self, claim: Claim, outcome: Outcome) -> Step:
        if outcome.wait_s is not None:
            return door_wait(outcome.state, outcome.error, outcome.wait_s)
        if outcome.state == MessageState.QUEUED:
            return Retry(MessageState.QUEUED, outcome.error, peer_down=outcome.unreachable)
        return Settle(outcome.state, outcome.error)

    def record(self, conn: Connection, claim: Claim, outcome: Outcome, recorded: Recorded) -> Outcome:
        message_id = claim.message_id
        if recorded.dead_lettered:
            self._audit.append(conn, "dead-lettered", message_id, {"outcome": MessageState.DEAD_LETTER})
            return outcome
        if not recorded.final:
            return outcome
        if outcome.receipt is not None:
            conn.execute(
                insert(receipts),
                {
                    "message_id": message_id,
                    "receipt": json.dumps(outcome.receipt),
                    "signature": outcome.signature,
                    "at": _now(),
                },
            )
        if outcome.final and self._refusals is not None and self._refusals.lookup_in(conn, message_id) is None:
            # Final for the message id: the municipality's re-delivery is answered from here (section 9), with the
            # TPF's signed refusal made once, now, so that every answer about it is the same document.
            problem = outcome.problem()
            if self._signing is not None:
                problem = signed_if_final(self._signing, problem, message_id, claim.row.submission_sha256)
            self._refusals.remember_in(conn, message_id, claim.row.submission_sha256, problem)
        self._audit.append(conn, "forwarded", message_id, _settled_facts(outcome))
        return outcome

    def after(self, claim: Claim, outcome: Outcome, recorded: Recorded) -> None:
        if not recorded.final:
            return
        self._metrics.settled(recorded.state)
        if not recorded.dead_lettered:
            # Settled for good: the sealed parts are of no further use to anyone here.
            shutil.rmtree(claim.folder, ignore_errors=True)

    async def _post(self, message_id: str, folder: Path) -> Outcome:
        submission_bytes = (folder / FILES[wire.DELIVERY_SUBMISSION_HEADER]).read_bytes()
        with contextlib.ExitStack() as stack:
            files = {
                field: (name, stack.enter_context((folder / name).open("rb")), _media_type(name))
                for field, name in FILES.items()
            }
            try:
                response = await read_bounded(self.client, "POST", f"{self._registry_url}/v1/deliveries", files=files)
            except httpx.HTTPError as exc:
                return Outcome(MessageState.QUEUED, f"registry unreachable ({type(exc).__name__})", unreachable=True)
            except AnswerTooLarge:
                # Read no further; the registry (or whatever answered) is asked again later.
                return Outcome(MessageState.QUEUED, f"the registry's answer is larger than {MAX_ANSWER_BYTES} bytes")
        body = response.json_object()
        if response.status_code in (200, 201) or (response.status_code == 409 and "receipt" in body):
            try:
                receipts_module.verify_receipt(
                    self._directory, body, message_id, hashlib.sha256(submission_bytes).hexdigest()
                )
            except (InvalidEnvelope, MessageRefused):
                return Outcome(MessageState.QUEUED, "the registry's receipt does not verify")
            return Outcome(MessageState.DELIVERED, None, body["receipt"], body["signature"])
        problem = str(body.get("type", ""))
        slug = problem_slug(problem)
        if slug in PERMANENT_PROBLEMS:
            return Outcome(
                MessageState.REJECTED,
                f"registry: {slug}",
                upstream_type=problem,
                upstream_status=response.status_code,
                final=self._signed_final(body, slug, message_id, submission_bytes),
            )
        if (wait_s := response.door_wait_s()) is not None:
            return Outcome(MessageState.QUEUED, slug, wait_s=wait_s)
        return Outcome(MessageState.QUEUED, slug or f"HTTP {response.status_code}")

    def _signed_final(self, body: dict[str, Any], slug: str, message_id: str, submission_bytes: bytes) -> bool:
        """Whether the registry's refusal is final for the message: marked so, and carrying the registry's signed
        refusal of this very submission with the same code (docs/envelope-v1.md 7.10). An unsigned ``"final":
        true`` could be anyone's on the path: the message is then rejected, not for good (the municipality's
        re-delivery takes it afresh), and the gateway, which ends a submission only on the TPF's signed refusal,
        sends it again."""
        if body.get(FINAL) is not True:
            return False
        digest = hashlib.sha256(submission_bytes).hexdigest()
        try:
            refusal = receipts_module.verify_refusal(self._directory, body, message_id, digest, "registry")
        except (InvalidEnvelope, MessageRefused):
            log.warning("an unsigned final refusal from the registry: not taken as final", message_id=message_id)
            return False
        return refusal.problem == slug


def _facts(header: SubmissionHeader, header_bytes: bytes, done: Pseudonymised) -> dict[str, FactValue]:
    counts = done.header.counts
    return {
        "municipality": header.municipality,
        "sender": header.sender,
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
