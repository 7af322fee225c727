"""Soak test: the chain under SIGKILL of the TPF and the registry, checked for lost, duplicated and partial data.

:func:`run_soak` starts a fresh chain of three real processes in its own state folder on free ports, submits
synthetic exports (several municipalities and years, with resubmissions of the same municipality-year, so the
registry's replacement is exercised) through the gateway, and meanwhile

* a fault thread kills the TPF or the registry with SIGKILL at random moments (seeded), waits a short random
  time and starts it again (``Chain.start`` waits for ``/readyz``);
* a watcher thread polls the registry (``GET /v1/submissions`` and ``GET /v1/submissions/{id}``) and reads its
  SQLite database read-only, counting a *partial view* whenever an active submission shows a number of
  stored persons different from its record count, or a record count different from what was sent.

At the end it waits until every submission is final at the gateway, then checks that each one was stored
exactly once (see :func:`_verify`). Usable as ``python -m iplos_cli.soak --submissions N --seed S``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import random
import signal
import sqlite3
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx

from iplos_cli import client
from iplos_cli.chain import Chain, ensure_keys, free_port
from iplos_cli.exports import write_synthetic_export
from shared.envelope import InvalidEnvelope, MessageRefused
from shared.envelope.receipts import verify_receipt
from shared.keys import PublicDirectory

MUNICIPALITIES = ("0301", "4601", "5001", "1103")
YEARS = (2024, 2025)
VICTIMS = ("tpf", "registry")
FINAL_STATES = client.FINAL_STATES
SETTLED_STATES = frozenset({"stored", "refused"})

_PARTIAL_SQL = """
SELECT s.message_id, s.record_count,
       (SELECT count(*) FROM persons p WHERE p.submission_id = s.message_id)
FROM submissions s WHERE s.status = 'active'
"""


class Console(Protocol):
    def print(self, *objects: Any, **kwargs: Any) -> None: ...


class _PlainConsole:
    def print(self, *objects: Any, **kwargs: Any) -> None:
        print(*objects, flush=True)


@dataclass(frozen=True)
class Sent:
    """One submission as the gateway accepted it."""

    submission_id: str
    municipality: str
    year: int
    sequence: int
    records: int
    index: int


@dataclass
class SoakResult:
    submissions: int = 0
    accepted: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    partial_views: int = 0
    partial_details: list[str] = field(default_factory=list)
    polls: int = 0
    api_reads: int = 0
    db_reads: int = 0
    stored: int = 0
    refused_stale: int = 0
    multi_attempt: int = 0
    max_attempts: int = 0
    problems: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    state_dir: Path | None = None

    @property
    def faults_injected(self) -> int:
        return sum(self.faults.values())

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.partial_views or self.problems)

    def summary_lines(self) -> list[str]:
        per = ", ".join(f"{name} {self.faults[name]}" for name in VICTIMS)
        return [
            f"submissions:         {self.submissions} (accepted {self.accepted}; stored {self.stored},"
            f" refused as stale {self.refused_stale})",
            f"faults injected:     {self.faults_injected} ({per}; SIGKILL)",
            f"deliveries retried:  {self.multi_attempt} submissions needed more than one attempt"
            f" (max {self.max_attempts})",
            f"lost:                {len(self.lost)}",
            f"duplicated:          {len(self.duplicated)}",
            f"partial views seen:  {self.partial_views} (in {self.polls} polls: {self.api_reads} read the API,"
            f" {self.db_reads} the database)",
            f"other problems:      {len(self.problems)}",
            f"time:                {self.elapsed_s:.1f} s",
        ]


@dataclass
class _Shared:
    """What the threads share; guarded by ``lock``."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    faults_done: int = 0
    faults_over: threading.Event = field(default_factory=threading.Event)
    fault_counts: Counter[str] = field(default_factory=Counter)
    expected_records: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def _plan(submissions: int, rng: random.Random) -> list[tuple[str, int, int, int, int]]:
    """(municipality, year, persons, seed, vary) per submission; about a third are resubmissions."""
    keys = [(m, y) for m in MUNICIPALITIES for y in YEARS]
    seeds = {key: rng.randrange(2**32) for key in keys}
    counts: Counter[tuple[str, int]] = Counter()
    plan = []
    for _ in range(submissions):
        key = rng.choice(keys)
        vary = counts[key]
        counts[key] += 1
        # 40 to 60 persons: a resubmission never falls below half of the active one, so none is held for the
        # municipality's confirmation (the registry's default HOLD_BELOW_RATIO), and every one takes effect.
        plan.append((key[0], key[1], rng.randint(40, 60), seeds[key], vary))
    return plan


def _fault_loop(chain: Chain, rng: random.Random, shared: _Shared, max_faults: int, deadline: float) -> None:
    """Kill the TPF or the registry at random moments, then start it again; both get killed."""
    counts = {name: 0 for name in VICTIMS}
    try:
        time.sleep(rng.uniform(0.3, 1.0))
        for n in range(max_faults):
            if shared.stop.is_set() or time.monotonic() > deadline:
                break
            victim = rng.choice(VICTIMS)
            if n == max_faults - 1 or time.monotonic() > deadline - 10:
                victim = min(VICTIMS, key=lambda name: counts[name])  # make sure both were hit
            chain.stop(victim, signal.SIGKILL)
            counts[victim] += 1
            with shared.lock:
                shared.faults_done += 1
            time.sleep(rng.uniform(0.0, 0.4))  # down for a while: deliveries fail and back off
            try:
                chain.start(victim)
            except RuntimeError as exc:
                with shared.lock:
                    shared.errors.append(f"restart of {victim} failed: {exc}")
                time.sleep(0.5)
                chain.start(victim)
            time.sleep(rng.uniform(0.1, 1.2))  # up for a while: deliveries go through, or are cut again
    finally:
        shared.faults_over.set()
        for victim in VICTIMS:  # whatever happened, leave both running for the final phase
            if victim not in chain.processes or chain.processes[victim].poll() is not None:
                with contextlib.suppress(RuntimeError):
                    chain.start(victim)
        with shared.lock:
            shared.fault_counts.update(counts)


def _watch(chain: Chain, shared: _Shared, result: SoakResult) -> None:
    """Poll the registry's API and database; count every partial view of an active submission."""
    db = chain.state_dir / "registry" / "registry.db"
    registry = chain.url("registry")
    with httpx.Client(timeout=5.0, headers={"Authorization": f"Bearer {chain.operator_token}"}) as http:
        while not shared.stop.is_set():
            _poll_once(http, registry, db, shared, result)
            time.sleep(0.05)
        _poll_once(http, registry, db, shared, result)


def _partial(shared: _Shared, result: SoakResult, detail: str) -> None:
    with shared.lock:
        result.partial_views += 1
        if len(result.partial_details) < 50:
            result.partial_details.append(detail)


def _poll_once(http: httpx.Client, registry: str, db: Path, shared: _Shared, result: SoakResult) -> None:
    with shared.lock:
        result.polls += 1
        expected = dict(shared.expected_records)
    # The API: an active submission shows the record count that was sent, in the list and on its own.
    try:
        rows = http.get(f"{registry}/v1/submissions").json()["submissions"]
        for row in rows:
            if row["status"] != "active":
                continue
            sid = row["submission_id"]
            if sid in expected and row["records"] != expected[sid]:
                _partial(shared, result, f"api list: {sid} active with {row['records']} of {expected[sid]} records")
            one = http.get(f"{registry}/v1/submissions/{sid}")
            if one.status_code == 200 and one.json()["status"] == "active" and one.json()["records"] != row["records"]:
                _partial(shared, result, f"api item: {sid} records {one.json()['records']} != {row['records']}")
        with shared.lock:
            result.api_reads += 1
    except (httpx.HTTPError, ValueError, KeyError):
        pass  # the registry is down or restarting
    # The database itself, read-only, in one snapshot: persons stored for each active submission.
    if not db.exists():
        return
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=2.0)
        try:
            found = conn.execute(_PARTIAL_SQL).fetchall()
        finally:
            conn.close()
    except sqlite3.Error:
        return
    with shared.lock:
        result.db_reads += 1
    for sid, record_count, stored in found:
        if stored != record_count or (sid in expected and stored != expected[sid]):
            _partial(shared, result, f"database: {sid} active, {stored} persons stored, record_count {record_count}")


def _submit_loop(
    chain: Chain,
    plan: list[tuple[str, int, int, int, int]],
    exports_dir: Path,
    shared: _Shared,
    result: SoakResult,
    max_faults: int,
    rng: random.Random,
    deadline: float,
) -> list[Sent]:
    """Submit the plan through the gateway, spread over the fault period so deliveries meet the faults."""
    gateway = chain.url("gateway")
    tokens = chain.municipality_tokens()  # each municipality submits with its own credential
    sent: list[Sent] = []
    for index, (municipality, year, persons, seed, vary) in enumerate(plan):
        path = exports_dir / f"{index:05d}-{municipality}-{year}-{vary}.xml"
        records, _ = write_synthetic_export(path, municipality, year, persons, seed, vary=vary)
        # Pace: submission i goes once about i/n of the faults have happened (or the faults are over).
        due = (index * max_faults) // max(len(plan), 1)
        while not shared.faults_over.is_set() and time.monotonic() < deadline:
            with shared.lock:
                if shared.faults_done >= due:
                    break
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.05))
        accepted = client.submit(path, gateway, token=tokens[municipality])
        result.accepted += 1
        one = Sent(
            accepted["submission_id"], municipality, year, int(accepted["sequence"]), int(accepted["records"]), index
        )
        if one.records != records:
            result.problems.append(f"{one.submission_id}: the gateway counted {one.records} records, wrote {records}")
        with shared.lock:
            shared.expected_records[one.submission_id] = one.records
        sent.append(one)
    return sent


def _wait_all_final(gateway: str, token: str, sent: list[Sent], timeout_s: float) -> dict[str, dict[str, Any]]:
    """``token``: the operator's, which lists every municipality's submissions."""
    deadline = time.monotonic() + timeout_s
    ids = {s.submission_id for s in sent}
    while True:
        rows = {r["submission_id"]: r for r in client.get_json(f"{gateway}/v1/submissions", token)["submissions"]}
        pending = [sid for sid in ids if rows.get(sid, {}).get("state") not in FINAL_STATES]
        if not pending or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


def _verify(chain: Chain, sent: list[Sent], gateway_rows: dict[str, dict[str, Any]], result: SoakResult) -> None:
    """Every accepted submission settled exactly once, the newest of each year active, all records there once."""
    directory = PublicDirectory.load(chain.state_dir / "keys" / "directory.json")
    registry_rows = client.get_json(f"{chain.url('registry')}/v1/submissions", chain.operator_token)["submissions"]
    by_id: dict[str, dict[str, Any]] = {}
    id_counts = Counter(row["submission_id"] for row in registry_rows)
    for sid, count in id_counts.items():
        if count > 1:
            result.duplicated.append(f"{sid}: {count} rows at the registry")
        by_id[sid] = next(row for row in registry_rows if row["submission_id"] == sid)
    sent_ids = {s.submission_id for s in sent}
    for sid in set(by_id) - sent_ids:
        result.problems.append(f"{sid}: at the registry but never sent")

    db = chain.state_dir / "registry" / "registry.db"
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10.0)
    try:
        db_ids = Counter(r[0] for r in conn.execute("SELECT message_id FROM submissions"))
        persons = dict(conn.execute("SELECT submission_id, count(*) FROM persons GROUP BY submission_id").fetchall())
        person_dups = conn.execute(
            "SELECT submission_id, ref, count(*) FROM persons GROUP BY submission_id, ref HAVING count(*) > 1"
        ).fetchall()
    finally:
        conn.close()
    for sid, count in db_ids.items():
        if count > 1:
            result.duplicated.append(f"{sid}: {count} rows in the registry's database")
    for sid, ref, count in person_dups:
        result.duplicated.append(f"{sid}: record {ref} stored {count} times")

    for s in sent:
        row = gateway_rows.get(s.submission_id)
        state = row["state"] if row else "missing"
        result.max_attempts = max(result.max_attempts, int(row["attempts"]) if row else 0)
        if row and int(row["attempts"]) > 1:
            result.multi_attempt += 1
        at_registry = by_id.get(s.submission_id)
        if row is None or state not in SETTLED_STATES or at_registry is None:
            result.lost.append(
                f"{s.submission_id} ({s.municipality}-{s.year} seq {s.sequence}): gateway {state}"
                f" ({row.get('last_error') if row else None}), registry"
                f" {at_registry['status'] if at_registry else 'missing'}"
            )
            continue
        header = chain.state_dir / "gateway" / "outbox" / s.submission_id / "header.json"
        try:
            receipt = verify_receipt(
                directory,
                {"receipt": row["receipt"], "signature": row["receipt_signature"]},
                s.submission_id,
                hashlib.sha256(header.read_bytes()).hexdigest(),
            )
        except (InvalidEnvelope, MessageRefused, OSError) as exc:
            result.lost.append(f"{s.submission_id}: {state} without a verified receipt ({type(exc).__name__})")
            continue
        if state == "stored":
            result.stored += 1
            if receipt.status != "stored" or at_registry["status"] not in ("active", "superseded"):
                result.problems.append(f"{s.submission_id}: gateway stored, registry {at_registry['status']}")
            elif receipt.records_stored != s.records or at_registry["records"] != s.records:
                result.problems.append(
                    f"{s.submission_id}: {s.records} sent, receipt {receipt.records_stored},"
                    f" registry {at_registry['records']}"
                )
        else:
            result.refused_stale += 1
            if receipt.reason != "stale-sequence" or at_registry["status"] != "refused":
                result.problems.append(
                    f"{s.submission_id}: refused ({receipt.reason}), registry {at_registry['status']}"
                )
        stored_persons = persons.get(s.submission_id, 0)
        if at_registry["status"] == "active":
            if stored_persons > s.records:
                result.duplicated.append(f"{s.submission_id}: {stored_persons} persons stored of {s.records} sent")
            elif stored_persons != s.records:
                result.problems.append(f"{s.submission_id}: active with {stored_persons} of {s.records} persons")
        elif stored_persons:
            result.duplicated.append(
                f"{s.submission_id}: {at_registry['status']} but {stored_persons} persons still stored"
            )

    newest: dict[tuple[str, int], Sent] = {}
    for s in sent:
        key = (s.municipality, s.year)
        if key not in newest or s.sequence > newest[key].sequence:
            newest[key] = s
    for (municipality, year), s in sorted(newest.items()):
        active = [
            r["submission_id"]
            for r in registry_rows
            if (r["municipality"], r["year"], r["status"])
            == (
                municipality,
                year,
                "active",
            )
        ]
        if active != [s.submission_id]:
            result.problems.append(
                f"{municipality}-{year}: active {active}, expected the newest {s.submission_id} (seq {s.sequence})"
            )


def run_soak(
    state_dir: Path,
    submissions: int,
    seed: int,
    console: Console | None = None,
    *,
    max_seconds: float = 600.0,
    max_faults: int | None = None,
) -> SoakResult:
    """Run the soak in ``state_dir`` (created; must be new or empty) and return its figures.

    ``max_faults`` bounds the SIGKILLs (default: one per submission); ``max_seconds`` bounds the fault phase
    and the wait for the last deliveries (the chain's start-up and the checks come on top).
    """
    console = console or _PlainConsole()
    faults = submissions if max_faults is None else max_faults
    started = time.monotonic()
    state_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)  # noqa: S311 - test schedule, not security
    fault_rng = random.Random(rng.randrange(2**64))  # noqa: S311
    plan = _plan(submissions, rng)
    ensure_keys(state_dir, list(MUNICIPALITIES))
    exports_dir = state_dir / "exports"
    exports_dir.mkdir(exist_ok=True)
    ports = {name: free_port() for name in ("gateway", "tpf", "registry")}
    extra_env = {
        "gateway": {
            "IPLOS_GATEWAY_DELIVERY_BACKOFF_S": "0.05",
            "IPLOS_GATEWAY_DELIVERY_BACKOFF_MAX_S": "0.5",
            "IPLOS_GATEWAY_DELIVERY_MAX_ATTEMPTS": "100000",
            "IPLOS_GATEWAY_DELIVERY_TIMEOUT_S": "30",
        },
    }
    result = SoakResult(submissions=submissions, state_dir=state_dir)
    shared = _Shared()
    console.print(f"soak: {submissions} submissions, up to {faults} SIGKILLs, seed {seed}, state in {state_dir}")
    with Chain(state_dir, ports=ports, extra_env=extra_env) as chain:
        deadline = time.monotonic() + max_seconds
        fault_deadline = deadline - min(60.0, max_seconds / 3)
        faulter = threading.Thread(
            target=_fault_loop, args=(chain, fault_rng, shared, faults, fault_deadline), name="soak-faults"
        )
        watcher = threading.Thread(target=_watch, args=(chain, shared, result), name="soak-watch", daemon=True)
        watcher.start()
        faulter.start()
        try:
            sent = _submit_loop(chain, plan, exports_dir, shared, result, faults, rng, fault_deadline)
        except BaseException:
            shared.stop.set()
            raise
        finally:
            faulter.join()
        result.faults.update(shared.fault_counts)
        rows = _wait_all_final(chain.url("gateway"), chain.operator_token, sent, max(deadline - time.monotonic(), 30.0))
        shared.stop.set()
        watcher.join(timeout=30)
        _verify(chain, sent, rows, result)
        result.problems.extend(shared.errors)
    result.elapsed_s = time.monotonic() - started
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m iplos_cli.soak", description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=200)
    parser.add_argument("--faults", type=int, default=None, help="SIGKILLs to inject (default: one per submission)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--state-dir", type=Path, default=None, help="default: a new temporary folder")
    parser.add_argument("--max-seconds", type=float, default=900.0)
    args = parser.parse_args(argv)
    state_dir = args.state_dir or Path(tempfile.mkdtemp(prefix="iplos-soak-"))
    console = _PlainConsole()
    result = run_soak(
        state_dir, args.submissions, args.seed, console, max_seconds=args.max_seconds, max_faults=args.faults
    )
    for line in result.summary_lines():
        console.print(line)
    for label, items in (
        ("lost", result.lost),
        ("duplicated", result.duplicated),
        ("partial", result.partial_details),
        ("problem", result.problems),
    ):
        for item in items[:20]:
            console.print(f"  {label}: {item}")
    console.print("OK" if result.ok else f"FAILED (state and logs kept in {state_dir})")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
