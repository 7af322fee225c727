"""The demo: the whole chain on this machine, from keys to a per-municipality summary, in one command."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from iplos_cli import client
from iplos_cli.chain import Chain, ensure_keys, free_port
from shared.iplos.generator import generate_export

YEAR = 2025
# (kommuneNr, name, persons): sizes in proportion, not to scale.
EXPORTS = [("0301", "Oslo", 3000), ("4601", "Bergen", 2000), ("5001", "Trondheim", 1500), ("1103", "Stavanger", 1000)]
RESUBMITTED = "4601"


def run_demo(state_dir: Path, console: Console) -> int:
    started = time.monotonic()
    if state_dir.exists():
        shutil.rmtree(state_dir)
    state_dir = state_dir.resolve()
    ensure_keys(state_dir, [nr for nr, _, _ in EXPORTS])
    exports = state_dir / "exports"
    exports.mkdir(parents=True)
    console.print(f"[bold]1. Synthetic exports[/bold] for {len(EXPORTS)} municipalities, year {YEAR}")
    files: list[tuple[str, Path]] = []
    for index, (nr, name, persons) in enumerate(EXPORTS):
        path = exports / f"{nr}-{YEAR}.xml"
        with path.open("wb") as handle:
            generate_export(nr, YEAR, persons, 1000 + index, handle)
        files.append((nr, path))
        console.print(f"   {nr} {name:10} {persons:5} persons  {path.stat().st_size / 1e6:5.1f} MB")
    changed = exports / f"{RESUBMITTED}-{YEAR}-corrected.xml"
    seed = 1000 + [nr for nr, _, _ in EXPORTS].index(RESUBMITTED)
    with changed.open("wb") as handle:
        generate_export(RESUBMITTED, YEAR, dict((nr, p) for nr, _, p in EXPORTS)[RESUBMITTED], seed, handle, vary=1)

    chain = Chain(state_dir, ports={s: free_port() for s in ("gateway", "tpf", "registry")})
    console.print("[bold]2. Services[/bold] as three uvicorn processes on loopback")
    with chain:
        for service in ("gateway", "tpf", "registry"):
            console.print(f"   {service:9} {chain.url(service)}")
        gateway = chain.url("gateway")
        console.print("[bold]3. Submissions[/bold] through the gateway")
        chain_started = time.monotonic()
        submitted: list[dict[str, Any]] = []
        for nr, path in files:
            accepted = client.submit(path, gateway)
            submitted.append(accepted)
            console.print(f"   {nr}: {accepted['submission_id']} accepted, sequence {accepted['sequence']}")
        for accepted in submitted:
            client.wait_final(gateway, accepted["submission_id"])
        accepted = client.submit(changed, gateway)
        submitted.append(accepted)
        console.print(
            f"   {RESUBMITTED}: {accepted['submission_id']} accepted, sequence {accepted['sequence']} "
            "(corrected data for the same year)"
        )
        finals = [client.wait_final(gateway, s["submission_id"]) for s in submitted]
        chain_seconds = time.monotonic() - chain_started
        registry = client.get_json(f"{chain.url('registry')}/v1/submissions?year={YEAR}")["submissions"]

    failed = [f for f in finals if f["state"] != "stored"]
    records = sum(f["records"] for f in finals)
    table = Table(title=f"Registry after the demo (reporting year {YEAR})")
    for column in ("municipality", "year", "active submission", "records stored", "superseded submission"):
        table.add_column(column, no_wrap=True)
    active = [s for s in registry if s["status"] == "active"]
    for row in sorted(active, key=lambda s: s["municipality"]):
        table.add_row(
            row["municipality"], str(row["year"]), row["submission_id"], str(row["records"]), row["supersedes"] or "-"
        )
    console.print(table)
    superseded = [s for s in registry if s["status"] == "superseded"]
    console.print(
        f"{len(finals)} submissions, {records} records through the chain in {chain_seconds:.1f} s "
        f"({records / chain_seconds:.0f} records/s); {len(superseded)} superseded; "
        f"demo total {time.monotonic() - started:.1f} s"
    )
    expected_active = {nr for nr, _, _ in EXPORTS}
    ok = (
        not failed
        and {s["municipality"] for s in active} == expected_active
        and len(active) == len(expected_active)
        and any(s["municipality"] == RESUBMITTED and s["supersedes"] for s in active)
    )
    if not ok:
        console.print("[red]the demo did not end as expected[/red]")
        for final in failed:
            console.print(f"   {final['submission_id']}: {final['state']} ({final['last_error']})")
        return 1
    console.print(f"[green]ok[/green]: state, logs and databases are in {state_dir}")
    return 0
