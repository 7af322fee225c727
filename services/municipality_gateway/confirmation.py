"""The municipality's decision that its held submission replace the active one (spec sections 7.8 and 10.5).

The registry holds a submission whose person count fell sharply below the active one's (an export cut short, or
the wrong file) and keeps the year as it was. Only the municipality can say that the drop is real: the gateway
signs a confirmation with the municipality's key, about that very submission header, and sends it to the
registry, which applies the held submission in one transaction and answers with a new signed receipt.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import structlog
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine, update

from services.kit.audit_log import AuditLog
from services.kit.http import AnswerTooLarge, read_bounded
from services.kit.problems import Problem, problem_slug
from services.municipality_gateway.models import submissions
from services.municipality_gateway.outbox import HEADER_FILE, get, settled_facts
from shared.envelope import Confirmation, InvalidEnvelope, MessageRefused, utc_timestamp
from shared.envelope.receipts import carry, verify_receipt
from shared.keys import PartyKeys, PublicDirectory

log = structlog.get_logger("gateway.confirmation")

# The registry's answers that carry a receipt saying what the submission now is.
_RECEIPT_ANSWERS = frozenset({"not-held", "stale-sequence"})


def confirmation_for(keys: PartyKeys, row: dict[str, Any], header: bytes) -> dict[str, Any]:
    """The signed confirmation of the held submission ``row`` whose signed header is ``header``."""
    confirmation = Confirmation(
        message_id=row["submission_id"],
        sender=keys.party,
        signer_kid=keys.signing_kid,
        submission_sha256=hashlib.sha256(header).hexdigest(),
        municipality=row["municipality"],
        year=row["year"],
        created_at=utc_timestamp(),
    )
    return carry(confirmation, "confirmation", keys.signing)


async def confirm(
    engine: Engine,
    client: httpx.AsyncClient,
    registry_url: str,
    directory: PublicDirectory,
    keys: PartyKeys,
    outbox_dir: Path,
    row: dict[str, Any],
    audit: AuditLog,
) -> dict[str, Any]:
    """Confirm the held submission ``row`` at the registry; record and return what it now is."""
    if row["state"] != "held":
        raise Problem("not-held", 409, "Only a submission the registry holds can be confirmed", state=row["state"])
    message_id = row["submission_id"]
    header = (outbox_dir / message_id / HEADER_FILE).read_bytes()
    body = confirmation_for(keys, row, header)
    try:
        response = await read_bounded(
            client, "POST", f"{registry_url.rstrip('/')}/v1/submissions/{message_id}/confirmation", json=body
        )
    except httpx.HTTPError:
        raise Problem("registry-unavailable", 503, "The registry could not be reached; try again later") from None
    except AnswerTooLarge:
        raise Problem("confirmation-failed", 502, "The registry's answer is larger than a receipt can be") from None
    answer = response.json_object()
    slug = problem_slug(str(answer.get("type", "")))
    if response.status_code != 200 and slug not in _RECEIPT_ANSWERS:
        raise Problem(
            "confirmation-failed",
            502,
            "The registry did not apply the confirmation; the submission is still held",
            upstream_type=slug or None,
            upstream_status=response.status_code,
        )
    try:
        receipt = verify_receipt(directory, answer, message_id, hashlib.sha256(header).hexdigest())
    except (InvalidEnvelope, MessageRefused):
        raise Problem("confirmation-failed", 502, "The registry's receipt did not verify") from None
    if receipt.status == "held":  # an answer that says nothing was decided is no answer
        raise Problem("confirmation-failed", 502, "The registry's receipt says the submission is still held")
    await run_in_threadpool(_record, engine, audit, message_id, answer, receipt.status, receipt.reason)
    updated = await run_in_threadpool(get, engine, message_id)
    assert updated is not None
    return updated


def _record(
    engine: Engine, audit: AuditLog, message_id: str, answer: dict[str, Any], state: str, reason: str | None
) -> None:
    with engine.begin() as conn:
        changed = conn.execute(
            update(submissions)
            .where(submissions.c.message_id == message_id, submissions.c.state == "held")
            .values(
                state=state,
                receipt=json.dumps(answer["receipt"]),
                receipt_signature=answer["signature"],
                last_error=reason if state != "stored" else None,
            )
        ).rowcount
        if changed != 1:
            return  # another confirmation of the same submission recorded it first: one entry, not two
        problem = "confirmed" if state == "stored" else reason  # a slug: "held-discarded", "stale-sequence"
        audit.append(conn, "settled", message_id, settled_facts(state, answer["receipt"], problem))


async def confirm_for(ctx: Any, row: dict[str, Any], credential: str) -> dict[str, Any]:
    """The use case behind the API's and the page's confirm action (``ctx`` is ``api.GatewayContext``): confirm,
    count it, and say who did it in the log."""
    updated = await confirm(
        ctx.engine,
        ctx.client,
        ctx.settings.registry_url,
        ctx.directory,
        ctx.keys[row["municipality"]],
        ctx.outbox_dir,
        row,
        ctx.audit,
    )
    ctx.metrics.message(f"confirmed-{updated['state']}")
    log.info("replacement confirmed", message_id=row["submission_id"], state=updated["state"], credential=credential)
    return updated
