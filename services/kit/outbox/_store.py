"""Every SQL statement of the outbox, on the service's own table, inside the caller's transaction.

Each statement that hands a message to a worker is one conditional UPDATE: on PostgreSQL the row it picks is
locked ``FOR UPDATE SKIP LOCKED`` (two workers never pick the same row, and neither waits for the other), and the
condition is checked again on the row as it is when the update runs; on SQLite the transaction holds the write
lock from its ``BEGIN IMMEDIATE`` (services.kit.database), so nothing can come between the choice and the update.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    DateTime,
    Row,
    String,
    Table,
    delete,
    insert,
    or_,
    select,
    update,
)

from services.kit.database import as_utc
from services.kit.outbox._owner import may_be_alive
from services.kit.outbox._steps import Policy, Recorded, Retry, Settle, Step, Wait, full_jitter

LEASE_OWNER_LENGTH: Final = 120
# How many of the soonest due messages an idle loop looks at to know when it can next claim one (a message under
# another worker's lease waits for it): past them it just sleeps its idle time.
_NEXT_DUE_LOOKAHEAD: Final = 16
_KIT_COLUMNS: Final = frozenset(
    {"message_id", "state", "attempts", "next_attempt_at", "last_error", "updated_at"}
    | {"lease_owner", "lease_expires_at"}
)


def lease_columns() -> list[Column[Any]]:
    """The two columns of a claim, for the service's outbox table (its migrations write them out frozen)."""
    return [
        # Who holds the message for an attempt (services.kit.outbox.Owner), and until when; both NULL when free.
        Column("lease_owner", String(LEASE_OWNER_LENGTH), nullable=True),
        Column("lease_expires_at", DateTime(timezone=True), nullable=True),
    ]


@dataclass(frozen=True)
class OutboxTable:
    """A service's outbox table and the states the outbox acts on, from the service's state enum.

    The table has a ``message_id`` primary key, ``state``, ``attempts``, ``next_attempt_at``, ``last_error``,
    ``updated_at`` and :func:`lease_columns`; anything else is the service's.
    """

    table: Table
    queued: str
    """The state a new message starts in."""
    active: frozenset[str]
    """The states whose messages are attempted (``queued``, and any other the service waits in)."""
    dead_letter: str
    """Where a message goes when its attempts run out."""

    def __post_init__(self) -> None:
        missing = _KIT_COLUMNS - set(self.table.c.keys())
        if missing:
            raise ValueError(f"the outbox table {self.table.name} lacks {sorted(missing)}")
        if self.queued not in self.active or self.dead_letter in self.active:
            raise ValueError("queued must be an active state, dead_letter must not")


class Store:
    """The statements, for one table and one lease owner."""

    def __init__(self, outbox: OutboxTable, owner: str) -> None:
        self._outbox = outbox
        self._t = outbox.table
        self._c = outbox.table.c
        self._owner = owner

    def _free(self, now: dt.datetime) -> ColumnElement[bool]:
        return or_(self._c.lease_expires_at.is_(None), self._c.lease_expires_at <= now)

    def insert(
        self, conn: Connection, message_id: str, values: Mapping[str, Any], now: dt.datetime, until: dt.datetime | None
    ) -> None:
        """A new message, due now; leased to this owner until ``until`` if that is given."""
        conn.execute(
            insert(self._t),
            {
                **values,
                "message_id": message_id,
                "state": self._outbox.queued,
                "attempts": 0,
                "next_attempt_at": now,
                "last_error": None,
                "updated_at": now,
                "lease_owner": self._owner if until is not None else None,
                "lease_expires_at": until,
            },
        )

    def claim_next(
        self, conn: Connection, now: dt.datetime, until: dt.datetime, skip: Collection[str] = ()
    ) -> Row[Any] | None:
        """Lease the message that has been due longest and is free (never leased, or its lease ran out)."""
        c = self._c
        due = select(c.message_id).where(c.state.in_(self._outbox.active), c.next_attempt_at <= now, self._free(now))
        if skip:
            due = due.where(c.message_id.not_in(skip))
        chosen = due.order_by(c.next_attempt_at).limit(1).with_for_update(skip_locked=True).scalar_subquery()
        return self._lease(conn, (c.message_id == chosen) & self._free(now), until)

    def claim(self, conn: Connection, message_id: str, now: dt.datetime, until: dt.datetime) -> Row[Any] | None:
        """Lease one message now, due or not, if it is active and free or already this owner's."""
        owned = or_(self._free(now), self._c.lease_owner == self._owner)
        return self._lease(conn, (self._c.message_id == message_id) & owned, until)

    def _lease(self, conn: Connection, which: ColumnElement[bool], until: dt.datetime) -> Row[Any] | None:
        return conn.execute(
            update(self._t)
            .where(which, self._c.state.in_(self._outbox.active))
            .values(lease_owner=self._owner, lease_expires_at=until)
            .returning(*self._t.c)
        ).first()

    def renew(self, conn: Connection, message_id: str, until: dt.datetime) -> bool:
        """Extend this owner's lease; False if it is no longer this owner's (it ran out and was taken)."""
        c = self._c
        renewed = conn.execute(
            update(self._t)
            .where(c.message_id == message_id, c.lease_owner == self._owner)
            .values(lease_expires_at=until)
        )
        return renewed.rowcount == 1

    def release(self, conn: Connection, message_id: str) -> None:
        """Give a lease back unused (the attempt was stopped): the message is free for the next worker at once."""
        c = self._c
        conn.execute(
            update(self._t)
            .where(c.message_id == message_id, c.lease_owner == self._owner)
            .values(lease_owner=None, lease_expires_at=None)
        )

    def record(
        self, conn: Connection, message_id: str, step: Step, now: dt.datetime, policy: Policy
    ) -> Recorded | None:
        """Write what an attempt came to and free the lease; None (nothing written) if the lease is not this
        owner's any more: whoever holds it now records its own attempt."""
        c = self._c
        held = c.lease_owner == self._owner
        row = conn.execute(select(c.attempts).where(c.message_id == message_id, held).with_for_update()).first()
        if row is None:
            return None
        attempts = int(row.attempts)
        due: dt.datetime | None = None
        dead = False
        state = step.state
        if isinstance(step, Wait):
            attempts += 1 if step.counts else 0
            due = now + dt.timedelta(seconds=min(step.after_s, policy.backoff_max_s))
        elif isinstance(step, Retry):
            attempts += 1
            if attempts >= policy.max_attempts:
                state, dead = self._outbox.dead_letter, True
            else:
                due = now + dt.timedelta(seconds=full_jitter(attempts, policy.backoff_s, policy.backoff_max_s))
        else:
            assert isinstance(step, Settle)
            attempts += 1
        values = {
            **step.values,
            "state": state,
            "attempts": attempts,
            "next_attempt_at": due,
            "last_error": self._clipped(step.error),
            "updated_at": now,
            "lease_owner": None,
            "lease_expires_at": None,
        }
        conn.execute(update(self._t).where(c.message_id == message_id, held).values(values))
        return Recorded(state, attempts, final=due is None, dead_lettered=dead)

    def _clipped(self, error: str | None) -> str | None:
        """An error as the ``last_error`` column holds it: a peer's text can be of any length, and PostgreSQL
        refuses what does not fit (SQLite would store it whole) instead of recording the step."""
        length = getattr(self._c.last_error.type, "length", None)
        return error[:length] if error is not None and length is not None else error

    def release_dead(self, conn: Connection) -> int:
        """Free the leases of owners known to be dead (see :meth:`Owner.may_be_alive`)."""
        c = self._c
        owners = conn.execute(select(c.lease_owner).where(c.lease_owner.is_not(None)).distinct()).scalars().all()
        dead = [owner for owner in owners if not may_be_alive(owner)]
        if not dead:
            return 0
        released = conn.execute(
            update(self._t).where(c.lease_owner.in_(dead)).values(lease_owner=None, lease_expires_at=None)
        )
        return released.rowcount

    def next_due(self, conn: Connection, now: dt.datetime) -> dt.datetime | None:
        """About when the next active message can be claimed (due, and its lease free): the earliest of the
        soonest due ones, or None if none is active. Only a hint for how long an idle loop may sleep."""
        c = self._c
        rows = conn.execute(
            select(c.next_attempt_at, c.lease_expires_at)
            .where(c.state.in_(self._outbox.active), c.next_attempt_at.is_not(None))
            .order_by(c.next_attempt_at)
            .limit(_NEXT_DUE_LOOKAHEAD)
        ).all()
        times = [max(as_utc(row[0]), as_utc(row[1]) if row[1] is not None else now) for row in rows]
        return min(times, default=None)

    def make_due_now(self, conn: Connection, message_ids: Collection[str], now: dt.datetime) -> int:
        """Bring forward the next attempt of these messages, where it is still active, free and due later."""
        c = self._c
        made = conn.execute(
            update(self._t)
            .where(
                c.message_id.in_(message_ids),
                c.state.in_(self._outbox.active),
                c.next_attempt_at > now,
                c.lease_owner.is_(None),
            )
            .values(next_attempt_at=now)
        )
        return made.rowcount

    def make_due(self, conn: Connection, now: dt.datetime) -> None:
        """Every active message is due now, its backoff forgotten."""
        c = self._c
        conn.execute(update(self._t).where(c.state.in_(self._outbox.active)).values(next_attempt_at=now))

    def discard(self, conn: Connection, message_id: str) -> bool:
        """Delete a message that is no longer active; False if there is none (or it is active)."""
        c = self._c
        gone = conn.execute(delete(self._t).where(c.message_id == message_id, c.state.not_in(self._outbox.active)))
        return gone.rowcount == 1
