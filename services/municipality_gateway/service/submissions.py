"""The submissions a caller may see, and ``retry``: put a rejected or dead-lettered one back in the queue.

Also the start-up sweep of folders that were never accepted.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import structlog
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine

from services.kit.audit_log import AuditLog
from services.kit.credentials import Credential
from services.kit.problems import Problem, ProblemType
from services.municipality_gateway import outbox, repository
from services.municipality_gateway.repository import StoredSubmission
from services.municipality_gateway.schemas import Submission
from services.municipality_gateway.sealing import HEADER_FILE, IDENTITY_FILE, PAYLOAD_FILE
from services.municipality_gateway.service.access import find, not_found, own_submission
from services.municipality_gateway.service.context import GatewayContext
from services.municipality_gateway.states import RETRYABLE
from services.municipality_gateway.workfolders import sweep_abandoned
from shared.envelope import utc_timestamp

log = structlog.get_logger("gateway")


def document(stored: StoredSubmission) -> Submission:
    """The API's document of a submission."""
    return Submission(
        submission_id=stored.message_id,
        municipality=stored.municipality,
        year=stored.year,
        sequence=stored.sequence,
        records=stored.record_count,
        state=stored.state,
        attempts=stored.attempts,
        last_error=stored.last_error,
        created_at=utc_timestamp(stored.created_at),
        updated_at=utc_timestamp(stored.updated_at),
        forwarded_at=utc_timestamp(stored.forwarded_at) if stored.forwarded_at else None,
        receipt=json.loads(stored.receipt) if stored.receipt else None,
        receipt_signature=stored.receipt_signature,
    )


def find_submission(engine: Engine, message_id: str) -> Submission | None:
    """The document of submission ``message_id``, whoever's it is (for the gateway's own tools and tests)."""
    stored = find(engine, message_id)
    return document(stored) if stored else None


async def list_submissions(
    ctx: GatewayContext, caller: Credential, municipality: str | None = None, year: int | None = None
) -> list[Submission]:
    """The submissions the caller may see, newest first, of ``municipality`` and ``year`` if given."""
    if caller.municipality is not None:
        if municipality is not None and municipality != caller.municipality:
            return []  # the same answer as for a municipality with no submissions
        municipality = caller.municipality

    def newest_first() -> list[StoredSubmission]:
        with ctx.engine.connect() as conn:
            return repository.list_newest_first(conn, municipality, year)

    return [document(stored) for stored in await run_in_threadpool(newest_first)]


async def get_submission(ctx: GatewayContext, caller: Credential, submission_id: str) -> Submission:
    """One of the caller's submissions; 404 ``not-found`` for an unknown id and for another municipality's."""
    return document(await own_submission(ctx.engine, caller, submission_id))


async def retry(ctx: GatewayContext, caller: Credential, submission_id: str) -> Submission:
    """Put one of the caller's rejected or dead-lettered submissions back in the delivery queue (409
    ``not-retryable`` for any other), count it and say who did it in the log."""
    await own_submission(ctx.engine, caller, submission_id)
    requeued = await run_in_threadpool(requeue, ctx.engine, ctx.outbox_dir, submission_id, ctx.audit)
    if requeued is None:
        raise not_found()
    ctx.metrics.message("requeued")
    ctx.worker.wake()
    log.info("submission requeued", message_id=submission_id, credential=caller.name)
    return requeued


def requeue(engine: Engine, outbox_dir: Path, message_id: str, audit: AuditLog | None = None) -> Submission | None:
    """Put a rejected or dead-lettered submission back in the queue (None for an unknown id), with a ``requeued``
    audit entry in the same transaction."""
    folder = outbox_dir / message_id
    with engine.begin() as conn:
        stored = repository.find(conn, message_id)
        if stored is None:
            return None
        if stored.state not in RETRYABLE:
            raise Problem(ProblemType.NOT_RETRYABLE, "Only a rejected or dead-lettered submission can be retried")
        if not all((folder / name).exists() for name in (IDENTITY_FILE, PAYLOAD_FILE, HEADER_FILE)):
            raise Problem(ProblemType.NOT_RETRYABLE, "The sealed message is no longer in the outbox; submit again")
        if not repository.requeue(conn, message_id, dt.datetime.now(dt.UTC)):
            raise Problem(ProblemType.NOT_RETRYABLE, "Only a rejected or dead-lettered submission can be retried")
        if audit is not None:
            audit.append(conn, "requeued", message_id, {"outcome": stored.state.value})
    return find_submission(engine, message_id)


def sweep_unaccepted(engine: Engine, work_dir: Path, outbox_dir: Path) -> None:
    """At start-up: remove half-sealed folders left by a process that died while sealing (only those: the other
    gateway processes sharing the state folder may be sealing into theirs), and outbox folders whose transaction
    never committed. Neither was ever accepted (no 202 was sent for them)."""
    sweep_abandoned(work_dir)
    outbox.sweep(engine, outbox_dir)
