"""Lifting a sequence block: an operator's audited way out of a municipality-year frozen by a signed sequence.

A higher sequence replaces a lower one for good (``decisions.py``), so a submission stored with a sequence far
ahead of real time (2^53 - 1, an acceptance time in 2099: stored before receivers bounded the sequence by the
signed timestamp, docs/envelope-v1.md 7.3, or signed with a compromised municipality key) makes every later real
export of its municipality and year ``stale-sequence``. A sequence *blocks* when it lies later than the clock
plus the allowed skew: no real sequence can be above it now.

:func:`lift_sequence_block` lifts such a block in one transaction on the locked ``municipality_years`` row:

* a blocking **active** submission stays active (its records are the year's data until something replaces it),
  but the year's floor, ``municipality_years.active_sequence``, is set to the moment of the lift: the next
  submission signed after it replaces the active one; anything signed before it does not;
* a blocking **held** submission (one that declared so few persons that it waits for the municipality's
  confirmation) will never be applied: it is refused (``held-discarded``), its records deleted, as when a newer
  submission overtakes it;
* one ``sequence-block-lifted`` audit entry, by the blocking submission's message id, names the municipality,
  the year, the lifted sequence, the new floor, the operator's credential and the reason (a short reference, the
  audit log's token shape); no payload. It is the last write of the transaction.

Nothing blocking, nothing changes and nothing is written: lifting is idempotent, and the answer says so.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Final

from sqlalchemy import Engine, select, update

from services.kit.audit_log import AuditLog
from services.registry_intake.models import (
    REFUSAL_HELD_DISCARDED,
    SubmissionStatus,
    municipality_years,
    submissions,
)
from services.registry_intake.repository import statements as sql
from services.registry_intake.submissions import Outcome
from shared.audit import FactValue, identity_safe

__all__ = ["AUDIT_EVENT", "SequenceLift", "lift_sequence_block"]

#: The audit log's event for a lifted block (the blocking submission's message id as its message id).
AUDIT_EVENT: Final = "sequence-block-lifted"


@dataclass(frozen=True)
class SequenceLift:
    """What a lift found and did. ``lifted`` False: nothing blocked, nothing changed."""

    municipality: str
    year: int
    lifted: bool
    blocking_message_id: str | None = None
    """The submission whose sequence blocked (the active one if it blocked, else the held one)."""
    lifted_sequence: int | None = None
    floor: int | None = None
    """The sequence the next submission must exceed from now on."""
    held_discarded: list[str] = field(default_factory=list)


def lift_sequence_block(
    engine: Engine,
    audit: AuditLog | None,
    municipality: str,
    year: int,
    *,
    now: dt.datetime,
    max_skew: dt.timedelta,
    caller: str,
    reason: str,
) -> SequenceLift:
    """Lift the block of ``municipality``/``year`` if a stored sequence lies later than ``now`` plus ``max_skew``
    (see the module docstring); ``caller`` and ``reason`` go on the audit entry as given (the caller checks their
    shape)."""
    limit = int((now + max_skew).timestamp() * 1000)
    floor_now = int(now.timestamp() * 1000)
    with engine.begin() as conn:
        year_row = conn.execute(
            select(municipality_years.c.active_message_id, municipality_years.c.active_sequence)
            .where(municipality_years.c.municipality == municipality, municipality_years.c.year == year)
            .with_for_update()  # SQLite: no-op, BEGIN IMMEDIATE already holds the write lock
        ).one_or_none()
        if year_row is None:
            return SequenceLift(municipality, year, lifted=False)
        held = conn.execute(
            select(submissions.c.message_id, submissions.c.sequence)
            .where(
                submissions.c.municipality == municipality,
                submissions.c.year == year,
                submissions.c.status == SubmissionStatus.HELD,
                submissions.c.sequence > limit,
            )
            .order_by(submissions.c.sequence.desc())
        ).all()
        active_blocks = year_row.active_sequence is not None and year_row.active_sequence > limit
        if not active_blocks and not held:
            return SequenceLift(municipality, year, lifted=False, floor=year_row.active_sequence)
        if active_blocks:
            blocking_id, lifted_sequence, floor = year_row.active_message_id, year_row.active_sequence, floor_now
            conn.execute(
                update(municipality_years)
                .where(municipality_years.c.municipality == municipality, municipality_years.c.year == year)
                .values(active_sequence=floor)
            )
        else:
            blocking_id, lifted_sequence, floor = held[0].message_id, held[0].sequence, year_row.active_sequence
        discarded = [row.message_id for row in held]
        for held_id in discarded:
            sql.set_submission(conn, held_id, status=SubmissionStatus.REFUSED, refusal_reason=REFUSAL_HELD_DISCARDED)
            sql.delete_records(conn, held_id)
        assert blocking_id is not None  # an active sequence is only ever set with its message id
        if audit is not None:  # the last writes: the audit log's lock is held from here to the commit
            for held_id in discarded:
                refused: dict[str, FactValue] = {
                    "municipality": municipality,
                    "year": year,
                    "problem": REFUSAL_HELD_DISCARDED,
                }
                audit.append(conn, Outcome.REFUSED, held_id, refused)
            facts: dict[str, FactValue] = {
                "municipality": municipality,
                "year": year,
                "sequence": identity_safe(lifted_sequence),
                "floor": None if floor is None else identity_safe(floor),
                "caller": caller,
                "reason": reason,
            }
            audit.append(conn, AUDIT_EVENT, blocking_id, facts)
    return SequenceLift(
        municipality,
        year,
        lifted=True,
        blocking_message_id=blocking_id,
        lifted_sequence=lifted_sequence,
        floor=floor,
        held_discarded=discarded,
    )
