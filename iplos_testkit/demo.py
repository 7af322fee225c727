"""The demo: the whole chain on this machine, from keys to the registry's feedback, in one command.

Synthetic exports carry a known share of faults (with an answer key), go through the gateway, the TPF and the
registry, and come back as control reports that only the municipality can read, by its own brukerNr. Some of the
faults are in the units that performed the services, which the registry finds in its copy of Enhetsregisteret: its
operator loads a synthetic extract of it (the real bulk files' format) before the first export arrives. One
municipality then corrects its records and resubmits: the new submission replaces the old one, with fewer
findings. Last, the population register sends its extracts through its own gateway and the same TPF, and the
registry judges two years of care against it and follows the persons from one year to the next
(:mod:`iplos_testkit.demo_register`); and each municipality reads its comparison statistics beside its county's and
the country's (:mod:`iplos_testkit.demo_comparison`).
"""

from __future__ import annotations

import shutil
import time
from collections import Counter
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from iplos_chain import REGISTER_GATEWAY, SERVICES, Chain, client, ensure_keys, free_port
from iplos_chain.report_tables import rules_table
from iplos_testkit.business_register import write_synthetic_register
from iplos_testkit.demo_comparison import run_comparison_step
from iplos_testkit.demo_register import run_register_step
from iplos_testkit.exports import write_synthetic_export

YEAR = 2025
ERROR_RATE = 0.02
# The municipality whose wrong files step 6 sends (an empty one, the same one twice, one cut short).
GUARDED = "5001"
# (kommuneNr, name, persons): sizes in proportion, not to scale.
EXPORTS = [("0301", "Oslo", 3000), ("4601", "Bergen", 2000), ("5001", "Trondheim", 1500), ("1103", "Stavanger", 1000)]
CORRECTED = "4601"


def _report_pairs(report: dict[str, Any]) -> Counter[tuple[str, str]]:
    return Counter((f["brukerNr"], f["code"]) for f in report["findings"] if f["brukerNr"])


def run_demo(state_dir: Path, console: Console) -> int:
    started = time.monotonic()
    if state_dir.exists():
        shutil.rmtree(state_dir)
    state_dir = state_dir.resolve()
    ensure_keys(state_dir, [nr for nr, _, _ in EXPORTS])
    exports = state_dir / "exports"
    exports.mkdir(parents=True)
    console.print(
        f"[bold]1. Synthetic exports[/bold] for {len(EXPORTS)} municipalities, year {YEAR}, "
        f"{ERROR_RATE:.0%} of persons with one known fault (answer keys beside them)"
    )
    files: dict[str, Path] = {}
    keys: dict[str, Counter[tuple[str, str]]] = {}
    seeds = {nr: 1000 + index for index, (nr, _, _) in enumerate(EXPORTS)}
    for nr, name, persons in EXPORTS:
        path = exports / f"{nr}-{YEAR}.xml"
        _, key = write_synthetic_export(
            path,
            nr,
            YEAR,
            persons,
            seeds[nr],
            errors=ERROR_RATE,
            answer_key=exports / f"{nr}-{YEAR}-answers.json",
            business_faults=True,
        )
        assert key is not None
        files[nr] = path
        keys[nr] = Counter((bruker_nr, code) for bruker_nr, codes in key.records.items() for code in codes)
        console.print(
            f"   {nr} {name:10} {persons:5} persons  {path.stat().st_size / 1e6:5.1f} MB  {len(key.records)} faults"
        )
    corrected = exports / f"{CORRECTED}-{YEAR}-corrected.xml"
    persons_corrected = dict((nr, p) for nr, _, p in EXPORTS)[CORRECTED]
    write_synthetic_export(corrected, CORRECTED, YEAR, persons_corrected, seeds[CORRECTED])

    chain = Chain(state_dir, ports={s: free_port() for s in (*SERVICES, REGISTER_GATEWAY)}, register=True)
    console.print(
        "[bold]2. Services[/bold] as three uvicorn processes on loopback, over mutual TLS, and the population"
        " register's gateway beside them"
    )
    with chain:
        for service in chain.services:
            console.print(f"   {service:16} {chain.url(service)}")
        gateway = chain.url("gateway")
        verify = chain.verify  # the services speak TLS with the chain's development CA
        business = _load_business_register(console, chain, state_dir / "enheter")
        # Each municipality submits and reads its reports with its own credential, as it would in production.
        tokens = chain.municipality_tokens()
        console.print("[bold]3. Submissions[/bold] through the gateway, each with its municipality's credential")
        chain_started = time.monotonic()
        first = {nr: client.submit(path, gateway, token=tokens[nr], verify=verify) for nr, path in files.items()}
        finals = [
            client.wait_final(gateway, a["submission_id"], token=tokens[nr], verify=verify) for nr, a in first.items()
        ]
        chain_seconds = time.monotonic() - chain_started
        records = sum(f["records"] for f in finals)
        console.print(
            f"   {len(finals)} submissions, {records} records stored in {chain_seconds:.1f} s "
            f"({records / chain_seconds:.0f} records/s, gateway to registry receipt)"
        )

        console.print("[bold]4. Control reports[/bold], sealed for each municipality, read at its gateway by brukerNr")
        reports = {
            nr: client.get_json(f"{gateway}/v1/submissions/{a['submission_id']}/report", tokens[nr], verify=verify)
            for nr, a in first.items()
        }
        table = Table(title="Findings per municipality")
        for column in ("municipality", "records", "findings", "faults injected", "every fault found, nothing else"):
            table.add_column(column)
        matched = {}
        for nr, report in reports.items():
            matched[nr] = _report_pairs(report) == keys[nr] and not any(
                f["brukerNr"] is None for f in report["findings"]
            )
            table.add_row(
                nr,
                str(report["records"]),
                str(report["finding_count"]),
                str(sum(keys[nr].values())),
                "[green]yes[/green]" if matched[nr] else "[red]no[/red]",
            )
        console.print(table)
        console.print(rules_table(reports[CORRECTED]["counts"], title=f"Municipality {CORRECTED}: findings by rule"))
        example = reports[CORRECTED]["findings"][0]
        console.print(
            f"   e.g. brukerNr {example['brukerNr']}: {example['code']} {example['title']} "
            f"({example['field']}{': ' + example['detail'] if example['detail'] else ''})"
        )

        console.print(f"[bold]5. Municipality {CORRECTED} corrects the flagged records and resubmits[/bold]")
        second = client.submit(corrected, gateway, token=tokens[CORRECTED], verify=verify)
        final = client.wait_final(gateway, second["submission_id"], token=tokens[CORRECTED], verify=verify)
        finals.append(final)
        report_url = f"{gateway}/v1/submissions/{second['submission_id']}/report"
        after = client.get_json(report_url, tokens[CORRECTED], verify=verify)
        console.print(
            f"   {second['submission_id']}: {final['state']}, replaces {final['receipt']['supersedes']}; "
            f"findings {reports[CORRECTED]['finding_count']} -> {after['finding_count']}"
        )
        guard = _wrong_files(console, gateway, tokens[GUARDED], exports, files[GUARDED], verify)
        register = run_register_step(console, chain, [nr for nr, _, _ in EXPORTS], state_dir / "population")
        compared = run_comparison_step(console, chain, [nr for nr, _, _ in EXPORTS], register)
        registry_url = f"{chain.url('registry')}/v1/submissions?year={YEAR}"
        registry = client.get_json(registry_url, chain.operator_token, verify=verify)["submissions"]

    table = Table(title=f"Registry after the demo (reporting year {YEAR})")
    for column in ("municipality", "year", "active submission", "records stored", "findings", "superseded submission"):
        table.add_column(column, no_wrap=True)
    active = [s for s in registry if s["status"] == "active"]
    for row in sorted(active, key=lambda s: s["municipality"]):
        table.add_row(
            row["municipality"],
            str(row["year"]),
            row["submission_id"],
            str(row["records"]),
            str(row.get("findings", "")),
            row["supersedes"] or "-",
        )
    console.print(table)
    console.print(f"demo total {time.monotonic() - started:.1f} s")
    failed = [f for f in finals if f["state"] != "stored"]
    ok = (
        not failed
        and all(matched.values())
        and {s["municipality"] for s in active} == set(files)
        and len(active) == len(files)
        and any(s["municipality"] == CORRECTED and s["supersedes"] == first[CORRECTED]["submission_id"] for s in active)
        and after["finding_count"] < reports[CORRECTED]["finding_count"]
        and guard
        and register.ok
        and compared
        and business
        and any(s["municipality"] == GUARDED and s["submission_id"] == first[GUARDED]["submission_id"] for s in active)
    )
    if not ok:
        console.print("[red]the demo did not end as expected[/red]")
        for final in failed:
            console.print(f"   {final['submission_id']}: {final['state']} ({final['last_error']})")
        return 1
    console.print(f"[green]ok[/green]: state, logs, databases, exports and answer keys are in {state_dir}")
    return 0


def _load_business_register(console: Console, chain: Chain, directory: Path) -> bool:
    """The registry's operator loads the synthetic Enhetsregisteret, as `iplos registers load-enheter` does: the main
    units, then the sub-units (both gzipped CSV, as Brønnøysundregistrene serves them). Whether both loaded."""
    paths = write_synthetic_register(directory)
    loaded = []
    for path in paths.values():
        load = client.load_business_register(
            path, chain.url("registry"), token=chain.operator_token, verify=chain.verify
        )
        loaded.append(load)
        console.print(f"   Enhetsregisteret: {load['unit_count']} {load['kind']} units loaded from {path.name}")
    return sorted(load["kind"] for load in loaded) == ["enhet", "underenhet"]


def _wrong_files(console: Console, gateway: str, token: str, exports: Path, sent: Path, verify: client.Verify) -> bool:
    """Step 6: no single wrong file erases the year. Returns whether each answer was the expected one."""
    console.print(f"[bold]6. Wrong files from municipality {GUARDED}[/bold]: none of them changes its year")
    empty, cut = exports / f"{GUARDED}-{YEAR}-empty.xml", exports / f"{GUARDED}-{YEAR}-cut-short.xml"
    write_synthetic_export(empty, GUARDED, YEAR, 0, 1)
    persons = dict((nr, p) for nr, _, p in EXPORTS)[GUARDED]
    write_synthetic_export(cut, GUARDED, YEAR, persons // 10, 7)
    expected = {"an empty export": "empty-export", "the same file again": "identical-resubmission"}
    seen = {}
    for what, path in (("an empty export", empty), ("the same file again", sent)):
        try:
            client.submit(path, gateway, token=token, verify=verify)
            seen[what] = "accepted"
        except client.ChainError as exc:
            seen[what] = exc.problem or str(exc)
        console.print(f"   {what}: refused at the gateway ({seen[what]})")
    cut_id = client.submit(cut, gateway, token=token, verify=verify)["submission_id"]
    held = client.wait_final(gateway, cut_id, token=token, verify=verify)
    console.print(
        f"   a tenth of the persons ({persons // 10}): {held['state']} by the registry, the active year stays;"
        f" it applies only if the municipality confirms (iplos confirm {held['submission_id']})"
    )
    return seen == expected and held["state"] == "held"
