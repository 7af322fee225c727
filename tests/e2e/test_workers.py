"""Several processes of one service, for real: gateway processes sharing one state folder, and SIGTERM's drain.

* Two gateway processes on one state folder (as uvicorn's workers, or two replicas on a shared volume): one is
  killed with SIGKILL while it seals an upload and is started again; its start-up sweep removes the dead
  upload's work folder and leaves the other process's upload in progress alone, which is then accepted.
* SIGTERM to a gateway with an upload in flight: the upload is answered (202), the process exits, and a
  submission it had claimed for delivery is not left leased: another process takes it at once.
"""

from __future__ import annotations

import signal
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from iplos_chain import Chain, ensure_keys, free_port
from iplos_testkit.exports import write_synthetic_export

pytestmark = pytest.mark.e2e

MUNICIPALITY = "0301"


@pytest.fixture(scope="module")
def big_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An export that takes the gateway a few seconds to seal."""
    path = tmp_path_factory.mktemp("exports") / "big.xml"
    write_synthetic_export(path, MUNICIPALITY, 2025, 20_000, 5)
    return path


@pytest.fixture
def state(tmp_path: Path) -> Path:
    ensure_keys(tmp_path, [MUNICIPALITY])
    return tmp_path


def _gateway(state: Path, **env: str) -> Chain:
    """A gateway process of its own, on its own port, in the shared ``state/gateway`` folder; its peers are
    ports nobody listens on (deliveries fail and wait)."""
    ports = {"gateway": free_port(), "tpf": free_port(), "registry": free_port()}
    return Chain(state, ports=ports, extra_env={"gateway": env})


class Upload(threading.Thread):
    def __init__(self, chain: Chain, export: Path) -> None:
        super().__init__(daemon=True)
        self.url = chain.url("gateway") + "/v1/submissions"
        self.headers = {
            "Authorization": f"Bearer {chain.municipality_token(MUNICIPALITY)}",
            "Content-Type": "application/xml",
        }
        self.export = export
        self.verify = chain.verify  # over https, trusting the chain's development CA
        self.answer: httpx.Response | Exception | None = None

    def run(self) -> None:
        try:
            self.answer = httpx.post(
                self.url, content=self.export.read_bytes(), headers=self.headers, timeout=300, verify=self.verify
            )
        except httpx.HTTPError as exc:
            self.answer = exc


def _new_work_folder(work: Path, known: set[str], timeout_s: float = 60.0) -> Path:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for folder in work.glob("incoming-*"):
            if folder.is_dir() and folder.name not in known:
                return folder
        time.sleep(0.01)
    raise AssertionError("no upload began sealing")


@pytest.fixture
def gateways(state: Path) -> Iterator[tuple[Chain, Chain]]:
    first, second = _gateway(state), _gateway(state)
    try:
        first.start("gateway")
        second.start("gateway")
        yield first, second
    finally:
        first.stop_all()
        second.stop_all()


def test_a_restarted_gateway_sweeps_its_dead_upload_and_leaves_the_other_process_s_upload_alone(
    state: Path, gateways: tuple[Chain, Chain], big_export: Path
) -> None:
    first, second = gateways
    work = state / "gateway" / "work"
    dying = Upload(first, big_export)
    dying.start()
    dead_folder = _new_work_folder(work, set())
    first.stop("gateway", signal.SIGKILL)  # mid-seal: its work folder stays behind, its lock goes with it
    dying.join(30)
    assert isinstance(dying.answer, httpx.HTTPError)
    assert dead_folder.exists()

    living = Upload(second, big_export)
    living.start()
    live_folder = _new_work_folder(work, {dead_folder.name})
    started = time.monotonic()
    first.start("gateway")  # its start-up sweep runs while the other process seals
    restart_s = time.monotonic() - started
    sealing = living.is_alive()
    living.join(120)

    assert not dead_folder.exists(), "the dead upload's work folder was not swept"
    assert sealing, f"the other upload was over before the restart's sweep ({restart_s:.1f} s): no overlap"
    assert isinstance(living.answer, httpx.Response), living.answer
    assert living.answer.status_code == 202, living.answer.text
    accepted = living.answer.json()
    assert accepted["records"] == 20_000
    assert not live_folder.exists()  # moved into the outbox
    assert (state / "gateway" / "outbox" / accepted["submission_id"] / "header.json").exists()
    assert sorted(p.name for p in work.iterdir()) == []  # no folder and no lock left behind


class HangingPeer(threading.Thread):
    """A TPF that takes connections and never answers: a delivery to it stays in flight."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.server = socket.create_server(("127.0.0.1", port))
        self.connections: list[float] = []
        self._held: list[socket.socket] = []

    def run(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.connections.append(time.monotonic())
            self._held.append(conn)  # kept open, never read to the end, never answered

    def close(self) -> None:
        self.server.close()


def _lease_owner(state: Path, submission_id: str) -> str | None:
    with sqlite3.connect(f"file:{state / 'gateway' / 'gateway.db'}?mode=ro", uri=True, timeout=10) as db:
        row = db.execute("SELECT lease_owner FROM submissions WHERE message_id = ?", (submission_id,)).fetchone()
    return None if row is None else row[0]


def _wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if condition():
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"{what} did not happen within {timeout_s} s")


def test_sigterm_answers_the_upload_in_flight_and_hands_its_claimed_delivery_to_another_process(
    state: Path, tmp_path: Path
) -> None:
    small, medium = tmp_path / "small.xml", tmp_path / "medium.xml"
    write_synthetic_export(small, MUNICIPALITY, 2024, 20, 1)
    write_synthetic_export(medium, MUNICIPALITY, 2025, 5_000, 2)
    tpf_port = free_port()
    peer = HangingPeer(tpf_port)
    peer.start()
    # Both processes deliver to the hanging TPF, and would wait two minutes for its answer.
    env = {"IPLOS_GATEWAY_DELIVERY_TIMEOUT_S": "120"}
    ports = {"tpf": tpf_port, "registry": free_port()}
    first = Chain(state, ports={"gateway": free_port(), **ports}, extra_env={"gateway": env})
    second = Chain(state, ports={"gateway": free_port(), **ports}, extra_env={"gateway": env})
    try:
        first.start("gateway")
        queued = Upload(first, small)
        queued.run()
        assert isinstance(queued.answer, httpx.Response), queued.answer
        assert queued.answer.status_code == 202, queued.answer.text
        submission_id = queued.answer.json()["submission_id"]
        _wait_for(lambda: len(peer.connections) == 1, 30, "the first process's delivery")
        owner = _lease_owner(state, submission_id)
        assert (owner or "").startswith(f"{first.processes['gateway'].pid}."), owner
        second.start("gateway")  # shares the state folder and the database; the lease is not its to take

        in_flight = Upload(first, medium)
        in_flight.start()
        _new_work_folder(state / "gateway" / "work", set())  # the upload is being sealed
        process = first.processes["gateway"]
        process.send_signal(signal.SIGTERM)
        in_flight.join(60)
        exit_s = _wait_for(lambda: process.poll() is not None, 60, "the stopped process's exit")
        stopped_at = time.monotonic()

        assert isinstance(in_flight.answer, httpx.Response), in_flight.answer  # answered, not cut off
        assert in_flight.answer.status_code == 202, in_flight.answer.text
        # Ended by the signal after its shutdown ran (uvicorn raises the captured SIGTERM again at the end).
        assert process.returncode in (0, -signal.SIGTERM)
        log = (state / "gateway" / "logs" / "gateway.log").read_text()
        assert "stopped during an attempt; it was cut short" in log
        # The attempt in flight outlasted the drain: cut short and handed back at once, not left leased to the
        # dead process for the lease's minute; the other process takes the submissions (one attempt at a time,
        # so the one it takes first stays in flight at the hanging TPF and the other waits, free).
        later_id = in_flight.answer.json()["submission_id"]
        assert (state / "gateway" / "outbox" / later_id / "header.json").exists()
        dead = f"{process.pid}."
        owners = {sid: _lease_owner(state, sid) for sid in (submission_id, later_id)}
        assert not any((owner or "").startswith(dead) for owner in owners.values()), owners
        theirs = f"{second.processes['gateway'].pid}."
        taken_s = _wait_for(
            lambda: any((_lease_owner(state, sid) or "").startswith(theirs) for sid in (submission_id, later_id)),
            30,  # seconds on a healthy machine; the bound leaves room for a loaded one, below the lease's minute
            "the other process's claim",
        )
        assert len(peer.connections) >= 2
        assert time.monotonic() - stopped_at < 35, (exit_s, taken_s)
    finally:
        first.stop_all()
        second.stop_all()
        peer.close()


class _Quiet:
    def print(self, *objects: object, **kwargs: object) -> None:
        pass


def test_two_processes_per_service_under_sigkill_of_all_three_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    from iplos_testkit.soak import run_soak

    result = run_soak(tmp_path / "soak", 20, seed=3, console=_Quiet(), max_seconds=90, max_faults=9, workers=2)
    report = "\n".join(
        [*result.summary_lines(), *result.lost, *result.duplicated, *result.partial_details, *result.problems]
    )

    # The first six faults go round: one worker, then the whole service, of each of the three.
    for service in ("gateway", "tpf", "registry"):
        assert result.fault_kinds[f"{service} worker"] > 0, report
        assert result.fault_kinds[f"{service} service"] > 0, report
    assert result.accepted == 20, report
    assert result.lost == [], report
    assert result.duplicated == [], report
    assert result.partial_views == 0, report
    assert result.problems == [], report
    assert result.stored + result.refused_stale == 20, report
