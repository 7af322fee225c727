"""Lifting a municipality-year's sequence block, for an operator (``repository/sequence_block.py`` says what a
block is and what lifting does). Here: the reason's and the caller's shape for the audit trail, the clock, the log
line."""

from __future__ import annotations

import datetime as dt

import structlog

from services.kit.problems import Problem, ProblemType
from services.registry_intake.repository.sequence_block import SequenceLift, lift_sequence_block
from services.registry_intake.service.context import RegistryContext
from shared.audit import InvalidAuditData, check_fact

__all__ = ["SequenceLift", "lift_block"]

log = structlog.get_logger("registry")


def lift_block(
    ctx: RegistryContext, municipality: str, year: int, *, caller: str, reason: str, now: dt.datetime | None = None
) -> SequenceLift:
    """Lift the block of ``municipality``/``year`` (``now``: the real clock, the one sequences are bounded by).
    A reason the audit log would not take (shaped like an identity number) is ``invalid-request`` (422), and
    nothing changes; a credential name it would not take is written as ``operator``."""
    try:
        check_fact("reason", reason)
    except InvalidAuditData:
        # The rule, never the value (it may be the very identity number kept out).
        raise Problem(
            ProblemType.INVALID_REQUEST,
            "The reason is a short reference (a case or ticket id), not an identity number",
            status=422,
        ) from None
    try:
        check_fact("caller", caller)
    except InvalidAuditData:
        caller = "operator"
    lift = lift_sequence_block(
        ctx.engine,
        ctx.audit,
        municipality,
        year,
        now=now or dt.datetime.now(dt.UTC),
        max_skew=ctx.max_skew,
        caller=caller,
        reason=reason,
    )
    log.info(
        "sequence block lifted" if lift.lifted else "no sequence block to lift",
        municipality=municipality,
        year=year,
        held_discarded=len(lift.held_discarded),
        caller=caller,
    )
    return lift
