"""The durable outbox's worker: it delivers due submissions to the TPF, retrying with exponential backoff and
jitter, until a verified registry receipt (or a permanent refusal) ends it.

A sealed submission is on disk and in the database before the gateway says 202 (``service.submit``: one
transaction numbers it, signs its header, records it and moves its folder into ``outbox/<message id>/``).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import structlog
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Connection, Engine, select, update

from services.kit.audit_log import AuditLog
from services.kit.http import MAX_ANSWER_BYTES, AnswerTooLarge, read_bounded
from services.kit.problems import PERMANENT_PROBLEMS, problem_slug
from services.municipality_gateway.models import submissions
from services.municipality_gateway.monitoring import GatewayMetrics
from services.municipality_gateway.repository import discard_older_held as _discard_older_held
from services.municipality_gateway.sealing import HEADER_FILE, IDENTITY_FILE, PAYLOAD_FILE, SIGNATURE_FILE
from services.municipality_gateway.states import DONE_STATES, FINAL_STATES, HELD_DISCARDED, settled_facts
from shared.envelope import InvalidEnvelope, MessageRefused
from shared.envelope import transport as wire
from shared.envelope.receipts import verify_receipt
from shared.keys import PublicDirectory

_TOO_LARGE = f"the TPF's answer is larger than {MAX_ANSWER_BYTES} bytes"

log = structlog.get_logger("gateway.outbox")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


@dataclass
class DeliveryOutcome:
    state: str
    error: str | None = None
    receipt: dict[str, Any] | None = None
    signature: str | None = None
    retry: bool = False
    # False for a poll that found the message still queued at the TPF: waiting is not failing.
    attempt: bool = True


def receipt_outcome(
    directory: PublicDirectory, message_id: str, header: bytes, body: dict[str, Any]
) -> DeliveryOutcome:
    """What a receipt answer means for the submission whose signed header is ``header`` (docs/envelope-v1.md
    10.3): stored, held or refused if it verifies and is about this very submission; otherwise no answer at all
    (the submission stays queued and is retried), whatever the receipt holds."""
    try:
        receipt = verify_receipt(directory, body, message_id, hashlib.sha256(header).hexdigest())
    except (InvalidEnvelope, MessageRefused):
        return DeliveryOutcome("queued", "the receipt did not verify", retry=True)
    sent = json.loads(header)
    if (receipt.municipality, receipt.year, receipt.sequence) != (
        sent["municipality"],
        sent["year"],
        sent["sequence"],
    ):
        return DeliveryOutcome("queued", "the receipt is not for this submission", retry=True)
    return DeliveryOutcome(receipt.status, receipt.reason, body["receipt"], body["signature"])


class OutboxWorker:
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
    ) -> None:
        self._engine = engine
        self._directory = directory
        self._outbox = outbox_dir
        self._tpf_url = tpf_url.rstrip("/")
        self._client = client
        self._max_attempts = max_attempts
        self._backoff_s = backoff_s
        self._backoff_max_s = backoff_max_s
        self._audit = audit
        self._metrics = metrics or GatewayMetrics()
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                delivered_any = await self.deliver_due()
            except Exception as exc:  # keep the worker alive; the next round retries
                log.error("outbox round failed", error_type=type(exc).__name__)
                delivered_any = False
            if not delivered_any:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=1.0)

    async def deliver_due(self) -> bool:
        due = await run_in_threadpool(self._due)
        for message_id in due:
            try:
                await self.deliver(message_id)
            except Exception as exc:
                # Whatever went wrong counts as a failed attempt, so the message backs off instead of being
                # retried every second.
                log.error("delivery failed", message_id=message_id, error_type=type(exc).__name__)
                await run_in_threadpool(
                    self._record, message_id, DeliveryOutcome("queued", type(exc).__name__, retry=True)
                )
        return bool(due)

    def _due(self) -> list[str]:
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(submissions.c.message_id)
                .where(submissions.c.state.in_(("queued", "forwarded")), submissions.c.next_attempt_at <= _now())
                .order_by(submissions.c.next_attempt_at)
                .limit(20)
            )
            return [row.message_id for row in rows]

    async def deliver(self, message_id: str) -> None:
        folder = self._outbox / message_id
        state = await run_in_threadpool(self._state, message_id)
        if state == "forwarded":
            with self._metrics.stage("status_poll"):
                outcome = await self._poll(message_id, folder)
        else:
            with self._metrics.stage("delivery_attempt"):
                outcome = await self._post(message_id, folder)
        await run_in_threadpool(self._record, message_id, outcome)
        if outcome.state in DONE_STATES:
            # The chain has answered for good: the sealed parts are no longer needed. Header and signature
            # stay as the gateway's record of what it sent. A rejected or dead-lettered submission keeps its
            # parts, so an operator can inspect it and retry it.
            for name in (IDENTITY_FILE, PAYLOAD_FILE):
                (folder / name).unlink(missing_ok=True)

    async def _post(self, message_id: str, folder: Path) -> DeliveryOutcome:
        try:
            header = (folder / HEADER_FILE).read_bytes()
            signature = (folder / SIGNATURE_FILE).read_bytes()
            identity = open(folder / IDENTITY_FILE, "rb")  # noqa: SIM115 - closed below
            payload = open(folder / PAYLOAD_FILE, "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            return DeliveryOutcome("dead-letter", "the sealed message is missing from the outbox")
        try:
            response = await read_bounded(
                self._client,
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
            return DeliveryOutcome("queued", f"TPF unreachable ({type(exc).__name__})", retry=True)
        except AnswerTooLarge:
            return DeliveryOutcome("queued", _TOO_LARGE, retry=True)
        finally:
            identity.close()
            payload.close()
        body = response.json_object()
        if response.status_code == 200 or (response.status_code == 409 and "receipt" in body):
            return self._receipt_outcome(message_id, header, body)
        if response.status_code == 202:
            # The TPF holds it in its durable outbox and delivers it itself; from now on we ask, not send.
            return DeliveryOutcome("forwarded", str(body.get("last_error") or "") or None)
        problem = str(body.get("type", ""))
        slug = problem_slug(problem)
        upstream = problem_slug(str(body.get("upstream_type", "")))
        if slug in PERMANENT_PROBLEMS or (slug == "registry-refused" and upstream in PERMANENT_PROBLEMS):
            return DeliveryOutcome("rejected", slug if slug != "registry-refused" else f"registry: {upstream}")
        # Anything else (a 5xx, a proxy's 404/408/429, a receipt that did not verify) may pass: try again later.
        return DeliveryOutcome("queued", slug or f"HTTP {response.status_code}", retry=True)

    async def _poll(self, message_id: str, folder: Path) -> DeliveryOutcome:
        """Ask the TPF how far a message it took has come."""
        try:
            response = await read_bounded(self._client, "GET", f"{self._tpf_url}/v1/messages/{message_id}")
        except httpx.HTTPError as exc:
            return DeliveryOutcome("forwarded", f"TPF unreachable ({type(exc).__name__})", retry=True)
        except AnswerTooLarge:
            return DeliveryOutcome("forwarded", _TOO_LARGE, retry=True)
        body = response.json_object()
        if response.status_code == 404:
            # The TPF no longer knows it (its state was lost or rebuilt): send it again; the registry answers a
            # message it stored already with the original receipt.
            return DeliveryOutcome("queued", "the TPF does not know this message; sending it again", retry=True)
        if response.status_code != 200:
            return DeliveryOutcome("forwarded", f"HTTP {response.status_code} from the TPF", retry=True)
        state = body.get("state")
        error = str(body.get("last_error") or "") or None
        if state == "delivered" and "receipt" in body:
            return self._receipt_outcome(message_id, (folder / HEADER_FILE).read_bytes(), body)
        if state == "queued":
            return DeliveryOutcome("forwarded", error, attempt=False)
        if state == "rejected":
            return DeliveryOutcome("rejected", error or "rejected at the TPF")
        # dead-letter at the TPF, or an answer we do not know: send it again, which the TPF takes afresh.
        return DeliveryOutcome("queued", f"the TPF reports {state}; sending it again", retry=True)

    def _state(self, message_id: str) -> str:
        with self._engine.connect() as conn:
            state: str = conn.execute(
                select(submissions.c.state).where(submissions.c.message_id == message_id)
            ).scalar_one()
        return state

    def _receipt_outcome(self, message_id: str, header: bytes, body: dict[str, Any]) -> DeliveryOutcome:
        return receipt_outcome(self._directory, message_id, header, body)

    def _record(self, message_id: str, outcome: DeliveryOutcome) -> None:
        now = _now()
        with self._engine.begin() as conn:
            row = conn.execute(
                select(submissions.c.attempts, submissions.c.forwarded_at).where(submissions.c.message_id == message_id)
            ).one()
            attempts = row.attempts + 1 if outcome.attempt else row.attempts
            values: dict[str, Any] = {"attempts": attempts, "updated_at": now, "last_error": outcome.error}
            if outcome.state == "forwarded" and not outcome.retry:
                forwarded_at = _aware(row.forwarded_at) if row.forwarded_at else now
                # Poll often while a healthy chain settles it within seconds, then less and less often (a
                # quarter of the time it has waited), with jitter, never more than backoff_max_s apart.
                waited = (now - forwarded_at).total_seconds()
                delay = min(self._backoff_max_s, max(self._backoff_s, waited / 4)) * random.uniform(0.5, 1.0)  # noqa: S311
                values.update(
                    state="forwarded", forwarded_at=forwarded_at, next_attempt_at=now + dt.timedelta(seconds=delay)
                )
            elif outcome.retry:
                if attempts >= self._max_attempts:
                    values.update(state="dead-letter", next_attempt_at=None)
                else:
                    # Full jitter: spread retries of many gateways so a recovering TPF is not hit at once.
                    delay = random.uniform(0, min(self._backoff_max_s, self._backoff_s * 2**attempts))  # noqa: S311
                    values.update(state=outcome.state, next_attempt_at=now + dt.timedelta(seconds=delay))
                if outcome.state == "queued":
                    values.update(forwarded_at=None)
            else:
                values.update(
                    state=outcome.state,
                    next_attempt_at=None,
                    receipt=json.dumps(outcome.receipt) if outcome.receipt else None,
                    receipt_signature=outcome.signature,
                )
            conn.execute(update(submissions).where(submissions.c.message_id == message_id).values(**values))
            discarded = _discard_older_held(conn, message_id, now) if values["state"] in ("stored", "held") else []
            if self._audit is not None:
                self._audit_transition(conn, message_id, row.forwarded_at is not None, outcome, values["state"])
                for held_id in discarded:
                    self._audit.append(
                        conn,
                        "settled",
                        held_id,
                        settled_facts("refused", {"status": "held"}, HELD_DISCARDED),
                    )
        if values["state"] in FINAL_STATES:
            self._metrics.settled(values["state"], outcome.receipt)
        for _ in discarded:
            self._metrics.settled("refused", None)
        log.info(
            "delivery attempt",
            message_id=message_id,
            attempt=attempts,
            state=values["state"],
            error=outcome.error,
        )

    def _audit_transition(
        self, conn: Connection, message_id: str, was_forwarded: bool, outcome: DeliveryOutcome, state: str
    ) -> None:
        """``sent`` when the TPF first takes the message (202, or a receipt at once); ``settled`` when it ends."""
        assert self._audit is not None
        took = outcome.state == "forwarded" and not outcome.retry and not was_forwarded
        if took or (outcome.receipt is not None and not was_forwarded):
            self._audit.append(conn, "sent", message_id, {"outcome": "delivered" if outcome.receipt else "accepted"})
        if state in FINAL_STATES:
            problem = outcome.error.replace(": ", ":") if outcome.error else None
            self._audit.append(conn, "settled", message_id, settled_facts(state, outcome.receipt, problem))
