"""Several outbox worker processes on one database (SQLite, PostgreSQL), delivering to a real HTTP receiver that
counts what arrives: each message is delivered exactly once and never by two workers at a time; a worker killed
mid-attempt loses nothing, its message is taken over when its lease runs out, or at once by a worker that starts on
the same host. The workers are real processes (tests/kit/outbox_worker.py), killed with SIGKILL.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, MetaData, select

from services.kit.outbox import Outbox, OutboxTable
from tests.kit.outbox_worker import MESSAGE_FILE, State, http_outbox, outbox_table

ROOT = Path(__file__).resolve().parents[2]


class Receiver:
    """An HTTP peer that answers every POST /<message id> with 200 after ``delay_s``, counting requests per
    message, requests of one message that overlap, and the workers (pids) that sent them. A message in ``hold``
    is held unanswered the first time it arrives, until ``release`` is set."""

    def __init__(self, delay_s: float = 0.02) -> None:
        self.delay_s = delay_s
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.in_flight: Counter[str] = Counter()
        self.overlaps: list[str] = []
        self.workers: set[str] = set()
        self.hold: set[str] = set()
        self.release = threading.Event()
        self.arrived: defaultdict[str, threading.Event] = defaultdict(threading.Event)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                message_id = self.path.rsplit("/", 1)[-1]
                self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    receiver.counts[message_id] += 1
                    receiver.in_flight[message_id] += 1
                    if receiver.in_flight[message_id] > 1:
                        receiver.overlaps.append(message_id)
                    receiver.workers.add(self.headers["X-Worker"])
                    held = message_id in receiver.hold
                    receiver.hold.discard(message_id)
                receiver.arrived[message_id].set()
                try:
                    if held:
                        receiver.release.wait(30)
                    else:
                        time.sleep(receiver.delay_s)
                    self.send_response(200)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"{}")
                finally:
                    with receiver.lock:
                        receiver.in_flight[message_id] -= 1

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a killed worker's connection: nobody to answer

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def quiet(self, message_id: str) -> bool:
        with self.lock:
            return self.in_flight[message_id] == 0


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    thread = threading.Thread(target=made.server.serve_forever, daemon=True)
    thread.start()
    yield made
    made.release.set()
    made.server.shutdown()
    made.server.server_close()


@pytest.fixture
def queue(engine: Engine) -> Iterator[OutboxTable]:
    metadata = MetaData()
    made = outbox_table(f"outbox_{secrets.token_hex(4)}", metadata)
    metadata.create_all(engine)
    yield made
    metadata.drop_all(engine)


class Workers:
    """Worker processes of one outbox (tests.kit.outbox_worker), killed at the end whatever happened."""

    def __init__(self, engine: Engine, queue: OutboxTable, folder: Path, receiver: Receiver, logs: Path) -> None:
        self.url = engine.url.render_as_string(hide_password=False)
        self.queue = queue
        self.folder = folder
        self.receiver = receiver
        self.logs = logs
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, count: int, lease_s: float) -> list[str]:
        """Start ``count`` workers; their owner ids once each is about to run its loop."""
        ready = []
        for _ in range(count):
            n = len(self.processes)
            marker = self.logs / f"ready-{n}"
            with (self.logs / f"worker-{n}.log").open("wb") as log:
                args = [self.url, self.queue.table.name, str(self.folder), self.receiver.url, str(marker), str(lease_s)]
                self.processes.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "tests.kit.outbox_worker", *args], cwd=ROOT, stdout=log, stderr=log
                    )
                )
            ready.append(marker)
        _until(lambda: all(m.exists() and m.read_text() for m in ready), 60, self.output)
        return [m.read_text() for m in ready]

    def kill(self, n: int) -> None:
        os.kill(self.processes[n].pid, signal.SIGKILL)
        self.processes[n].wait()

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait()

    def output(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-2000:] for p in sorted(self.logs.glob("worker-*.log")))


@pytest.fixture
def workers(engine: Engine, queue: OutboxTable, tmp_path: Path, receiver: Receiver) -> Iterator[Workers]:
    logs = tmp_path / "logs"
    logs.mkdir()
    made = Workers(engine, queue, tmp_path / "outbox", receiver, logs)
    yield made
    made.stop()


def _until(condition: Callable[[], bool], timeout_s: float, explain: Callable[[], str] = str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout_s} s\n{explain()}"
        time.sleep(0.05)


def _ids(count: int) -> list[str]:
    return [f"00000000-0000-4000-8000-{n:012d}" for n in range(count)]


def _queue(engine: Engine, box: Outbox[Any], ids: list[str]) -> None:
    with engine.begin() as conn:
        for message_id in ids:
            with box.staging() as staged:
                (staged / MESSAGE_FILE).write_text(message_id)
                box.add(conn, message_id, {})
                box.move_in(conn, staged, message_id)


def _states(engine: Engine, queue: OutboxTable) -> dict[str, tuple[str, int]]:
    with engine.connect() as conn:
        rows = conn.execute(select(queue.table.c.message_id, queue.table.c.state, queue.table.c.attempts))
        return {row.message_id: (row.state, row.attempts) for row in rows}


def _parent_outbox(engine: Engine, workers: Workers, client: httpx.AsyncClient) -> Outbox[int]:
    """An outbox of this test process on the same table: to queue messages, or to be one more worker."""
    return http_outbox(engine, workers.queue.table.name, workers.folder, client, workers.receiver.url, lease_s=60)


def test_several_worker_processes_deliver_each_message_exactly_once(
    engine: Engine, queue: OutboxTable, workers: Workers, receiver: Receiver
) -> None:
    workers.start(3, lease_s=5)
    ids = _ids(60)
    _queue(engine, _parent_outbox(engine, workers, httpx.AsyncClient()), ids)  # all at once, once all workers run
    _until(lambda: set(_states(engine, queue).values()) == {(State.DONE, 1)}, 120, workers.output)
    # Each settled message's folder goes with it, just after its commit (which a reader can see first): wait for
    # that before the workers are stopped, or one stopped between the two would leave its last folder behind.
    _until(lambda: not any(workers.folder.iterdir()), 10, lambda: str(list(workers.folder.iterdir())))
    workers.stop()
    assert receiver.counts == Counter(dict.fromkeys(ids, 1))
    assert receiver.overlaps == []
    assert len(receiver.workers) >= 2, "the workers did not share the queue"
    assert list(workers.folder.iterdir()) == []


def test_a_killed_workers_message_is_taken_over_once_its_lease_runs_out(
    engine: Engine, queue: OutboxTable, workers: Workers, receiver: Receiver
) -> None:
    (message_id,) = _ids(1)
    receiver.hold.add(message_id)  # the first attempt hangs at the receiver
    # Renewed every third of it while it runs: after the kill, at least two thirds of it (5 s) are left for the
    # checks below to find it still held, even on a loaded machine.
    (owner,) = workers.start(1, lease_s=8)
    client = httpx.AsyncClient()
    box = _parent_outbox(engine, workers, client)
    _queue(engine, box, [message_id])
    assert receiver.arrived[message_id].wait(30), workers.output()
    workers.kill(0)  # mid-attempt: the request went out, no outcome was recorded
    receiver.release.set()
    _until(lambda: receiver.quiet(message_id), 10)
    with engine.connect() as conn:
        row = conn.execute(select(queue.table).where(queue.table.c.message_id == message_id)).one()
    assert (row.state, row.attempts, row.lease_owner) == (State.QUEUED, 0, owner)
    expires = row.lease_expires_at if row.lease_expires_at.tzinfo else row.lease_expires_at.replace(tzinfo=dt.UTC)

    async def take_over() -> tuple[bool, bool]:
        async with client:
            before = await box.deliver_due()  # the lease still holds: nobody may take the message
            await asyncio.sleep(max(0.0, (expires - dt.datetime.now(dt.UTC)).total_seconds()) + 0.1)
            return before, await box.deliver_due()

    assert asyncio.run(take_over()) == (False, True)
    assert _states(engine, queue) == {message_id: (State.DONE, 1)}
    assert receiver.counts[message_id] == 2  # the killed attempt's request, and the one that settled it
    assert receiver.overlaps == []


def test_a_worker_starting_on_the_same_host_takes_over_a_dead_workers_message_at_once(
    engine: Engine, queue: OutboxTable, workers: Workers, receiver: Receiver
) -> None:
    (message_id,) = _ids(1)
    receiver.hold.add(message_id)
    workers.start(1, lease_s=600)  # a lease that would outlast the test
    _queue(engine, _parent_outbox(engine, workers, httpx.AsyncClient()), [message_id])
    assert receiver.arrived[message_id].wait(30), workers.output()
    workers.kill(0)
    receiver.release.set()
    _until(lambda: receiver.quiet(message_id), 10)
    workers.start(1, lease_s=600)  # a restart: it frees the leases of workers of this host that are gone
    _until(lambda: _states(engine, queue) == {message_id: (State.DONE, 1)}, 60, workers.output)
    assert receiver.counts[message_id] == 2
    assert receiver.overlaps == []
