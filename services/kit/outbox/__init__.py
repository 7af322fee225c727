"""The durable outbox every service that sends something on uses: what a service has answered for is on disk and
in its database before the answer goes out, and is delivered later, with retries, by as many workers as share the
database, each message by one worker at a time.

The mechanism, here:

* **stage and commit**: the message's files are written into a staging folder (:meth:`Outbox.staging`); one
  transaction of the service records the message (:meth:`Outbox.add`, or the service's own insert) and, as its last
  step, renames the folder into ``<outbox>/<message id>/`` (:func:`move_in`). A crash before the commit leaves a
  folder without a row, which :func:`sweep_orphans` removes at the next start.
* **claim with a lease**: a worker takes a due message with one conditional UPDATE (``FOR UPDATE SKIP LOCKED`` on
  PostgreSQL; the write lock on SQLite) that writes its owner id and a lease expiry. While an attempt runs the
  lease is renewed; a crashed worker's lease runs out (or is released at the next start on the same host) and
  another worker takes the message. The outcome is recorded only by the lease's holder.
* **attempts, backoff, dead-letter**: a failed attempt (:class:`Retry`) counts, and the next one is due after a
  full-jitter backoff; after ``max_attempts`` the message is dead-lettered. :class:`Wait` schedules the next
  attempt without a failure (the gateway's status poll), :class:`Settle` ends delivery. A failure because the peer
  could not be reached (``Retry.peer_down``) keeps its backoff only until the peer settles another message.
* **the run loop**: :meth:`Outbox.run` claims due messages one at a time and has up to ``Policy.concurrency`` of
  their attempts under way at once (each mostly waits on its peer); otherwise it sleeps until :meth:`Outbox.wake`,
  until the next message is due, or a second has passed.

What delivering means (an HTTP call, what an answer says, the audit entry of an outcome) is the service's: a
:class:`Courier` the outbox calls. Nothing here knows a service, a message format or a state name beyond the ones
the service hands in (:class:`OutboxTable`).
"""

from __future__ import annotations

from services.kit.outbox._files import STAGING_PREFIX, move_in, sweep_orphans
from services.kit.outbox._owner import Owner
from services.kit.outbox._steps import (
    Claim,
    Courier,
    Policy,
    Recorded,
    Retry,
    Settle,
    Step,
    Wait,
    door_wait,
    full_jitter,
)
from services.kit.outbox._store import OutboxTable, lease_columns
from services.kit.outbox._worker import Outbox

__all__ = [
    "STAGING_PREFIX",
    "Claim",
    "Courier",
    "Outbox",
    "OutboxTable",
    "Owner",
    "Policy",
    "Recorded",
    "Retry",
    "Settle",
    "Step",
    "Wait",
    "door_wait",
    "full_jitter",
    "lease_columns",
    "move_in",
    "sweep_orphans",
]
