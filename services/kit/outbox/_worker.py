"""The outbox a service holds: taking messages in, and the worker that delivers them under a lease."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Generic, TypeVar

import structlog
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Connection, Engine

from services.kit.outbox import _files
from services.kit.outbox._owner import Owner
from services.kit.outbox._steps import Claim, Courier, Policy, Recorded, Retry, Settle, Step
from services.kit.outbox._store import OutboxTable, Store

R = TypeVar("R")
T = TypeVar("T")

# The shortest sleep of an idle loop: a message that is due but was not claimed (held by another worker's lease
# that the look at the table did not see end) is not looked at again in a busy loop.
_MIN_IDLE_S = 0.02


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Outbox(Generic[R]):
    """One service's outbox: its table, its folder, its :class:`Courier`, and this worker's leases."""

    def __init__(
        self,
        engine: Engine,
        table: OutboxTable,
        folder: Path,
        courier: Courier[R],
        policy: Policy,
        *,
        log_name: str = "outbox",
        clock: Callable[[], dt.datetime] = _utc_now,
    ) -> None:
        """``clock``: aware UTC time, the same on every worker sharing the database within a fraction of the lease
        (NTP); a lease is compared with the clock of the worker that wants the message."""
        self.folder = folder
        self.owner = Owner.new()
        self._engine = engine
        self._table = table
        self._courier = courier
        self._policy = policy
        self._clock = clock
        self._lease = dt.timedelta(seconds=policy.lease_s)
        self._store = Store(table, str(self.owner))
        self._log = structlog.get_logger(log_name)
        self._log_name = log_name
        self._wake = asyncio.Event()
        # In this instance a message is never attempted twice at once: claims are made one at a time, and a
        # message stays in _attempting from its claim until its outcome is recorded.
        self._claiming = asyncio.Lock()
        self._attempting: set[str] = set()
        # Messages this worker saw fail because their peer could not be reached (Retry.peer_down), waiting out their
        # backoff: due at once when the peer answers again. The backoff still paces the peer while it is away.
        self._peer_down: set[str] = set()

    # -- taking messages in --------------------------------------------------------------------------------------

    def staging(self) -> contextlib.AbstractContextManager[Path]:
        """A new staging folder in the outbox folder, for one message's files; removed if the block raises."""
        return _files.staging(self.folder, str(self.owner))

    def add(self, conn: Connection, message_id: str, values: Mapping[str, Any], *, leased: bool = False) -> None:
        """Record a new message, due now, in the caller's transaction (``values``: the service's own columns).
        ``leased``: held by this worker for an attempt the caller makes itself (:meth:`deliver`) after the commit,
        so that no worker takes it first. An existing message id raises ``IntegrityError``."""
        now = self._clock()
        self._store.insert(conn, message_id, values, now, now + self._lease if leased else None)

    def move_in(self, conn: Connection, staged: Path, message_id: str) -> Path:
        """:func:`services.kit.outbox.move_in` into this outbox: the transaction's last step before its commit."""
        return _files.move_in(conn, staged, self.folder, message_id)

    def discard(self, message_id: str) -> bool:
        """Delete a message that is no longer active (settled, dead-lettered) with its folder; False if there is
        none, or it is active."""
        with self._engine.begin() as conn:
            gone = self._store.discard(conn, message_id)
            if gone:  # before the commit: a new message under this id can only commit after it
                shutil.rmtree(self.folder / message_id, ignore_errors=True)
        return gone

    # -- start-up ------------------------------------------------------------------------------------------------

    def sweep(self, *, due_now: bool = False) -> None:
        """At start-up: remove folders no committed message owns and staging folders of dead workers, free the
        leases of dead workers, and with ``due_now`` make every active message due at once (a restart retries)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.release_dead_leases()
        if due_now:
            with self._engine.begin() as conn:
                self._store.make_due(conn, self._clock())
        _files.sweep_orphans(self._engine, self._table.table, self.folder, log_name=self._log_name)

    def release_dead_leases(self) -> int:
        """Free the leases of workers that ran on this host and are gone (a crash, a SIGKILL)."""
        with self._engine.begin() as conn:
            released = self._store.release_dead(conn)
        if released:
            self._log.warning("leases of a dead worker released", messages=released)
        return released

    # -- delivering ----------------------------------------------------------------------------------------------

    def wake(self) -> None:
        """Look for due messages now (a new one was queued)."""
        self._wake.set()

    async def run(self) -> None:
        """Deliver due messages until cancelled; between rounds sleep until woken, the next message is due (a
        retry, a status poll), or ``idle_s`` has passed, whichever comes first."""
        started = False
        while True:
            self._wake.clear()  # before the round: a wake-up during it is not lost
            try:
                if not started:
                    await run_in_threadpool(self.release_dead_leases)
                    started = True
                busy = await self.deliver_due()
            except Exception as exc:  # keep the worker alive; the next round tries again
                self._log.error("outbox round failed", error_type=type(exc).__name__)
                busy = False
            if not busy:
                # The pause first: made inside wait_for's arguments, the Event.wait coroutine would exist before
                # this await, and a cancellation here (the worker stopped) would leave it never awaited.
                idle_s = await self._idle_for()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=idle_s)

    async def deliver_due(self) -> bool:
        """Claim due messages one at a time, each at most once, up to ``batch``, and attempt up to ``concurrency``
        of them at once; whether there was any. One claim at a time: the workers sharing the queue share it message
        by message. Attempts overlap because each mostly waits on its peer (which may itself wait on the next hop):
        a small submission must not wait behind a large one's whole way through the chain.

        An attempt whose outcome could not be recorded raises here once the attempts under way have ended (no more
        are claimed meanwhile), as it did when attempts ran one by one. Stopped (cancelled), every attempt under way
        is stopped as :meth:`_attempt` says (drained, or handed back), and this waits for them before it stops."""
        attempted: set[str] = set()
        running: set[asyncio.Future[R | None]] = set()
        failure: BaseException | None = None
        try:
            for _ in range(self._policy.batch):
                while len(running) >= self._policy.concurrency:
                    done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                    failure = failure or _failure(done)
                if failure is not None:
                    break
                async with self._claiming:
                    skip = tuple(self._attempting | attempted)
                    claim = await self._claimed(functools.partial(self._claim_next, skip))
                    if claim is None:
                        break
                    self._attempting.add(claim.message_id)
                attempted.add(claim.message_id)
                running.add(asyncio.ensure_future(self._attempt_claimed(claim)))
            if running:
                done, running = await asyncio.wait(running)
                failure = failure or _failure(done)
        except asyncio.CancelledError:
            await _stop_all(running)
            raise
        if failure is not None:
            raise failure
        return bool(attempted)

    async def _attempt_claimed(self, claim: Claim) -> R | None:
        try:
            return await self._attempt(claim)
        finally:
            self._attempting.discard(claim.message_id)

    async def _idle_for(self) -> float:
        """Seconds an idle loop sleeps: until the next message is due, at least a moment (a message due now but
        not claimed is another worker's for the moment) and at most ``idle_s`` (which also covers a hint that
        could not be had)."""
        try:
            # To its end even when the worker is stopped meanwhile: a thread left running past the shutdown would
            # take a connection from a pool that is being disposed of, and leave it open.
            due, stopped = await _to_the_end(self._next_due)
        except Exception as exc:  # the database is away: the next round says so
            self._log.warning("next due time not read", error_type=type(exc).__name__)
            return self._policy.idle_s
        if stopped:
            raise asyncio.CancelledError
        if due is None:
            return self._policy.idle_s
        wait = (due - self._clock()).total_seconds()
        return min(self._policy.idle_s, max(_MIN_IDLE_S, wait))

    def _next_due(self) -> dt.datetime | None:
        with self._engine.connect() as conn:
            return self._store.next_due(conn, self._clock())

    async def deliver(self, message_id: str) -> R | None:
        """Attempt ``message_id`` now, due or not: None if it is not active, or another worker (or this one)
        is attempting it. A message :meth:`add` leased to this worker is taken under that lease."""
        async with self._claiming:
            if message_id in self._attempting:
                return None
            claim = await self._claimed(functools.partial(self._claim, message_id))
            if claim is None:
                return None
            self._attempting.add(message_id)
        try:
            return await self._attempt(claim)
        finally:
            self._attempting.discard(message_id)

    def _claim_next(self, skip: tuple[str, ...]) -> Claim | None:
        now = self._clock()
        with self._engine.begin() as conn:
            row = self._store.claim_next(conn, now, now + self._lease, skip=skip)
        return None if row is None else Claim(row.message_id, row, self.folder / row.message_id)

    def _claim(self, message_id: str) -> Claim | None:
        now = self._clock()
        with self._engine.begin() as conn:
            row = self._store.claim(conn, message_id, now, now + self._lease)
        return None if row is None else Claim(message_id, row, self.folder / message_id)

    async def _claimed(self, claim: Callable[[], Claim | None]) -> Claim | None:
        """Make a claim in a worker thread. Stopped meanwhile (shutdown), the claim is still seen to its end and
        its lease given back, rather than left to run out with nobody working on it."""
        made, stopped = await _to_the_end(claim)
        if stopped:
            if made is not None:
                await run_in_threadpool(self._release, made.message_id)
            raise asyncio.CancelledError
        return made

    async def _attempt(self, claim: Claim) -> R | None:
        """Attempt, record, and tidy up; None if the lease was lost while the attempt ran.

        Stopped while the attempt runs (the service shuts down, a request went away), the attempt is given
        ``drain_s`` to finish, and is then recorded as usual; an attempt that takes longer is cut short and the
        message handed back (its lease released) rather than left leased until the lease runs out. Either way
        the cancellation goes on once that is done."""
        try:
            leased = await self._leased(claim)
        except asyncio.CancelledError:
            await _to_the_end(lambda: self._release(claim.message_id))
            raise
        if leased is None:
            return None
        outcome, stopped = leased
        # Once the attempt is over its outcome is recorded whatever happens meanwhile: a delivered message must
        # not be attempted again for want of a commit.
        try:
            recorded, cancelled = await _to_the_end(lambda: self._record(claim, outcome))
        except Exception:
            # Nothing was recorded (the database went away, a constraint failed): hand the message back at once,
            # so that it is attempted again now, not once its lease has run out.
            await _to_the_end(lambda: self._release(claim.message_id))
            raise
        if recorded is not None:
            outcome, done, step = recorded
            await run_in_threadpool(self._courier.after, claim, outcome, done)
            await self._note_peer(claim.message_id, step, done)
        if stopped or cancelled:
            raise asyncio.CancelledError
        return outcome

    async def _leased(self, claim: Claim) -> tuple[R, bool] | None:
        """The courier's attempt, with the lease renewed while it runs: its outcome and whether this task was
        stopped meanwhile (the attempt drained); None if the lease was lost and the attempt cut short."""
        attempt = asyncio.ensure_future(self._try(claim))
        keeper = asyncio.ensure_future(self._keep_lease(claim.message_id, attempt))
        try:
            try:
                return await asyncio.shield(attempt), False
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if not (current is not None and current.cancelling()):
                    # Not this task: the keeper stopped the attempt because another worker holds the lease now.
                    self._log.warning("lease lost during an attempt; it was cut short", message_id=claim.message_id)
                    return None
            # Stopped: let the attempt finish within drain_s, the lease still renewed meanwhile.
            done, _ = await asyncio.wait({attempt}, timeout=self._policy.drain_s)
            if attempt in done and not attempt.cancelled():
                return attempt.result(), True
            self._log.warning("stopped during an attempt; it was cut short", message_id=claim.message_id)
            raise asyncio.CancelledError
        finally:
            keeper.cancel()
            if not attempt.done():
                attempt.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await attempt

    async def _try(self, claim: Claim) -> R:
        try:
            return await self._courier.attempt(claim)
        except Exception as exc:  # counted as a failed attempt, so the message backs off
            self._log.error("delivery failed", message_id=claim.message_id, error_type=type(exc).__name__)
            return self._courier.failed(claim, exc)

    async def _keep_lease(self, message_id: str, attempt: asyncio.Future[R]) -> None:
        """Renew every third of the lease; if it was taken (this worker stalled past its end), stop the attempt."""
        while True:
            await asyncio.sleep(self._policy.lease_s / 3)
            try:
                renewed = await run_in_threadpool(self._renew, message_id)
            except Exception as exc:  # the database is away: the lease may still hold; try again
                self._log.warning("lease not renewed", message_id=message_id, error_type=type(exc).__name__)
                continue
            if not renewed:
                attempt.cancel()
                return

    def _release(self, message_id: str) -> None:
        try:
            with self._engine.begin() as conn:
                self._store.release(conn, message_id)
        except Exception as exc:  # the lease runs out by itself
            self._log.warning("lease not given back", message_id=message_id, error_type=type(exc).__name__)

    async def _note_peer(self, message_id: str, step: Step, recorded: Recorded) -> None:
        """Keep the messages that could not reach their peer; once it answers for one (it settled), bring the others
        forward: due now, not at the end of their backoff (which paced the peer while it was away)."""
        if isinstance(step, Retry) and step.peer_down and not recorded.dead_lettered:
            self._peer_down.add(message_id)
            return
        self._peer_down.discard(message_id)
        if not (isinstance(step, Settle) and self._peer_down):
            return
        waiting, self._peer_down = self._peer_down, set()
        try:
            made = await run_in_threadpool(self._make_due_now, waiting)
        except Exception as exc:  # they keep their backoff
            self._log.warning("messages not brought forward", error_type=type(exc).__name__)
            return
        if made:
            self._log.info("the peer answers again: messages due now", messages=made)
            self._wake.set()

    def _make_due_now(self, message_ids: set[str]) -> int:
        with self._engine.begin() as conn:
            return self._store.make_due_now(conn, message_ids, self._clock())

    def _renew(self, message_id: str) -> bool:
        with self._engine.begin() as conn:
            return self._store.renew(conn, message_id, self._clock() + self._lease)

    def _record(self, claim: Claim, outcome: R) -> tuple[R, Recorded, Step] | None:
        step = self._courier.step(claim, outcome)
        with self._engine.begin() as conn:
            recorded = self._store.record(conn, claim.message_id, step, self._clock(), self._policy)
            if recorded is not None:
                outcome = self._courier.record(conn, claim, outcome, recorded)
        if recorded is None:
            self._log.warning("lease lost before the outcome was recorded", message_id=claim.message_id)
            return None
        self._log.info(
            "delivery attempt",
            message_id=claim.message_id,
            attempt=recorded.attempts,
            state=recorded.state,
            error=step.error,
        )
        return outcome, recorded, step


def _failure(done: set[asyncio.Future[Any]]) -> BaseException | None:
    """The first exception of attempts that ended (one cancelled with the round is no failure)."""
    for task in done:
        if not task.cancelled() and task.exception() is not None:
            return task.exception()
    return None


async def _stop_all(running: set[asyncio.Future[Any]]) -> None:
    """Stop the attempts under way and wait until each has drained or handed its message back, even if this task is
    cancelled again meanwhile (an attempt left half done would keep its lease until it ran out)."""
    for task in running:
        task.cancel()
    while running:
        try:
            _, running = await asyncio.wait(running)
        except asyncio.CancelledError:
            continue


async def _to_the_end(call: Callable[[], T]) -> tuple[T, bool]:
    """``call`` in a worker thread, awaited to its end even if this task is cancelled meanwhile (a claim or a
    record half made must not be lost); its result, and whether the task was cancelled (the caller raises that
    on once it has tidied up)."""
    job = asyncio.ensure_future(run_in_threadpool(call))
    stopped = False
    while not job.done():
        try:
            await asyncio.shield(job)
        except asyncio.CancelledError:
            stopped = True
    return job.result(), stopped
