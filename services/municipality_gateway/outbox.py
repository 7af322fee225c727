"""The durable outbox: a sealed submission is on disk and in the database before the gateway says 202.

Accepting is one database transaction that assigns the next sequence for the municipality and year, signs
the header with that sequence, moves the sealed folder into ``outbox/<message id>/`` and records the
submission with its reference mapping. The worker then delivers due submissions to the TPF, retrying with
exponential backoff and jitter, until a verified registry receipt (or a permanent refusal) ends it.

The queue's mechanism (the rename into the outbox, claims under a lease, backoff, dead-letter, sweep, run loop)
is the kit's, services.kit.outbox; what delivering to the TPF means is :class:`_TpfCourier`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Connection, Engine, func, insert, select, update

from services.kit.audit_log import AuditLog
from services.kit.files import write_durably
from services.kit.http import MAX_ANSWER_BYTES, AnswerTooLarge, read_bounded
from services.kit.outbox import (
    Claim,
    Outbox,
    OutboxTable,
    Policy,
    Recorded,
    Retry,
    Settle,
    Step,
    Wait,
    move_in,
    sweep_orphans,
)
from services.kit.problems import PERMANENT_PROBLEMS, Problem, problem_slug
from services.municipality_gateway import limits
from services.municipality_gateway.models import SubmissionState as State
from services.municipality_gateway.models import record_refs, submissions
from services.municipality_gateway.monitoring import GatewayMetrics
from services.municipality_gateway.sealing import IDENTITY_FILE, PAYLOAD_FILE, REFS_FILE, SealedExport
from shared.audit import FactValue, sanitise_facts
from shared.envelope import (
    InvalidEnvelope,
    MessageRefused,
    SubmissionHeader,
    SubmissionParts,
    sign_header,
    utc_timestamp,
)
from shared.envelope import transport as wire
from shared.envelope.receipts import verify_receipt
from shared.keys import PartyKeys, PublicDirectory

HEADER_FILE = "header.json"
# The registry's reason for a held submission that a newer one overtook before it was confirmed.
HELD_DISCARDED = "held-discarded"
SIGNATURE_FILE = "header.sig"
# Where delivery ends. A held submission has been delivered (the registry keeps its records, waiting for the
# municipality's confirmation, services.municipality_gateway.confirmation), so nothing is sent again.
FINAL_STATES = frozenset({State.STORED, State.HELD, State.REFUSED, State.REJECTED, State.DEAD_LETTER})
_REFS_BATCH = 10_000  # reference rows per INSERT: memory stays flat for a million records
_TOO_LARGE = f"the TPF's answer is larger than {MAX_ANSWER_BYTES} bytes"
# Final and settled by the registry's signed receipt: the sealed parts can go.
DONE_STATES = frozenset({State.STORED, State.HELD, State.REFUSED})
# The submissions the worker attempts: queued (to send) and forwarded (to ask after).
_TABLE = OutboxTable(
    submissions,
    queued=State.QUEUED,
    active=frozenset({State.QUEUED, State.FORWARDED}),
    dead_letter=State.DEAD_LETTER,
)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def accept(
    engine: Engine,
    sealed: SealedExport,
    keys: PartyKeys,
    outbox_dir: Path,
    audit: AuditLog | None = None,
    *,
    export_sha256: str | None = None,
) -> dict[str, Any]:
    """Sign and enqueue a sealed export; return the submission's view. ``audit``: the gateway's audit log,
    which gets a ``sealed`` entry in the same transaction."""
    header = sealed.header
    outbox_dir.mkdir(parents=True, exist_ok=True)
    now = _now()
    with engine.begin() as conn:
        # The sequence orders submissions of one municipality-year at the registry. It is the acceptance time
        # in milliseconds, or one more than the last one here if the clock has not moved on: so a gateway
        # whose database was lost or rebuilt still numbers past everything it sent before, where a counter
        # starting again at 1 would see every new submission refused as stale. The transaction holds the
        # write lock (BEGIN IMMEDIATE on SQLite) and a unique constraint backs it up.
        last = conn.execute(
            select(func.coalesce(func.max(submissions.c.sequence), 0)).where(
                submissions.c.municipality == header.kommune_nr, submissions.c.year == header.rapporteringsaar
            )
        ).scalar_one()
        sequence = max(last + 1, int(now.timestamp() * 1000))
        signed = SubmissionHeader(
            message_id=sealed.message_id,
            sender=keys.party,
            signer_kid=keys.signing_kid,
            municipality=header.kommune_nr,
            year=header.rapporteringsaar,
            sequence=sequence,
            created_at=utc_timestamp(now),
            record_count=sealed.record_count,
            parts=SubmissionParts(identity=sealed.identity, payload=sealed.payload),
        )
        encoded, signature = sign_header(signed, keys.signing)
        if len(encoded) > limits.MAX_HEADER_BYTES:
            raise limits.header_too_large(len(encoded))
        write_durably(sealed.folder / HEADER_FILE, encoded)
        write_durably(sealed.folder / SIGNATURE_FILE, signature)
        conn.execute(
            insert(submissions),
            {
                "message_id": sealed.message_id,
                "municipality": header.kommune_nr,
                "year": header.rapporteringsaar,
                "sequence": sequence,
                "state": "queued",
                "record_count": sealed.record_count,
                "created_at": now,
                "updated_at": now,
                "attempts": 0,
                "next_attempt_at": now,
                "export_sha256": export_sha256,
            },
        )
        batch: list[dict[str, str]] = []
        for ref, nr in sealed.refs():
            batch.append({"message_id": sealed.message_id, "ref": ref, "bruker_nr": nr})
            if len(batch) == _REFS_BATCH:
                conn.execute(insert(record_refs), batch)
                batch = []
        if batch:
            conn.execute(insert(record_refs), batch)
        (sealed.folder / REFS_FILE).unlink()  # in the database now, in this transaction
        if audit is not None:
            audit.append(
                conn,
                "sealed",
                sealed.message_id,
                {
                    "municipality": header.kommune_nr,
                    "year": header.rapporteringsaar,
                    "sequence": sequence,
                    "records": sealed.record_count,
                    "submission_sha256": hashlib.sha256(encoded).hexdigest(),
                    "identity_sha256": sealed.identity.sha256,
                    "payload_sha256": sealed.payload.sha256,
                },
            )
        # Last step before commit: if the rename fails, the transaction rolls back and nothing is queued. If
        # the commit fails after it, the folder has no row: cleanup_outbox removes it at the next start.
        move_in(conn, sealed.folder, outbox_dir, sealed.message_id)
    return {
        "submission_id": sealed.message_id,
        "municipality": header.kommune_nr,
        "year": header.rapporteringsaar,
        "sequence": sequence,
        "records": sealed.record_count,
        "state": "queued",
    }


def view(row: Any) -> dict[str, Any]:
    receipt = json.loads(row.receipt) if row.receipt else None
    return {
        "submission_id": row.message_id,
        "municipality": row.municipality,
        "year": row.year,
        "sequence": row.sequence,
        "records": row.record_count,
        "state": row.state,
        "attempts": row.attempts,
        "last_error": row.last_error,
        "created_at": utc_timestamp(_aware(row.created_at)),
        "updated_at": utc_timestamp(_aware(row.updated_at)),
        "forwarded_at": utc_timestamp(_aware(row.forwarded_at)) if row.forwarded_at else None,
        "receipt": receipt,
        "receipt_signature": row.receipt_signature,
    }


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def get(engine: Engine, message_id: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(select(submissions).where(submissions.c.message_id == message_id)).first()
    return view(row) if row else None


def list_all(engine: Engine, municipality: str | None, year: int | None) -> list[dict[str, Any]]:
    query = select(submissions).order_by(submissions.c.created_at.desc())
    if municipality:
        query = query.where(submissions.c.municipality == municipality)
    if year:
        query = query.where(submissions.c.year == year)
    with engine.connect() as conn:
        return [view(row) for row in conn.execute(query)]


@dataclass(frozen=True)
class DeliveryOutcome:
    state: str  # SubmissionState
    error: str | None = None
    receipt: dict[str, Any] | None = None
    signature: str | None = None
    retry: bool = False
    # False for a poll that found the message still queued at the TPF: waiting is not failing.
    attempt: bool = True
    # Held submissions this one's receipt replaced (found while it was recorded): refused from then on.
    discarded: tuple[str, ...] = ()


def receipt_outcome(
    directory: PublicDirectory, message_id: str, header: bytes, body: dict[str, Any]
) -> DeliveryOutcome:
    """What a receipt answer means for the submission whose signed header is ``header`` (docs/envelope-v1.md
    10.3): stored, held or refused if it verifies and is about this very submission; otherwise no answer at all
    (the submission stays queued and is retried), whatever the receipt holds."""
    try:
        receipt = verify_receipt(directory, body, message_id, hashlib.sha256(header).hexdigest())
    except (InvalidEnvelope, MessageRefused):
        return DeliveryOutcome(State.QUEUED, "the receipt did not verify", retry=True)
    sent = json.loads(header)
    if (receipt.municipality, receipt.year, receipt.sequence) != (
        sent["municipality"],
        sent["year"],
        sent["sequence"],
    ):
        return DeliveryOutcome(State.QUEUED, "the receipt is not for this submission", retry=True)
    return DeliveryOutcome(receipt.status, receipt.reason, body["receipt"], body["signature"])


class OutboxWorker:
    """Delivers the gateway's queued submissions to the TPF (services.kit.outbox does the queue's part: claims
    under a lease, backoff, dead-letter, the run loop; :class:`_TpfCourier` says what delivering means)."""

    def __init__(
        self,
        engine: Engine,
        directory: PublicDirectory,
        outbox_dir: Path,
        tpf_url: str,
        client: httpx.AsyncClient,
        *,
        max_attempts: int,
        backoff_s: float,
        backoff_max_s: float,
        audit: AuditLog | None = None,
        metrics: GatewayMetrics | None = None,
        lease_s: float = 60.0,
    ) -> None:
        """``lease_s``: how long a worker holds a submission for an attempt without renewing it; another worker
        sharing the database takes it over after that if this one died."""
        self._courier = _TpfCourier(
            directory, tpf_url, client, backoff_s, backoff_max_s, audit, metrics or GatewayMetrics()
        )
        policy = Policy(max_attempts=max_attempts, backoff_s=backoff_s, backoff_max_s=backoff_max_s, lease_s=lease_s)
        self._box = Outbox(engine, _TABLE, outbox_dir, self._courier, policy, log_name="gateway.outbox")

    @property
    def client(self) -> httpx.AsyncClient:
        """The HTTP client deliveries go out on (replaceable, for tests)."""
        return self._courier.client

    @client.setter
    def client(self, client: httpx.AsyncClient) -> None:
        self._courier.client = client

    def wake(self) -> None:
        self._box.wake()

    async def run(self) -> None:
        await self._box.run()

    async def deliver_due(self) -> bool:
        return await self._box.deliver_due()

    async def deliver(self, message_id: str) -> None:
        """One attempt at ``message_id`` now (due or not), recorded; nothing if another worker holds it."""
        await self._box.deliver(message_id)


class _TpfCourier:
    """Delivering means: POST the sealed submission to the TPF's ``/v1/messages``; once the TPF has taken it into
    its own outbox (202), ask after it with ``GET /v1/messages/{id}`` until the registry's receipt is there."""

    def __init__(
        self,
        directory: PublicDirectory,
        tpf_url: str,
        client: httpx.AsyncClient,
        backoff_s: float,
        backoff_max_s: float,
        audit: AuditLog | None,
        metrics: GatewayMetrics,
    ) -> None:
        self._directory = directory
        self._tpf_url = tpf_url.rstrip("/")
        self.client = client
        self._backoff_s = backoff_s
        self._backoff_max_s = backoff_max_s
        self._audit = audit
        self._metrics = metrics

    async def attempt(self, claim: Claim) -> DeliveryOutcome:
        if claim.state == State.FORWARDED:
            with self._metrics.stage("status_poll"):
                return await self._poll(claim.message_id, claim.folder)
        with self._metrics.stage("delivery_attempt"):
            return await self._post(claim.message_id, claim.folder)

    def failed(self, claim: Claim, error: Exception) -> DeliveryOutcome:
        return DeliveryOutcome(State.QUEUED, type(error).__name__, retry=True)

    def step(self, claim: Claim, outcome: DeliveryOutcome) -> Step:
        if outcome.state == State.FORWARDED and not outcome.retry:
            now = _now()
            forwarded_at = _aware(claim.row.forwarded_at) if claim.row.forwarded_at else now
            # Poll often while a healthy chain settles it within seconds, then less and less often (a quarter of
            # the time it has waited), with jitter, never more than backoff_max_s apart.
            waited = (now - forwarded_at).total_seconds()
            delay = min(self._backoff_max_s, max(self._backoff_s, waited / 4)) * random.uniform(0.5, 1.0)  # noqa: S311
            return Wait(State.FORWARDED, outcome.error, delay, outcome.attempt, {"forwarded_at": forwarded_at})
        if outcome.retry:
            # Sent again from the start: polling backs off afresh once the TPF takes it again.
            return Retry(outcome.state, outcome.error, {"forwarded_at": None} if outcome.state == State.QUEUED else {})
        receipt = json.dumps(outcome.receipt) if outcome.receipt else None
        return Settle(outcome.state, outcome.error, {"receipt": receipt, "receipt_signature": outcome.signature})

    def record(self, conn: Connection, claim: Claim, outcome: DeliveryOutcome, recorded: Recorded) -> DeliveryOutcome:
        message_id = claim.message_id
        settled = recorded.state in (State.STORED, State.HELD)
        discarded = _discard_older_held(conn, message_id, _now()) if settled else []
        if self._audit is not None:
            self._audit_transition(conn, message_id, claim.row.forwarded_at is not None, outcome, recorded.state)
            for held_id in discarded:
                facts = settled_facts(State.REFUSED, {"status": State.HELD}, HELD_DISCARDED)
                self._audit.append(conn, "settled", held_id, facts)
        return dataclasses.replace(outcome, discarded=tuple(discarded))

    def after(self, claim: Claim, outcome: DeliveryOutcome, recorded: Recorded) -> None:
        if recorded.final:
            self._metrics.settled(recorded.state, outcome.receipt)
        for _ in outcome.discarded:
            self._metrics.settled(State.REFUSED, None)
        if recorded.state in DONE_STATES:
            # The chain has answered for good: the sealed parts are no longer needed. Header and signature
            # stay as the gateway's record of what it sent. A rejected or dead-lettered submission keeps its
            # parts, so an operator can inspect it and retry it.
            for name in (IDENTITY_FILE, PAYLOAD_FILE):
                (claim.folder / name).unlink(missing_ok=True)

    async def _post(self, message_id: str, folder: Path) -> DeliveryOutcome:
        try:
            header = (folder / HEADER_FILE).read_bytes()
            signature = (folder / SIGNATURE_FILE).read_bytes()
            identity = open(folder / IDENTITY_FILE, "rb")  # noqa: SIM115 - closed below
            payload = open(folder / PAYLOAD_FILE, "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            return DeliveryOutcome(State.DEAD_LETTER, "the sealed message is missing from the outbox")
        try:
            response = await read_bounded(
                self.client,
                "POST",
                f"{self._tpf_url}/v1/messages",
                files={
                    wire.SUBMISSION_HEADER: ("header.json", header, "application/json"),
                    wire.SUBMISSION_SIGNATURE: ("header.sig", signature, "application/octet-stream"),
                    wire.IDENTITY: ("identity.part", identity, "application/octet-stream"),
                    wire.PAYLOAD: ("payload.part", payload, "application/octet-stream"),
                },
            )
        except httpx.HTTPError as exc:
            return DeliveryOutcome(State.QUEUED, f"TPF unreachable ({type(exc).__name__})", retry=True)
        except AnswerTooLarge:
            return DeliveryOutcome(State.QUEUED, _TOO_LARGE, retry=True)
        finally:
            identity.close()
            payload.close()
        body = response.json_object()
        if response.status_code == 200 or (response.status_code == 409 and "receipt" in body):
            return receipt_outcome(self._directory, message_id, header, body)
        if response.status_code == 202:
            # The TPF holds it in its durable outbox and delivers it itself; from now on we ask, not send.
            return DeliveryOutcome(State.FORWARDED, str(body.get("last_error") or "") or None)
        problem = str(body.get("type", ""))
        slug = problem_slug(problem)
        upstream = problem_slug(str(body.get("upstream_type", "")))
        if slug in PERMANENT_PROBLEMS or (slug == "registry-refused" and upstream in PERMANENT_PROBLEMS):
            return DeliveryOutcome(State.REJECTED, slug if slug != "registry-refused" else f"registry: {upstream}")
        # Anything else (a 5xx, a proxy's 404/408/429, a receipt that did not verify) may pass: try again later.
        return DeliveryOutcome(State.QUEUED, slug or f"HTTP {response.status_code}", retry=True)

    async def _poll(self, message_id: str, folder: Path) -> DeliveryOutcome:
        """Ask the TPF how far a message it took has come."""
        try:
            response = await read_bounded(self.client, "GET", f"{self._tpf_url}/v1/messages/{message_id}")
        except httpx.HTTPError as exc:
            return DeliveryOutcome(State.FORWARDED, f"TPF unreachable ({type(exc).__name__})", retry=True)
        except AnswerTooLarge:
            return DeliveryOutcome(State.FORWARDED, _TOO_LARGE, retry=True)
        body = response.json_object()
        if response.status_code == 404:
            # The TPF no longer knows it (its state was lost or rebuilt): send it again; the registry answers a
            # message it stored already with the original receipt.
            return DeliveryOutcome(State.QUEUED, "the TPF does not know this message; sending it again", retry=True)
        if response.status_code != 200:
            return DeliveryOutcome(State.FORWARDED, f"HTTP {response.status_code} from the TPF", retry=True)
        state = body.get("state")
        error = str(body.get("last_error") or "") or None
        # The TPF's states (services.tpf.models.MessageState, which the gateway may not import): its wire format.
        if state == "delivered" and "receipt" in body:
            return receipt_outcome(self._directory, message_id, (folder / HEADER_FILE).read_bytes(), body)
        if state == "queued":
            return DeliveryOutcome(State.FORWARDED, error, attempt=False)
        if state == "rejected":
            return DeliveryOutcome(State.REJECTED, error or "rejected at the TPF")
        # dead-letter at the TPF, or an answer we do not know: send it again, which the TPF takes afresh.
        return DeliveryOutcome(State.QUEUED, f"the TPF reports {state}; sending it again", retry=True)

    def _audit_transition(
        self, conn: Connection, message_id: str, was_forwarded: bool, outcome: DeliveryOutcome, state: str
    ) -> None:
        """``sent`` when the TPF first takes the message (202, or a receipt at once); ``settled`` when it ends."""
        assert self._audit is not None
        took = outcome.state == State.FORWARDED and not outcome.retry and not was_forwarded
        if took or (outcome.receipt is not None and not was_forwarded):
            self._audit.append(conn, "sent", message_id, {"outcome": "delivered" if outcome.receipt else "accepted"})
        if state in FINAL_STATES:
            problem = outcome.error.replace(": ", ":") if outcome.error else None
            self._audit.append(conn, "settled", message_id, settled_facts(state, outcome.receipt, problem))


def settled_facts(state: str, receipt: dict[str, Any] | None, problem: str | None) -> dict[str, FactValue]:
    """The facts of a ``settled`` audit entry: how the submission ended and what the registry's receipt said.
    ``problem`` is a problem slug or the registry's reason; free text is dropped (``sanitise_facts``)."""
    receipt = receipt or {}
    stored = receipt.get("records_stored")
    return sanitise_facts(
        {
            "outcome": state,
            "receipt_status": receipt.get("status"),
            "stored": stored if isinstance(stored, int) else None,
            "problem": problem,
        }
    )


def _discard_older_held(conn: Connection, message_id: str, now: dt.datetime) -> list[str]:
    """The registry has just stored or held ``message_id``; by its rule (envelope-v1 section 7.5) an older held
    submission of the same municipality and year is refused from then on (``held-discarded``) and can no longer be
    confirmed. Say so here too, rather than offer the municipality a decision that no longer exists."""
    newer = conn.execute(
        select(submissions.c.municipality, submissions.c.year, submissions.c.sequence).where(
            submissions.c.message_id == message_id
        )
    ).one()
    older = [
        held_id
        for held_id in conn.execute(
            select(submissions.c.message_id).where(
                submissions.c.municipality == newer.municipality,
                submissions.c.year == newer.year,
                submissions.c.state == State.HELD,
                submissions.c.sequence < newer.sequence,
            )
        ).scalars()
    ]
    if older:
        conn.execute(
            update(submissions)
            .where(submissions.c.message_id.in_(older))
            .values(state=State.REFUSED, updated_at=now, last_error=f"{HELD_DISCARDED}: replaced by {message_id}")
        )
    return older


def requeue(engine: Engine, outbox_dir: Path, message_id: str, audit: AuditLog | None = None) -> dict[str, Any] | None:
    """Put a rejected or dead-lettered submission back in the queue (an operator's decision)."""
    folder = outbox_dir / message_id
    with engine.begin() as conn:
        row = conn.execute(select(submissions).where(submissions.c.message_id == message_id)).first()
        if row is None:
            return None
        if row.state not in ("rejected", "dead-letter"):
            raise Problem("not-retryable", 409, "Only a rejected or dead-lettered submission can be retried")
        if not all((folder / name).exists() for name in (IDENTITY_FILE, PAYLOAD_FILE, HEADER_FILE)):
            raise Problem("not-retryable", 409, "The sealed message is no longer in the outbox; submit again")
        now = _now()
        conn.execute(
            update(submissions)
            .where(submissions.c.message_id == message_id)
            .values(state="queued", attempts=0, next_attempt_at=now, updated_at=now, last_error=None)
        )
        if audit is not None:
            audit.append(conn, "requeued", message_id, {"outcome": str(row.state)})
    return get(engine, message_id)


def cleanup(engine: Engine, work_dir: Path, outbox_dir: Path) -> None:
    """At start-up: remove half-sealed folders left by a crash during sealing, and outbox folders whose
    transaction never committed. Neither was ever accepted (no 202 was sent for them)."""
    for folder in work_dir.glob("incoming-*"):
        shutil.rmtree(folder, ignore_errors=True)
    sweep_orphans(engine, submissions, outbox_dir, log_name="gateway.outbox")
