"""``confirm_replacement``: the municipality's decision that its held submission replace the active one (spec
sections 7.8 and 10.5).

The registry holds a submission whose person count fell sharply below the active one's (an export cut short, or
the wrong file) and keeps the year as it was. Only the municipality can say that the drop is real: the gateway
signs a confirmation with the municipality's key, about that very submission header, and sends it to the
registry, which applies the held submission in one transaction and answers with a new signed receipt.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx
import structlog
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine

from services.kit.audit_log import AuditLog
from services.kit.credentials import Credential
from services.kit.http import AnswerTooLarge, read_bounded
from services.kit.problems import Problem, ProblemType, problem_slug
from services.municipality_gateway import repository
from services.municipality_gateway.repository import StoredSubmission
from services.municipality_gateway.schemas import Submission
from services.municipality_gateway.sealing import HEADER_FILE
from services.municipality_gateway.service.access import own_submission
from services.municipality_gateway.service.context import GatewayContext
from services.municipality_gateway.service.submissions import find_submission
from services.municipality_gateway.states import SubmissionState, settled_facts
from shared.envelope import Confirmation, InvalidEnvelope, MessageRefused, utc_timestamp
from shared.envelope.receipts import carry, verify_receipt
from shared.keys import PartyKeys

log = structlog.get_logger("gateway.confirmation")

# The registry's answers that carry a receipt saying what the submission now is.
_RECEIPT_ANSWERS = frozenset({ProblemType.NOT_HELD, ProblemType.STALE_SEQUENCE})


async def confirm_replacement(ctx: GatewayContext, caller: Credential, submission_id: str) -> Submission:
    """Confirm the caller's held submission at the registry; record, count and return what it now is."""
    stored = await own_submission(ctx.engine, caller, submission_id)
    if stored.state is not SubmissionState.HELD:
        raise Problem(
            ProblemType.NOT_HELD, "Only a submission the registry holds can be confirmed", state=stored.state.value
        )
    header = (ctx.outbox_dir / submission_id / HEADER_FILE).read_bytes()
    confirmation = sign_confirmation(ctx.keys[stored.municipality], stored, header)
    answer = await _send(ctx, submission_id, stored.municipality, confirmation)
    try:
        receipt = verify_receipt(ctx.directory, answer, submission_id, hashlib.sha256(header).hexdigest())
    except (InvalidEnvelope, MessageRefused):
        raise Problem(ProblemType.CONFIRMATION_FAILED, "The registry's receipt did not verify") from None
    if receipt.status == SubmissionState.HELD.value:  # an answer that says nothing was decided is no answer
        raise Problem(ProblemType.CONFIRMATION_FAILED, "The registry's receipt says the submission is still held")
    state = SubmissionState(receipt.status)
    await run_in_threadpool(_record, ctx.engine, ctx.audit, submission_id, answer, state, receipt.reason)
    updated = await run_in_threadpool(find_submission, ctx.engine, submission_id)
    assert updated is not None
    ctx.metrics.message(f"confirmed-{updated.state.value}")
    log.info("replacement confirmed", message_id=submission_id, state=updated.state.value, credential=caller.name)
    return updated


def sign_confirmation(keys: PartyKeys, stored: StoredSubmission, header: bytes) -> dict[str, Any]:
    """The confirmation of the held submission ``stored`` whose signed header is ``header``, signed with the
    municipality's key and wrapped for the wire."""
    confirmation = Confirmation(
        message_id=stored.message_id,
        sender=keys.party,
        signer_kid=keys.signing_kid,
        submission_sha256=hashlib.sha256(header).hexdigest(),
        municipality=stored.municipality,
        year=stored.year,
        created_at=utc_timestamp(),
    )
    return carry(confirmation, "confirmation", keys.signing)


async def _send(
    ctx: GatewayContext, message_id: str, municipality: str, confirmation: dict[str, Any]
) -> dict[str, Any]:
    """The registry's answer to the confirmation (sent on the municipality's own TLS client), if it carries a
    receipt; else a Problem (the submission stays held)."""
    url = f"{ctx.settings.registry_url.rstrip('/')}/v1/submissions/{message_id}/confirmation"
    try:
        response = await read_bounded(ctx.clients.for_party(municipality), "POST", url, json=confirmation)
    except httpx.HTTPError:
        raise Problem(ProblemType.REGISTRY_UNAVAILABLE, "The registry could not be reached; try again later") from None
    except AnswerTooLarge:
        raise Problem(
            ProblemType.CONFIRMATION_FAILED, "The registry's answer is larger than a receipt can be"
        ) from None
    answer = response.json_object()
    slug = problem_slug(str(answer.get("type", "")))
    if response.status_code != 200 and slug not in _RECEIPT_ANSWERS:
        raise Problem(
            ProblemType.CONFIRMATION_FAILED,
            "The registry did not apply the confirmation; the submission is still held",
            upstream_type=slug or None,
            upstream_status=response.status_code,
        )
    return answer


def _record(
    engine: Engine,
    audit: AuditLog,
    message_id: str,
    answer: dict[str, Any],
    state: SubmissionState,
    reason: str | None,
) -> None:
    with engine.begin() as conn:
        settled = repository.settle_held(
            conn,
            message_id,
            state,
            json.dumps(answer["receipt"]),
            answer["signature"],
            reason if state is not SubmissionState.STORED else None,
        )
        if not settled:
            return  # another confirmation of the same submission recorded it first: one entry, not two
        problem = "confirmed" if state is SubmissionState.STORED else reason  # a slug: "held-discarded", ...
        audit.append(conn, "settled", message_id, settled_facts(state, answer["receipt"], problem))
