"""Lifting a sequence block, under ``/v1/operator``: an operator's bearer token only (a write is never made on the
pages' cookie, and an auditor or a gateway's credential gets 403), with a reason for the audit trail.

A municipality-year is blocked when a stored submission's signed sequence lies later than the clock allows
(docs/envelope-v1.md 7.3): every later real export of it would be ``stale-sequence``. Lifting it is one transaction
and one ``sequence-block-lifted`` audit entry (``repository/sequence_block.py``); with nothing to lift, nothing
changes and the answer says so.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.concurrency import run_in_threadpool

from services.kit.api_docs import raw_body
from services.kit.bodies import read_small_json
from services.kit.credentials import Credential, authenticate
from services.registry_intake.dependencies import Context, credentials
from services.registry_intake.schemas import FIRST_YEAR, LAST_YEAR, SequenceLiftRequest, SequenceLiftResult
from services.registry_intake.service import sequence_block

__all__ = ["OPERATORS", "router"]

router = APIRouter(prefix="/v1/operator", tags=["operator"])
#: Who may lift a block: the registry's operators.
OPERATORS = frozenset({"operator"})


def operator(request: Request) -> Credential:
    """The caller's operator credential (bearer token): checked before a byte of the body is read (the route reads
    its small body itself, services.kit.bodies.read_small_json), so a caller without one makes the registry hold
    nothing and learns nothing about what the body should be."""
    return authenticate(request, credentials(request), OPERATORS)


Operator = Annotated[Credential, Depends(operator)]


@router.post(
    "/years/{year}/municipalities/{municipality}/lift-sequence-block",
    summary="Let the next real submission of a municipality-year replace one whose sequence blocks it (operators)",
    description=(
        "A stored submission whose sequence lies later than the registry's clock plus the allowed skew blocks its"
        " municipality and year: every later real export would be `stale-sequence`. Lifting keeps the blocking"
        " submission active but sets the year's floor to now, so the next submission signed after it replaces it; a"
        " blocking held submission is refused (`held-discarded`). One transaction, one signed audit entry"
        " (`sequence-block-lifted`: municipality, year, the lifted sequence, the floor, the operator's credential"
        " name and the reason). Nothing blocking: `lifted` false, nothing changes, nothing is written."
    ),
    response_model=SequenceLiftResult,
    openapi_extra=raw_body(
        "Why the block is lifted (at most 16 KiB)",
        {"application/json": "SequenceLiftRequest"},
        schema=SequenceLiftRequest.model_json_schema(),
    ),
    responses={
        401: {"description": "No bearer token, or an unknown one"},
        403: {"description": "Not an operator's credential"},
        422: {"description": "No reason, or one that is not a short reference"},
    },
)
async def lift_sequence_block(
    request: Request,
    caller: Operator,
    ctx: Context,
    year: Annotated[int, Path(ge=FIRST_YEAR, le=LAST_YEAR, description="Reporting year")],
    municipality: Annotated[str, Path(pattern=r"^[0-9]{4}$", description="kommunenummer")],
) -> SequenceLiftResult:
    body = await read_small_json(request, SequenceLiftRequest)
    lift = await run_in_threadpool(
        sequence_block.lift_block, ctx, municipality, year, caller=caller.name, reason=body.reason
    )
    return SequenceLiftResult(
        municipality=lift.municipality,
        year=lift.year,
        lifted=lift.lifted,
        blocking_submission=lift.blocking_message_id,
        lifted_sequence=lift.lifted_sequence,
        floor=lift.floor,
        held_discarded=lift.held_discarded,
        lifted_by=caller.name if lift.lifted else None,
        reason=body.reason if lift.lifted else None,
    )
