""":func:`run_bench`: the year (cached), one plain read of it, then the three real services with it, measured."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from iplos_chain import Chain, ensure_keys, free_port
from iplos_chain.apps import SERVICES
from iplos_testkit.bench.machine import describe_machine
from iplos_testkit.bench.plain_read import plain_read
from iplos_testkit.bench.processes import PeakWatch, family_cpu_s, group_cpu_s, postmaster_pid
from iplos_testkit.bench.result import BenchResult, ServiceFigures
from iplos_testkit.bench.stages import scrape_stages, stage_difference
from iplos_testkit.bench.uploads import deliver_year
from iplos_testkit.bench.year import DEFAULT_CACHE, BenchYear, bench_year
from iplos_testkit.soak.databases import soak_databases
from iplos_testkit.soak.result import Console

__all__ = ["BenchOptions", "run_bench"]

#: The order a submission passes the services, for the result.
_SHOWN: Final = ("gateway", "tpf", "registry")


@dataclass(frozen=True)
class BenchOptions:
    municipalities: int = 357
    persons: int = 350_000
    seed: int = 1
    workers: int = 1
    """Processes per service."""
    database: str = "sqlite"
    postgres_url: str | None = None
    concurrency: int = 4
    """Uploads in flight at once."""
    cache: Path = DEFAULT_CACHE
    state_dir: Path | None = None
    """The chain's state (default: a new temporary folder, removed afterwards)."""
    poll_s: float = 1.0
    """How often the gateway's list is read while waiting for the final states."""
    timeout_s: float = 7200.0


def run_bench(options: BenchOptions, console: Console) -> BenchResult:
    """Run the bench and return its figures; raises if the chain cannot take the year (an upload refused, a
    service that does not start, final states not reached in time)."""
    year = bench_year(options.cache, municipalities=options.municipalities, persons=options.persons, seed=options.seed)
    how = (
        f"reused from the cache (generated in {year.generation_s:.1f} s)"
        if year.cached
        else (f"generated in {year.generation_s:.1f} s")
    )
    console.print(
        f"bench: {year.persons:,} persons in {len(year.files)} files, {year.bytes / 1e6:,.0f} MB, {how}, in"
        f" {year.folder}",
        markup=False,
    )
    plain_persons, plain_s, plain_cpu_s = plain_read(f.path for f in year.files)
    console.print(
        f"bench: one plain lxml read of the files: {plain_s:.2f} s, {plain_cpu_s:.2f} s of CPU"
        f" ({plain_persons:,} persons)"
    )
    state_dir = options.state_dir or Path(tempfile.mkdtemp(prefix="iplos-bench-"))
    try:
        return _through_chain(options, year, (plain_persons, plain_s, plain_cpu_s), state_dir.resolve(), console)
    finally:
        if options.state_dir is None:
            shutil.rmtree(state_dir, ignore_errors=True)


def _through_chain(
    options: BenchOptions, year: BenchYear, plain: tuple[int, float, float], state_dir: Path, console: Console
) -> BenchResult:
    plain_persons, plain_s, plain_cpu_s = plain
    # Keys for every municipality of the year: about a second for 357, made before the clock starts.
    ensure_keys(state_dir, [f.municipality for f in year.files])
    ports = {service: free_port() for service in SERVICES}
    with (
        soak_databases(options.database, console, server_url=options.postgres_url) as databases,
        Chain(state_dir, ports=ports, extra_env=databases, workers=options.workers) as chain,
    ):
        postgres = databases.get("registry", {}).get("IPLOS_REGISTRY_DATABASE_URL")
        machine = describe_machine(postgres)
        groups = {service: chain.processes[service].pid for service in _SHOWN}
        token = chain.operator_token
        stages_before = {s: scrape_stages(chain.url(s), token, chain.verify) for s in _SHOWN}
        cpu_before = {s: group_cpu_s(pgid) for s, pgid in groups.items()}
        # On PostgreSQL part of the registry's work runs in the server's backends: counted apart, for the local
        # server only, and shared with whatever else uses it meanwhile.
        server = postmaster_pid() if postgres is not None else None
        server_before = family_cpu_s(server) if server is not None else 0.0
        watch = PeakWatch(groups, several_workers=options.workers > 1)
        watch.start()
        console.print(
            f"bench: {len(year.files)} uploads, {options.concurrency} in flight, {options.workers} process(es) per"
            f" service, {options.database}"
        )
        try:
            client_cpu = time.process_time()
            delivered = deliver_year(
                chain,
                year.files,
                concurrency=options.concurrency,
                poll_s=options.poll_s,
                timeout_s=options.timeout_s,
                progress=lambda line: console.print(f"bench: {line}"),
            )
            client_cpu = time.process_time() - client_cpu
        finally:
            watch.stop()
        cpu_after = {s: group_cpu_s(pgid) for s, pgid in groups.items()}
        server_cpu = family_cpu_s(server) - server_before if server is not None else None
        stages_after = {s: scrape_stages(chain.url(s), token, chain.verify) for s in _SHOWN}
    services = {
        s: ServiceFigures(
            cpu_s=cpu_after[s] - cpu_before[s],
            peak=watch.peaks[s].peak,
            processes=sorted(watch.peaks[s].processes.values(), key=lambda p: p.pid),
            stages=stage_difference(stages_before[s], stages_after[s]),
            stages_partial=options.workers > 1,
        )
        for s in _SHOWN
    }
    rows = delivered.final.values()
    return BenchResult(
        options=_shown_options(options),
        machine=machine,
        files=len(year.files),
        persons=year.persons,
        bytes=year.bytes,
        generation_s=year.generation_s,
        generation_cached=year.cached,
        plain_read_s=plain_s,
        plain_read_cpu_s=plain_cpu_s,
        plain_read_persons=plain_persons,
        wall_s=delivered.last_final - delivered.started,
        accepted_s=delivered.last_accepted - delivered.started,
        client_cpu_s=client_cpu,
        database_server_cpu_s=server_cpu,
        states=dict(Counter(row["state"] for row in rows)),
        records_accepted=sum(int(a["records"]) for a in delivered.accepted.values()),
        records_stored=sum(int((row.get("receipt") or {}).get("records_stored", 0)) for row in rows),
        services=services,
    )


def _shown_options(options: BenchOptions) -> dict[str, Any]:
    return {
        "municipalities": options.municipalities,
        "persons": options.persons,
        "seed": options.seed,
        "workers": options.workers,
        "database": options.database,
        "concurrency": options.concurrency,
        "poll_s": options.poll_s,
    }
