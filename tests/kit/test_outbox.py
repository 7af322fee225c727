"""The kit's durable outbox (services/kit/outbox) on SQLite and PostgreSQL: taking messages in, claims under a
lease, attempts, backoff, dead-letter, the sweep and the run loop. A scripted courier stands in for the service;
the database, the folders and the timing are real. Several worker processes: tests/kit/test_outbox_workers.py.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
import random
import secrets
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Connection, Engine, Integer, MetaData, String, Table, select, update

import services.kit.outbox as kit_outbox
from services.kit.database import make_engine
from services.kit.outbox import (
    STAGING_PREFIX,
    Claim,
    Outbox,
    OutboxTable,
    Owner,
    Policy,
    Recorded,
    Retry,
    Settle,
    Step,
    Wait,
    full_jitter,
    sweep_orphans,
)
from tests.kit.outbox_worker import MESSAGE_FILE, State, outbox_table

ID = "00000000-0000-4000-8000-000000000001"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _later(seconds: float) -> Callable[[], dt.datetime]:
    """The clock of a worker that looks at the database ``seconds`` later."""
    return lambda: _now() + dt.timedelta(seconds=seconds)


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


class Script:
    """A courier whose attempts answer with the given steps in turn (the last one for ever), or raise."""

    def __init__(self, *answers: Step | Exception) -> None:
        self.answers = list(answers)
        self.attempted: list[str] = []
        self.finished: list[tuple[str, Recorded]] = []
        self.started = asyncio.Event()
        self.gate: asyncio.Event | None = None  # attempts wait for it when set
        self.cancelled = False

    def blocking(self) -> Script:
        self.gate = asyncio.Event()
        return self

    async def attempt(self, claim: Claim) -> Step:
        self.attempted.append(claim.message_id)
        self.started.set()
        if self.gate is not None:
            try:
                await self.gate.wait()
            except asyncio.CancelledError:
                self.cancelled = True
                raise
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def failed(self, claim: Claim, error: Exception) -> Step:
        return Retry(claim.state, type(error).__name__)

    def step(self, claim: Claim, outcome: Step) -> Step:
        return outcome

    def record(self, conn: Connection, claim: Claim, outcome: Step, recorded: Recorded) -> Step:
        return outcome

    def after(self, claim: Claim, outcome: Step, recorded: Recorded) -> None:
        self.finished.append((claim.message_id, recorded))


@pytest.fixture
def queue(engine: Engine) -> Iterator[OutboxTable]:
    metadata = MetaData()
    made = outbox_table(f"outbox_{secrets.token_hex(4)}", metadata)
    metadata.create_all(engine)
    yield made
    metadata.drop_all(engine)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "outbox"


def _policy(**changes: Any) -> Policy:
    fields: dict[str, Any] = {"max_attempts": 3, "backoff_s": 10.0, "backoff_max_s": 60.0, "lease_s": 60.0}
    return Policy(**(fields | changes))


def _box(
    engine: Engine,
    queue: OutboxTable,
    folder: Path,
    courier: Script,
    clock: Callable[[], dt.datetime] = _now,
    **policy: Any,
) -> Outbox[Step]:
    return Outbox(engine, queue, folder, courier, _policy(**policy), clock=clock)


def _other_engine(engine: Engine) -> Engine:
    """A second engine on the same database: another worker's connections."""
    return make_engine(engine.url.render_as_string(hide_password=False))


def _add(engine: Engine, box: Outbox[Any], message_id: str = ID, *, leased: bool = False) -> None:
    with engine.begin() as conn, box.staging() as staged:
        (staged / MESSAGE_FILE).write_bytes(b"sealed parts")
        box.add(conn, message_id, {"note": "the service's"}, leased=leased)
        box.move_in(conn, staged, message_id)


def _row(engine: Engine, queue: OutboxTable, message_id: str = ID) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(queue.table).where(queue.table.c.message_id == message_id)).one()


def _set(engine: Engine, queue: OutboxTable, message_id: str = ID, **values: Any) -> None:
    with engine.begin() as conn:
        conn.execute(update(queue.table).where(queue.table.c.message_id == message_id).values(**values))


# -- taking messages in -----------------------------------------------------------------------------------------


def test_a_committed_message_is_queued_due_now_with_its_files_in_the_outbox(
    engine: Engine, queue: OutboxTable, folder: Path
) -> None:
    box = _box(engine, queue, folder, Script(Settle(State.DONE)))
    before = _now()
    _add(engine, box)
    row = _row(engine, queue)
    assert (row.state, row.attempts, row.note, row.lease_owner, row.lease_expires_at) == (
        State.QUEUED,
        0,
        "the service's",
        None,
        None,
    )
    assert before <= _aware(row.next_attempt_at) <= _now()
    assert (folder / ID / MESSAGE_FILE).read_bytes() == b"sealed parts"
    assert [p.name for p in folder.iterdir()] == [ID]  # the staging folder became the message's


def test_a_staging_folder_is_removed_when_staging_fails(engine: Engine, queue: OutboxTable, folder: Path) -> None:
    box = _box(engine, queue, folder, Script(Settle(State.DONE)))

    def stage_and_fail() -> None:
        with box.staging() as staged:
            (staged / MESSAGE_FILE).write_bytes(b"half")
            raise RuntimeError("pseudonymising failed")

    with pytest.raises(RuntimeError):
        stage_and_fail()
    assert list(folder.iterdir()) == []


def test_a_transaction_that_does_not_commit_leaves_a_folder_the_sweep_removes(
    engine: Engine, queue: OutboxTable, folder: Path
) -> None:
    box = _box(engine, queue, folder, Script(Settle(State.DONE)))
    _add(engine, box, ID)
    lost = "00000000-0000-4000-8000-000000000002"

    def rename_and_fail() -> None:
        with engine.begin() as conn, box.staging() as staged:
            box.add(conn, lost, {})
            box.move_in(conn, staged, lost)
            raise RuntimeError("the commit fails after the rename")

    with pytest.raises(RuntimeError):
        rename_and_fail()
    assert (folder / lost).exists()
    box.sweep()
    assert sorted(p.name for p in folder.iterdir()) == [ID]


def test_the_same_message_taken_again_replaces_a_folder_left_by_a_commit_that_failed(
    engine: Engine, queue: OutboxTable, folder: Path
) -> None:
    """Several workers: the message comes again (its sender tries again) to a worker that has not swept since
    another one died between the rename and the commit."""
    box = _box(engine, queue, folder, Script(Settle(State.DONE)))

    def rename_and_fail() -> None:
        with engine.begin() as conn, box.staging() as staged:
            (staged / MESSAGE_FILE).write_bytes(b"first try")
            box.add(conn, ID, {})
            box.move_in(conn, staged, ID)
            raise RuntimeError("the process dies before the commit")

    with pytest.raises(RuntimeError):
        rename_and_fail()
    assert (folder / ID / MESSAGE_FILE).read_bytes() == b"first try"
    _add(engine, box, ID)  # no sweep in between
    assert (folder / ID / MESSAGE_FILE).read_bytes() == b"sealed parts"
    assert _row(engine, queue).message_id == ID


# -- attempts ---------------------------------------------------------------------------------------------------


def test_settling_ends_delivery_writes_the_services_columns_and_frees_the_lease(
    engine: Engine, queue: OutboxTable, folder: Path
) -> None:
    courier = Script(Settle(State.DONE, "fine", {"note": "receipt kept"}))
    box = _box(engine, queue, folder, courier)
    _add(engine, box)
    assert asyncio.run(box.deliver_due()) is True
    row = _row(engine, queue)
    assert (row.state, row.attempts, row.last_error, row.note) == (State.DONE, 1, "fine", "receipt kept")
    assert (row.next_attempt_at, row.lease_owner, row.lease_expires_at) == (None, None, None)
    assert courier.finished == [(ID, Recorded(State.DONE, 1, final=True, dead_lettered=False))]
    assert asyncio.run(box.deliver_due()) is False  # nothing is due any more
    assert asyncio.run(box.deliver(ID)) is None  # nor attempted on request: it is not active


def test_a_failed_attempt_backs_off_with_full_jitter_and_the_last_one_dead_letters(
    engine: Engine, queue: OutboxTable, folder: Path
) -> None:
    courier = Script(Retry(State.QUEUED, "peer unreachable"))
    box = _box(engine, queue, folder, courier, max_attempts=3, backoff_s=10.0, backoff_max_s=25.0)
    _add(engine, box)
    # The draws fixed: an unseeded one within milliseconds of zero (about one run in a few hundred) would make the
    # message due before the test looks, and "backing off" below false.
    random.seed(17)
    for attempt, ceiling in ((1, 20.0), (2, 25.0)):
        start = _now()
        asyncio.run(box.deliver(ID))
        row = _row(engine, queue)
        assert (row.state, row.attempts, row.last_error, row.lease_owner) == (
            State.QUEUED,
            attempt,
            "peer unreachable",
            None,
        )
        # uniform in [0, min(max, base * 2^attempts)] from when it was recorded
        assert start <= _aware(row.next_attempt_at) <= _now() + dt.timedelta(seconds=ceiling)
        assert asyncio.run(box.deliver_due()) is False  # backing off
    asyncio.run(box.deliver(ID))
    row = _row(engine, queue)
    assert (row.state, row.attempts, row.next_attempt_at) == (State.DEAD_LETTER, 3, None)
    assert courier.finished[-1] == (ID, Recorded(State.DEAD_LETTER, 3, final=True, dead_lettered=True))
    assert (folder / ID).exists()  # the files stay for whoever looks into it


def test_full_jitter_stays_within_its_ceiling() -> None:
    draws = [full_jitter(3, 0.5, 300.0) for _ in range(500)]
    assert all(0 <= d <= 4.0 for d in draws)
    assert max(draws) > 2.0  # spread over the range, not stuck at its bottom
    assert all(0 <= full_jitter(10_000, 0.5, 300.0) <= 300.0 for _ in range(50))  # capped, and no overflow


def test_waiting_schedules_the_next_attempt_without_counting_a_failure(
    engine: Engine, queue: OutboxTable, folder: Path
) -> None:
    courier = Script(Wait(State.WAITING, "taken on", 30.0), Wait(State.WAITING, None, 30.0, counts=False))
    box = _box(engine, queue, folder, courier, max_attempts=1)
    _add(engine, box)
    for attempts in (1, 1):
        start = _now()
        asyncio.run(box.deliver(ID))
        row = _row(engine, queue)
        assert (row.state, row.attempts) == (State.WAITING, attempts)  # max_attempts 1, yet not dead-lettered
        assert start + dt.timedelta(seconds=30) <= _aware(row.next_attempt_at) <= _now() + dt.timedelta(seconds=30)
    assert courier.finished[-1][1].final is False


def test_an_exception_in_an_attempt_counts_as_a_failed_attempt(
    engine: Engine, queue: OutboxTable, folder: Path
) -> None:
    box = _box(engine, queue, folder, Script(RuntimeError("bug")))
    _add(engine, box)
    assert asyncio.run(box.deliver_due()) is True
    row = _row(engine, queue)
    assert (row.state, row.attempts, row.last_error, row.lease_owner) == (State.QUEUED, 1, "RuntimeError", None)
    assert row.next_attempt_at is not None


def test_due_messages_are_claimed_oldest_first_and_messages_not_due_wait(
    engine: Engine, queue: OutboxTable, folder: Path
) -> None:
    courier = Script(Settle(State.DONE))
    box = _box(engine, queue, folder, courier)
    ids = [f"00000000-0000-4000-8000-00000000001{n}" for n in range(4)]
    for message_id in ids:
        _add(engine, box, message_id)
    _set(engine, queue, ids[0], next_attempt_at=_now() - dt.timedelta(seconds=5))
    _set(engine, queue, ids[1], next_attempt_at=_now() - dt.timedelta(seconds=50))
    _set(engine, queue, ids[2], next_attempt_at=_now() + dt.timedelta(hours=1))
    _set(engine, queue, ids[3], next_attempt_at=None)
    assert asyncio.run(box.deliver_due()) is True
    assert courier.attempted == [ids[1], ids[0]]
    asyncio.run(box.deliver(ids[2]))  # on request: due or not
    assert courier.attempted[-1] == ids[2]


def test_a_round_attempts_each_message_once_even_if_it_is_due_again_at_once(
    engine: Engine, queue: OutboxTable, folder: Path
) -> None:
    courier = Script(Retry(State.QUEUED, "again"))
    box = _box(engine, queue, folder, courier, max_attempts=10, backoff_s=0.0, backoff_max_s=0.0)
    _add(engine, box)
    assert asyncio.run(box.deliver_due()) is True
    assert courier.attempted == [ID]
    assert asyncio.run(box.deliver_due()) is True  # the next round takes it again
    assert _row(engine, queue).attempts == 2


def test_a_round_has_up_to_concurrency_attempts_under_way_at_once(
    engine: Engine, queue: OutboxTable, folder: Path
) -> None:
    """A small message is not held back by another's attempt (which waits on its peer's whole way to the end)."""
    courier = Script(Settle(State.DONE)).blocking()
    box = _box(engine, queue, folder, courier, concurrency=2)
    ids = [f"00000000-0000-4000-8000-00000000002{n}" for n in range(3)]
    for message_id in ids:
        _add(engine, box, message_id)

    async def scenario() -> bool:
        round_ = asyncio.create_task(box.deliver_due())
        for _ in range(100):
            await asyncio.sleep(0.02)
            if len(courier.attempted) >= 2:
                break
        await asyncio.sleep(0.1)
        # Two under way, the third waits for one of them to end.
        assert sorted(courier.attempted) == ids[:2]
        assert courier.finished == []
        assert courier.gate is not None
        courier.gate.set()
        return await asyncio.wait_for(round_, timeout=10)

    assert asyncio.run(scenario()) is True
    assert sorted(courier.attempted) == ids
    assert sorted(message_id for message_id, _ in courier.finished) == ids
    assert {_row(engine, queue, message_id).state for message_id in ids} == {State.DONE}


def test_a_stopped_round_stops_every_attempt_under_way_and_gives_the_leases_back(
    engine: Engine, queue: OutboxTable, folder: Path
) -> None:
    stopped = Script(Settle(State.DONE)).blocking()
    box = _box(engine, queue, folder, stopped, concurrency=2, drain_s=0.2)  # the attempts outlast the drain
    ids = [f"00000000-0000-4000-8000-00000000003{n}" for n in range(2)]
    for message_id in ids:
        _add(engine, box, message_id)

    async def scenario() -> None:
        round_ = asyncio.create_task(box.deliver_due())
        for _ in range(100):
            await asyncio.sleep(0.02)
            if len(stopped.attempted) == 2:
                break
        round_.cancel()  # the service shuts down with two attempts under way
        with pytest.raises(asyncio.CancelledError):
            await round_

    asyncio.run(scenario())
    for message_id in ids:
        row = _row(engine, queue, message_id)
        assert (row.state, row.attempts, row.lease_owner, row.lease_expires_at) == (State.QUEUED, 0, None, None)
    assert stopped.cancelled


@pytest.mark.parametrize("peer_down", [True, False], ids=["peer-was-down", "message-failed"])
def test_a_message_that_could_not_reach_its_peer_is_due_at_once_when_the_peer_answers_again(
    peer_down: bool, engine: Engine, queue: OutboxTable, folder: Path
) -> None:
    """Its backoff paced the peer while it was away; once the peer settles another message it is tried now. A
    failure about the message itself keeps its backoff."""
    courier = Script(Retry(State.QUEUED, "unreachable", peer_down=peer_down), Settle(State.DONE))
    box = _box(engine, queue, folder, courier, max_attempts=10)
    first, second = ID, "00000000-0000-4000-8000-000000000040"
    _add(engine, box, first)
    asyncio.run(box.deliver(first))
    later = _now() + dt.timedelta(hours=1)
    _set(engine, queue, first, next_attempt_at=later)  # deep in its backoff
    _add(engine, box, second)
    asyncio.run(box.deliver(second))
    assert _row(engine, queue, second).state == State.DONE
    due = _aware(_row(engine, queue, first).next_attempt_at)
    if peer_down:
        assert due <= _now()
        assert asyncio.run(box.deliver_due()) is True
        assert _row(engine, queue, first).state == State.DONE
    else:
        assert abs((due - later).total_seconds()) < 1


# -- leases -----------------------------------------------------------------------------------------------------


def test_a_leased_message_is_taken_by_another_worker_only_once_its_lease_has_run_out(
    engine: Engine, queue: OutboxTable, folder: Path
) -> None:
    first = Script(Settle(State.DONE, "first")).blocking()
    holder = _box(engine, queue, folder, first, lease_s=60)
    _add(engine, holder)
    second_engine = _other_engine(engine)
    second, late = Script(Settle(State.DONE, "second")), Script(Settle(State.DONE, "late"))
    now_worker = _box(second_engine, queue, folder, second, lease_s=60)
    later_worker = _box(second_engine, queue, folder, late, clock=_later(61), lease_s=60)

    async def scenario() -> Step | None:
        attempt = asyncio.create_task(holder.deliver(ID))
        await first.started.wait()
        row = _row(engine, queue)
        assert row.lease_owner == str(holder.owner)
        assert _now() + dt.timedelta(seconds=55) < _aware(row.lease_expires_at)
        assert await now_worker.deliver_due() is False  # the lease holds
        assert await now_worker.deliver(ID) is None
        assert await later_worker.deliver_due() is True  # run out by this worker's clock: taken over
        assert first.gate is not None
        first.gate.set()
        return await attempt

    try:
        assert asyncio.run(scenario()) == Settle(State.DONE, "first")
    finally:
        second_engine.dispose()
    row = _row(engine, queue)
    # The holder's late outcome was not recorded over the one that took the message over.
    assert (row.state, row.attempts, row.last_error, row.lease_owner) == (State.DONE, 1, "late", None)
    assert (second.attempted, late.attempted, first.finished, [a[0] for a in late.finished]) == ([], [ID], [], [ID])


def test_a_worker_that_loses_its_lease_stops_its_attempt(engine: Engine, queue: OutboxTable, folder: Path) -> None:
    stalled = Script(Settle(State.DONE, "stalled")).blocking()
    holder = _box(engine, queue, folder, stalled, lease_s=0.3)  # renewed every 0.1 s
    _add(engine, holder)
    taker = Script(Settle(State.DONE, "taken over"))
    other = _box(engine, queue, folder, taker, clock=_later(10), lease_s=0.3)

    async def scenario() -> Step | None:
        attempt = asyncio.create_task(holder.deliver(ID))
        await stalled.started.wait()
        await asyncio.sleep(0.25)  # renewals go on meanwhile
        assert not attempt.done()
        assert await other.deliver(ID) == Settle(State.DONE, "taken over")
        return await asyncio.wait_for(attempt, timeout=5)

    assert asyncio.run(scenario()) is None
    assert stalled.cancelled
    assert (_row(engine, queue).last_error, stalled.finished) == ("taken over", [])


def test_a_stopped_attempt_gives_its_lease_back(engine: Engine, queue: OutboxTable, folder: Path) -> None:
    stopped = Script(Settle(State.DONE)).blocking()
    box = _box(engine, queue, folder, stopped, drain_s=0.2)  # the attempt outlasts the drain
    _add(engine, box)
    other = Script(Settle(State.DONE, "next worker"))

    async def scenario() -> None:
        attempt = asyncio.create_task(box.deliver(ID))
        await stopped.started.wait()
        attempt.cancel()  # the service shuts down mid-attempt
        with pytest.raises(asyncio.CancelledError):
            await attempt

    asyncio.run(scenario())
    row = _row(engine, queue)
    assert (row.state, row.attempts, row.lease_owner, row.lease_expires_at) == (State.QUEUED, 0, None, None)
    assert asyncio.run(_box(engine, queue, folder, other).deliver_due()) is True  # at once, no lease to wait out
    assert _row(engine, queue).last_error == "next worker"
    assert stopped.cancelled


def test_a_stopped_attempt_that_ends_within_the_drain_is_recorded(
    engine: Engine, queue: OutboxTable, folder: Path
) -> None:
    finishing = Script(Settle(State.DONE, "finished while stopping")).blocking()
    box = _box(engine, queue, folder, finishing, drain_s=30)

    async def scenario() -> None:
        attempt = asyncio.create_task(box.deliver(ID))
        await finishing.started.wait()
        attempt.cancel()  # the service shuts down mid-attempt
        await asyncio.sleep(0.2)
        assert finishing.gate is not None
        finishing.gate.set()  # the delivery ends within the drain
        with pytest.raises(asyncio.CancelledError):  # and the stop goes on
            await attempt

    _add(engine, box)
    asyncio.run(scenario())
    row = _row(engine, queue)
    assert (row.state, row.attempts, row.last_error, row.lease_owner) == (
        State.DONE,
        1,
        "finished while stopping",
        None,
    )
    assert not finishing.cancelled
    assert [message_id for message_id, _ in finishing.finished] == [ID]


def test_an_outcome_that_cannot_be_recorded_gives_the_lease_back(
    engine: Engine, queue: OutboxTable, folder: Path
) -> None:
    class Unrecordable(Script):
        def record(self, conn: Connection, claim: Claim, outcome: Step, recorded: Recorded) -> Step:
            raise RuntimeError("a constraint of the service's own failed")

    box = _box(engine, queue, folder, Unrecordable(Settle(State.DONE)))
    _add(engine, box)
    with pytest.raises(RuntimeError):
        asyncio.run(box.deliver_due())
    row = _row(engine, queue)
    # Nothing of the attempt was written, and the message is free at once, not after its lease.
    assert (row.state, row.attempts, row.lease_owner, row.lease_expires_at) == (State.QUEUED, 0, None, None)


def test_a_claim_made_while_the_worker_stops_is_given_back(engine: Engine, queue: OutboxTable, folder: Path) -> None:
    courier = Script(Settle(State.DONE))
    box = _box(engine, queue, folder, courier)
    _add(engine, box)
    in_claim, go_on = threading.Event(), threading.Event()
    claim_next = box._claim_next

    def slow_claim(skip: tuple[str, ...]) -> Claim | None:
        in_claim.set()
        go_on.wait(10)
        return claim_next(skip)

    box._claim_next = slow_claim  # type: ignore[method-assign]

    async def scenario() -> None:
        round_ = asyncio.create_task(box.deliver_due())
        await asyncio.to_thread(in_claim.wait, 10)
        round_.cancel()  # the service shuts down while the claim's UPDATE runs
        await asyncio.sleep(0.1)
        go_on.set()
        with pytest.raises(asyncio.CancelledError):
            await round_

    asyncio.run(scenario())
    row = _row(engine, queue)
    assert (row.state, row.attempts, row.lease_owner, row.lease_expires_at) == (State.QUEUED, 0, None, None)
    assert courier.attempted == []


def test_a_message_added_leased_is_attempted_by_its_own_worker_only(
    engine: Engine, queue: OutboxTable, folder: Path
) -> None:
    mine, theirs = Script(Settle(State.DONE, "mine")), Script(Settle(State.DONE, "theirs"))
    box = _box(engine, queue, folder, mine)
    other = _box(engine, queue, folder, theirs)
    _add(engine, box, leased=True)
    assert asyncio.run(other.deliver_due()) is False
    assert asyncio.run(other.deliver(ID)) is None
    assert asyncio.run(box.deliver(ID)) == Settle(State.DONE, "mine")
    assert theirs.attempted == []


def test_leases_of_workers_known_to_be_dead_are_released_and_no_others(
    engine: Engine, queue: OutboxTable, folder: Path
) -> None:
    box = _box(engine, queue, folder, Script(Settle(State.DONE)))
    ended = subprocess.Popen(["true"])  # a process that is gone by the time its pid is used
    ended.wait()
    here = box.owner.host
    owners = {
        "dead": str(Owner(ended.pid, "0badf00d", "00000001", here)),
        "pid-reused": str(Owner(box.owner.pid, "0badf00d", "00000002", here)),  # an earlier process with our pid
        "alive": str(box.owner),
        "elsewhere": str(Owner(ended.pid, "0badf00d", "00000003", "another-host.example")),
        "garbage": "not an owner",
    }
    future = _now() + dt.timedelta(hours=1)
    for n, owner in enumerate(owners.values()):
        _add(engine, box, f"00000000-0000-4000-8000-00000000002{n}")
        _set(engine, queue, f"00000000-0000-4000-8000-00000000002{n}", lease_owner=owner, lease_expires_at=future)
    assert box.release_dead_leases() == 3
    with engine.connect() as conn:
        kept = set(
            conn.execute(select(queue.table.c.lease_owner).where(queue.table.c.lease_owner.is_not(None))).scalars()
        )
    assert kept == {owners["alive"], owners["elsewhere"]}


def test_owner_ids_round_trip_and_name_their_process() -> None:
    owner = Owner.new()
    assert Owner.parse(str(owner)) == owner
    assert owner.may_be_alive()
    assert Owner.new().instance != owner.instance
    assert Owner.new().process == owner.process
    assert not Owner(owner.pid, "0badf00d", owner.instance, owner.host).may_be_alive()
    assert Owner.parse("12.ab.cd@host name") is None


# -- the run loop -----------------------------------------------------------------------------------------------


def test_the_loop_delivers_a_new_message_when_woken(engine: Engine, queue: OutboxTable, folder: Path) -> None:
    courier = Script(Settle(State.DONE))
    box = _box(engine, queue, folder, courier, idle_s=30.0)  # only a wake-up can bring it on in time

    async def scenario() -> float:
        loop = asyncio.create_task(box.run())
        try:
            await asyncio.sleep(0.2)  # idle now
            await asyncio.to_thread(_add, engine, box)
            started = time.monotonic()
            box.wake()
            await asyncio.wait_for(courier.started.wait(), timeout=5)
            return time.monotonic() - started
        finally:
            loop.cancel()
            with pytest.raises(asyncio.CancelledError):
                await loop

    assert asyncio.run(scenario()) < 5
    assert courier.attempted == [ID]


def test_the_loop_attempts_a_message_again_when_it_is_due_not_at_its_idle_time(
    engine: Engine, queue: OutboxTable, folder: Path
) -> None:
    """A status poll (or a retry) due in 0.3 s is attempted then, though the idle loop would sleep 30 s."""
    courier = Script(Wait(State.QUEUED, "asked after", 0.3), Settle(State.DONE))
    box = _box(engine, queue, folder, courier, idle_s=30.0)
    _add(engine, box)

    async def scenario() -> float:
        loop = asyncio.create_task(box.run())
        try:
            started = time.monotonic()
            for _ in range(500):
                await asyncio.sleep(0.01)
                if len(courier.finished) == 2:
                    return time.monotonic() - started
            raise AssertionError("not attempted again in time")
        finally:
            loop.cancel()
            with pytest.raises(asyncio.CancelledError):
                await loop

    assert asyncio.run(scenario()) < 3
    assert courier.attempted == [ID, ID]
    assert _row(engine, queue).state == State.DONE


def test_an_idle_loop_does_not_spin_on_a_message_another_worker_holds(
    engine: Engine, queue: OutboxTable, folder: Path
) -> None:
    """Due, but leased to someone else for a minute: the loop sleeps until the lease would end (here: its idle
    time), not in a busy round after round."""
    courier = Script(Settle(State.DONE))
    box = _box(engine, queue, folder, courier, idle_s=0.5)
    _add(engine, box)
    _set(engine, queue, lease_owner="1.ab.cd@elsewhere", lease_expires_at=_now() + dt.timedelta(seconds=60))
    rounds = 0
    deliver_due = box.deliver_due

    async def counted() -> bool:
        nonlocal rounds
        rounds += 1
        return await deliver_due()

    box.deliver_due = counted  # type: ignore[method-assign]

    async def scenario() -> None:
        loop = asyncio.create_task(box.run())
        await asyncio.sleep(1.2)
        loop.cancel()
        with pytest.raises(asyncio.CancelledError):
            await loop

    asyncio.run(scenario())
    assert rounds <= 4
    assert courier.attempted == []


class RecordFailsOnce(Script):
    def record(self, conn: Connection, claim: Claim, outcome: Step, recorded: Recorded) -> Step:
        if len(self.attempted) == 1:
            raise RuntimeError("the database went away mid-round")
        return outcome


def test_a_round_that_fails_neither_ends_the_loop_nor_loses_the_message(
    engine: Engine, queue: OutboxTable, folder: Path
) -> None:
    courier = RecordFailsOnce(Settle(State.DONE))
    box = _box(engine, queue, folder, courier, idle_s=0.05, lease_s=0.3)
    _add(engine, box)

    async def scenario() -> None:
        loop = asyncio.create_task(box.run())
        try:
            for _ in range(100):
                await asyncio.sleep(0.05)
                if courier.finished:
                    return
        finally:
            loop.cancel()
            with pytest.raises(asyncio.CancelledError):
                await loop

    asyncio.run(scenario())
    # The failed round recorded nothing (rolled back); its lease ran out and the next attempt settled it.
    assert courier.attempted == [ID, ID]
    row = _row(engine, queue)
    assert (row.state, row.attempts, row.lease_owner) == (State.DONE, 1, None)


# -- start-up ---------------------------------------------------------------------------------------------------


def test_the_sweep_removes_orphans_and_staging_folders_of_dead_workers_only(
    engine: Engine, queue: OutboxTable, folder: Path
) -> None:
    box = _box(engine, queue, folder, Script(Settle(State.DONE)))
    _add(engine, box)
    orphan = folder / "00000000-0000-4000-8000-0000000000ff"
    orphan.mkdir()
    staging = box.staging()  # a request of this very worker, staging as the sweep runs
    live = staging.__enter__()
    ended = subprocess.Popen(["true"])
    ended.wait()
    dead = folder / f"{STAGING_PREFIX}{Owner(ended.pid, 'abcd', 'ef01', box.owner.host)}-0011223344556677"
    dead.mkdir()
    unknown = folder / f"{STAGING_PREFIX}deadbeef"
    unknown.mkdir()
    elsewhere = folder / f"{STAGING_PREFIX}{Owner(1, 'abcd', 'ef01', 'another-host.example')}-0011223344556677"
    elsewhere.mkdir()
    box.sweep()
    assert sorted(p.name for p in folder.iterdir()) == sorted([ID, live.name, elsewhere.name])
    staging.__exit__(None, None, None)


def test_the_sweep_leaves_a_folder_whose_transaction_is_committing(
    engine: Engine, queue: OutboxTable, folder: Path
) -> None:
    box = _box(engine, queue, folder, Script(Settle(State.DONE)))
    committer = engine.connect()
    transaction = committer.begin()  # SQLite: holds the write lock; PostgreSQL: the advisory lock, below
    with box.staging() as staged:
        (staged / MESSAGE_FILE).write_bytes(b"sealed parts")
        box.add(committer, ID, {})
        box.move_in(committer, staged, ID)
    sweeper_engine = _other_engine(engine)
    sweeper = threading.Thread(target=sweep_orphans, args=(sweeper_engine, queue.table, folder))
    try:
        sweeper.start()
        time.sleep(0.3)  # the sweep has seen the folder, and no committed row for it
        transaction.commit()
        sweeper.join(timeout=30)
        assert not sweeper.is_alive()
    finally:
        committer.close()
        sweeper_engine.dispose()
    assert (folder / ID / MESSAGE_FILE).exists()


def test_the_sweep_can_make_every_active_message_due_at_once(engine: Engine, queue: OutboxTable, folder: Path) -> None:
    box = _box(engine, queue, folder, Script(Settle(State.DONE)))
    _add(engine, box)
    _set(engine, queue, next_attempt_at=_now() + dt.timedelta(hours=1))
    box.sweep()
    assert asyncio.run(box.deliver_due()) is False
    box.sweep(due_now=True)
    assert asyncio.run(box.deliver_due()) is True


def test_discard_drops_a_message_that_is_no_longer_active_with_its_folder(
    engine: Engine, queue: OutboxTable, folder: Path
) -> None:
    box = _box(engine, queue, folder, Script(Retry(State.QUEUED)), max_attempts=1)
    _add(engine, box)
    assert box.discard(ID) is False  # queued: still the outbox's
    assert (folder / ID).exists()
    asyncio.run(box.deliver(ID))  # dead-lettered
    assert box.discard(ID) is True
    assert not (folder / ID).exists()
    with engine.connect() as conn:
        assert conn.execute(select(queue.table)).all() == []


# -- the package ------------------------------------------------------------------------------------------------


def test_an_outbox_table_must_have_the_kits_columns_and_sensible_states() -> None:
    bare = Table("bare", MetaData(), Column("message_id", String(36), primary_key=True), Column("n", Integer))
    with pytest.raises(ValueError, match="lacks"):
        OutboxTable(bare, queued="queued", active=frozenset({"queued"}), dead_letter="dead-letter")
    table = outbox_table("states").table
    with pytest.raises(ValueError, match="active"):
        OutboxTable(table, queued="queued", active=frozenset({"waiting"}), dead_letter="dead-letter")
    with pytest.raises(ValueError, match="max_attempts"):
        Policy(max_attempts=0, backoff_s=1, backoff_max_s=1)
    with pytest.raises(ValueError, match="concurrency"):
        Policy(max_attempts=1, backoff_s=1, backoff_max_s=1, concurrency=0)


def test_the_package_exports_exactly_its_public_names() -> None:
    public = {name for name in vars(kit_outbox) if not name.startswith("_") and name != "annotations"}
    assert public == set(kit_outbox.__all__)
    defined = [getattr(kit_outbox, name) for name in kit_outbox.__all__]
    classes_and_functions = [obj for obj in defined if inspect.isclass(obj) or inspect.isfunction(obj)]
    assert len(classes_and_functions) == len(defined) - 2  # STAGING_PREFIX, and Step (a union)
    assert all(obj.__module__.startswith("services.kit.outbox.") for obj in classes_and_functions)
