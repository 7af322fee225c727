""":func:`run_soak`: a fresh chain, the submissions, the kills and the watcher, then the final check."""

from __future__ import annotations

import random
import ssl
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any, Final

from iplos_chain import Chain, client, ensure_keys, free_port
from iplos_testkit.exports import write_synthetic_export
from iplos_testkit.soak.databases import soak_databases
from iplos_testkit.soak.kills import kill_loop
from iplos_testkit.soak.result import Console, RunState, Sent, SoakResult
from iplos_testkit.soak.verify import verify
from iplos_testkit.soak.watch import watch

__all__ = ["MUNICIPALITIES", "YEARS", "PlainConsole", "run_soak"]

MUNICIPALITIES: Final = ("0301", "4601", "5001", "1103")
YEARS: Final = (2024, 2025)
# The gateway retries fast and for as long as the soak runs: a delivery must outlast any number of kills.
_GATEWAY_ENV: Final = {
    "IPLOS_GATEWAY_DELIVERY_BACKOFF_S": "0.05",
    "IPLOS_GATEWAY_DELIVERY_BACKOFF_MAX_S": "0.5",
    "IPLOS_GATEWAY_DELIVERY_MAX_ATTEMPTS": "100000",
    "IPLOS_GATEWAY_DELIVERY_TIMEOUT_S": "30",
}

#: At most this long at the end is kept free of faults, for the last deliveries.
_LAST_DELIVERIES_S: Final = 60.0

Planned = tuple[str, int, int, int, int]
"""(municipality, year, persons, seed, vary) of one submission."""


class PlainConsole:
    def print(self, *objects: Any, **kwargs: Any) -> None:
        print(*objects, flush=True)


def _plan(submissions: int, rng: random.Random) -> list[Planned]:
    """One entry per submission; about a third are resubmissions."""
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


def _submit_loop(
    chain: Chain,
    plan: list[Planned],
    exports_dir: Path,
    state: RunState,
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
        while not state.faults_over.is_set() and time.monotonic() < deadline:
            with state.lock:
                if state.faults_done >= due:
                    break
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.05))
        state.uploading.set()
        try:
            accepted = _submit(path, gateway, tokens[municipality], chain.verify, result, deadline + _LAST_DELIVERIES_S)
        finally:
            state.uploading.clear()
        result.accepted += 1
        one = Sent(
            accepted["submission_id"], municipality, year, int(accepted["sequence"]), int(accepted["records"]), index
        )
        if one.records != records:
            result.problems.append(f"{one.submission_id}: the gateway counted {one.records} records, wrote {records}")
        with state.lock:
            state.expected_records[one.submission_id] = one.records
        sent.append(one)
    return sent


def _submit(
    path: Path, gateway: str, token: str, verify: ssl.SSLContext, result: SoakResult, deadline: float
) -> dict[str, Any]:
    """Submit ``path`` as a client that sees the gateway die mid-request would: send it again until answered.

    The gateway may have committed the upload before it died. The same bytes again are then answered 409
    ``identical-resubmission``, naming the submission the first upload became: that is this one, and its
    number and records are read from the gateway (counting it as lost, or sending it as new, would be wrong)."""
    retried = False
    while True:
        try:
            return client.submit(path, gateway, timeout_s=120.0, token=token, verify=verify)
        except client.ChainError as exc:
            if retried and exc.problem == "identical-resubmission":
                result.retries_already_accepted += 1
                sid = exc.details["submission_id"]
                row = _get_json_patiently(f"{gateway}/v1/submissions/{sid}", token, verify, deadline)
                return {"submission_id": sid, "sequence": row["sequence"], "records": row["records"]}
            # No answer (the gateway process died, or is being started again), or 503 while it starts.
            if (exc.status is not None and exc.status != 503) or time.monotonic() > deadline:
                raise
            if not retried:
                result.uploads_retried += 1
                retried = True
            time.sleep(0.25)


def _get_json_patiently(url: str, token: str, verify: ssl.SSLContext, deadline: float) -> dict[str, Any]:
    """GET through a gateway that may be restarting."""
    while True:
        try:
            return client.get_json(url, token, verify=verify)
        except client.ChainError as exc:
            if exc.status is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.25)


def _wait_all_final(chain: Chain, sent: list[Sent], timeout_s: float) -> dict[str, dict[str, Any]]:
    """Asked with the operator's token, which lists every municipality's submissions."""
    deadline = time.monotonic() + timeout_s
    ids = {s.submission_id for s in sent}
    url, token = f"{chain.url('gateway')}/v1/submissions", chain.operator_token
    while True:
        listed = _get_json_patiently(url, token, chain.verify, deadline)["submissions"]
        rows = {r["submission_id"]: r for r in listed}
        pending = [sid for sid in ids if rows.get(sid, {}).get("state") not in client.FINAL_STATES]
        if not pending or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


def _chain_env(
    databases: dict[str, dict[str, str]], extra_env: dict[str, dict[str, str]] | None
) -> dict[str, dict[str, str]]:
    """The services' settings for the soak: the gateway's fast retries, each service's database, then what the
    caller adds (which wins)."""
    env = {service: dict(settings) for service, settings in databases.items()}
    env.setdefault("gateway", {}).update(_GATEWAY_ENV)
    for service, values in (extra_env or {}).items():
        env.setdefault(service, {}).update(values)
    return env


def run_soak(
    state_dir: Path,
    submissions: int,
    seed: int,
    console: Console | None = None,
    *,
    max_seconds: float = 600.0,
    max_faults: int | None = None,
    database: str = "sqlite",
    postgres_url: str | None = None,
    keep_databases: bool = False,
    workers: int = 1,
    extra_env: dict[str, dict[str, str]] | None = None,
) -> SoakResult:
    """Run the soak in ``state_dir`` (created; must be new or empty) and return its figures.

    ``max_faults`` bounds the SIGKILLs (default: one per submission); ``max_seconds`` bounds the fault phase
    and the wait for the last deliveries (the chain's start-up and the checks come on top). ``workers``:
    processes per service. ``database``: ``sqlite``, or ``postgresql`` for a fresh database per service on
    ``postgres_url``'s server, dropped after the run unless ``keep_databases`` (:mod:`.databases`).
    ``extra_env``: more environment per service.
    """
    console = console or PlainConsole()
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
    result = SoakResult(submissions=submissions, state_dir=state_dir, workers=workers)
    state = RunState()
    console.print(
        f"soak: {submissions} submissions, up to {faults} SIGKILLs, {workers} process(es) per service,"
        f" seed {seed}, {database}, state in {state_dir}"
    )
    with (
        soak_databases(database, console, server_url=postgres_url, keep=keep_databases) as databases,
        Chain(state_dir, ports=ports, extra_env=_chain_env(databases, extra_env), workers=workers) as chain,
    ):
        deadline = time.monotonic() + max_seconds
        fault_deadline = deadline - min(_LAST_DELIVERIES_S, max_seconds / 3)
        killer = threading.Thread(
            target=kill_loop, args=(chain, fault_rng, state, faults, fault_deadline), name="soak-faults"
        )
        watcher = threading.Thread(target=watch, args=(chain, state, result), name="soak-watch", daemon=True)
        watcher.start()
        killer.start()
        try:
            sent = _submit_loop(chain, plan, exports_dir, state, result, faults, rng, fault_deadline)
        except BaseException:
            state.stop.set()
            raise
        finally:
            killer.join()
        result.faults.update(state.fault_counts)
        result.fault_kinds.update(state.fault_kinds)
        rows = _wait_all_final(chain, sent, max(deadline - time.monotonic(), 30.0))
        state.stop.set()
        watcher.join(timeout=30)
        verify(chain, sent, rows, result)
        result.problems.extend(state.errors)
    result.elapsed_s = time.monotonic() - started
    return result
