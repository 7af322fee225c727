"""The durable outbox's worker: it delivers due submissions to the TPF, retrying with exponential backoff and
jitter, until a verified registry receipt (or a permanent refusal) ends it.

A sealed submission is on disk and in the database before the gateway says 202 (``service.submit``: one
transaction numbers it, signs its header, records it and moves its folder into ``outbox/<message id>/``).

The queue's mechanism (claims under a lease, backoff, dead-letter, the run loop; several workers may share the
database) is the kit's, services.kit.outbox; what delivering to the TPF means is :class:`_TpfCourier` here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Connection, Engine

from services.kit.audit_log import AuditLog
from services.kit.database import as_utc
from services.kit.http import MAX_ANSWER_BYTES, AnswerTooLarge, Clients, read_bounded
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
    door_wait,
    sweep_orphans,
)
from services.kit.problems import PERMANENT_PROBLEMS, ProblemType, problem_slug
from services.municipality_gateway.models import submissions
from services.municipality_gateway.monitoring import GatewayMetrics
from services.municipality_gateway.repository import discard_older_held
from services.municipality_gateway.sealing import HEADER_FILE, IDENTITY_FILE, PAYLOAD_FILE, SIGNATURE_FILE
from services.municipality_gateway.states import DONE_STATES, FINAL_STATES, HELD_DISCARDED, IN_DELIVERY, settled_facts
from services.municipality_gateway.states import SubmissionState as State
from shared.envelope import InvalidEnvelope, MessageRefused
from shared.envelope import transport as wire
from shared.envelope.receipts import verify_receipt, verify_refusal
from shared.keys import PublicDirectory

_TOO_LARGE = f"the TPF's answer is larger than {MAX_ANSWER_BYTES} bytes"
# The submissions the worker attempts: queued (to send) and forwarded (to ask after).
_TABLE = OutboxTable(
    submissions,
    queued=State.QUEUED,
    active=frozenset(IN_DELIVERY),
    dead_letter=State.DEAD_LETTER,
)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


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
    # Refused at the TPF's door (it is busy, or this gateway is over its rate): asked again after these seconds,
    # which costs no attempt.
    wait_s: float | None = None


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


def refusal_outcome(
    directory: PublicDirectory, message_id: str, header: bytes, body: dict[str, Any], answered: str
) -> DeliveryOutcome:
    """What a refusal from the TPF means for the submission whose signed header is ``header`` (docs/envelope-v1.md
    10.8): rejected if it carries the TPF's signed refusal of this very submission, final for it (spec 9.1) and one
    a sender stops on; otherwise no answer at all (the submission is sent again), whatever the problem document
    says. A problem document is unsigned: anything on the path could have written it. ``answered``: what the
    unsigned answer said, for the submission's last error."""
    try:
        refusal = verify_refusal(directory, body, message_id, hashlib.sha256(header).hexdigest(), "tpf")
    except (InvalidEnvelope, MessageRefused):
        return DeliveryOutcome(State.QUEUED, f"{answered}; not signed as final by the TPF, sending again", retry=True)
    upstream = refusal.upstream or ""
    if refusal.problem in PERMANENT_PROBLEMS:
        return DeliveryOutcome(State.REJECTED, refusal.problem)
    if refusal.problem == ProblemType.REGISTRY_REFUSED and upstream in PERMANENT_PROBLEMS:
        return DeliveryOutcome(State.REJECTED, f"registry: {upstream}")
    return DeliveryOutcome(State.QUEUED, f"{answered}; a refusal no sender stops on, sending again", retry=True)


class OutboxWorker:
    """Delivers the gateway's queued submissions to the TPF (services.kit.outbox does the queue's part: claims
    under a lease, backoff, dead-letter, the run loop; :class:`_TpfCourier` says what delivering means)."""

    def __init__(
        self,
        engine: Engine,
        directory: PublicDirectory,
        outbox_dir: Path,
        tpf_url: str,
        clients: Clients,
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
            directory, tpf_url, clients, backoff_s, backoff_max_s, audit, metrics or GatewayMetrics()
        )
        policy = Policy(max_attempts=max_attempts, backoff_s=backoff_s, backoff_max_s=backoff_max_s, lease_s=lease_s)
        self._box = Outbox(engine, _TABLE, outbox_dir, self._courier, policy, log_name="gateway.outbox")

    @property
    def clients(self) -> Clients:
        """The HTTP clients deliveries go out on, by municipality (replaceable, for tests)."""
        return self._courier.clients

    @clients.setter
    def clients(self, clients: Clients) -> None:
        self._courier.clients = clients

    def wake(self) -> None:
        self._box.wake()

    async def run(self) -> None:
        await self._box.run()

    async def deliver_due(self) -> bool:
        return await self._box.deliver_due()

    async def deliver(self, message_id: str) -> None:
        """One attempt at ``message_id`` now (due or not), recorded; nothing if another worker holds it."""
        await self._box.deliver(message_id)


def sweep(engine: Engine, outbox_dir: Path) -> None:
    """At start-up: remove the outbox folders whose transaction never committed (never accepted, no 202 sent);
    safe while other workers commit (services.kit.outbox.sweep_orphans)."""
    sweep_orphans(engine, submissions, outbox_dir, log_name="gateway.outbox")


class _TpfCourier:
    """Delivering means: POST the sealed submission to the TPF's ``/v1/messages``; once the TPF has taken it into
    its own outbox (202), ask after it with ``GET /v1/messages/{id}`` until the registry's receipt is there. Both
    go out on the client of the submission's municipality: the TPF takes a message, and tells of it, only over a
    connection with that municipality's certificate."""

    def __init__(
        self,
        directory: PublicDirectory,
        tpf_url: str,
        clients: Clients,
        backoff_s: float,
        backoff_max_s: float,
        audit: AuditLog | None,
        metrics: GatewayMetrics,
    ) -> None:
        self._directory = directory
        self._tpf_url = tpf_url.rstrip("/")
        self.clients = clients
        self._backoff_s = backoff_s
        self._backoff_max_s = backoff_max_s
        self._audit = audit
        self._metrics = metrics

    async def attempt(self, claim: Claim) -> DeliveryOutcome:
        if claim.state == State.FORWARDED:
            with self._metrics.stage("status_poll"):
                return await self._poll(claim.message_id, claim.folder, claim.row.municipality)
        with self._metrics.stage("delivery_attempt"):
            return await self._post(claim.message_id, claim.folder, claim.row.municipality)

    def failed(self, claim: Claim, error: Exception) -> DeliveryOutcome:
        return DeliveryOutcome(State.QUEUED, type(error).__name__, retry=True)

    def step(self, claim: Claim, outcome: DeliveryOutcome) -> Step:
        if outcome.wait_s is not None:
            return door_wait(outcome.state, outcome.error, outcome.wait_s)
        if outcome.state == State.FORWARDED and not outcome.retry:
            now = _now()
            forwarded_at = as_utc(claim.row.forwarded_at) if claim.row.forwarded_at else now
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
        discarded = discard_older_held(conn, message_id, _now()) if settled else []
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

    async def _post(self, message_id: str, folder: Path, municipality: str) -> DeliveryOutcome:
        try:
            header = (folder / HEADER_FILE).read_bytes()
            signature = (folder / SIGNATURE_FILE).read_bytes()
            identity = open(folder / IDENTITY_FILE, "rb")  # noqa: SIM115 - closed below
            payload = open(folder / PAYLOAD_FILE, "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            return DeliveryOutcome(State.DEAD_LETTER, "the sealed message is missing from the outbox")
        try:
            response = await read_bounded(
                self.clients.for_party(municipality),
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
        if slug in PERMANENT_PROBLEMS or (slug == ProblemType.REGISTRY_REFUSED and upstream in PERMANENT_PROBLEMS):
            # Final only with the TPF's signature on it; unsigned, or not final, it is sent again (and dead-lettered
            # after the configured attempts if the TPF keeps refusing it).
            answered = slug if slug != ProblemType.REGISTRY_REFUSED else f"registry: {upstream}"
            return refusal_outcome(self._directory, message_id, header, body, answered)
        if (wait_s := response.door_wait_s()) is not None:
            return DeliveryOutcome(State.QUEUED, slug, wait_s=wait_s)
        # Anything else (a 5xx, a proxy's 404/408/429, a receipt that did not verify) may pass: try again later.
        return DeliveryOutcome(State.QUEUED, slug or f"HTTP {response.status_code}", retry=True)

    async def _poll(self, message_id: str, folder: Path, municipality: str) -> DeliveryOutcome:
        """Ask the TPF how far a message it took has come."""
        try:
            client = self.clients.for_party(municipality)
            response = await read_bounded(client, "GET", f"{self._tpf_url}/v1/messages/{message_id}")
        except httpx.HTTPError as exc:
            return DeliveryOutcome(State.FORWARDED, f"TPF unreachable ({type(exc).__name__})", retry=True)
        except AnswerTooLarge:
            return DeliveryOutcome(State.FORWARDED, _TOO_LARGE, retry=True)
        body = response.json_object()
        if response.status_code == 404:
            # The TPF no longer knows it (its state was lost or rebuilt): send it again; the registry answers a
            # message it stored already with the original receipt.
            return DeliveryOutcome(State.QUEUED, "the TPF does not know this message; sending it again", retry=True)
        if (wait_s := response.door_wait_s()) is not None:
            return DeliveryOutcome(State.FORWARDED, problem_slug(str(body.get("type", ""))), wait_s=wait_s)
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
            # Ended only on the TPF's signed refusal, final for this submission; a rejection without one is not
            # for good (or not the TPF's): sent again, which the TPF takes afresh or answers with its refusal.
            header = (folder / HEADER_FILE).read_bytes()
            reported = f"the TPF reports rejected ({error})" if error else "the TPF reports rejected"
            return refusal_outcome(self._directory, message_id, header, body, reported)
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
