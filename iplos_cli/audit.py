"""``iplos audit ...``: checks an auditor runs against a running chain and the state folder it writes.

The commands parse their options, call the auditor's tools (:mod:`iplos_audit`) and print what they found; each
is self-contained, so that further audit commands can be added to ``audit_app`` without touching the others.
``main.py`` registers ``audit_app`` under ``audit``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from iplos_audit import blindness, logs
from shared.keys import PublicDirectory

audit_app = typer.Typer(help="Audits of a running chain: what each service can read, and the evidence for it.")


@audit_app.callback()
def audit() -> None:
    """Audits of a running chain: what each service can read, and the evidence for it."""
    # A callback keeps this a command group even while it has a single command: 'audit tpf-blindness ...'.


@audit_app.command("tpf-blindness")
def tpf_blindness(
    state_dir: Annotated[
        Path,
        typer.Option(
            "--state-dir", help="The chain's state folder, as 'iplos up --state-dir' wrote it (keys/, tpf/, ...)"
        ),
    ],
    gateway: Annotated[str, typer.Option(help="Gateway URL")] = "https://127.0.0.1:8001",
    tpf: Annotated[str, typer.Option(help="TPF URL")] = "https://127.0.0.1:8002",
    registry: Annotated[str, typer.Option(help="Registry URL")] = "https://127.0.0.1:8003",
    register_gateway: Annotated[
        str,
        typer.Option(
            help="The population register's gateway's URL (the register path is checked when the state folder holds"
            " its token; '' leaves it out)"
        ),
    ] = "https://127.0.0.1:8004",
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Folder for the report (.md and .html) and the canary export (default: DIR/audit-reports)"
        ),
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Seed for a reproducible canary export (and predictable canaries)")
    ] = None,
    municipality: Annotated[
        str | None,
        typer.Option(help="kommuneNr to submit the canary export as (default: the first one with a token)"),
    ] = None,
    year: Annotated[
        int,
        typer.Option(help="Reporting year of the canary export (it becomes that year's active submission)"),
    ] = blindness.DEFAULT_YEAR,
    persons: Annotated[
        int, typer.Option(help="Records in the canary export", min=1, max=1000)
    ] = blindness.DEFAULT_PERSONS,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the registry to store the canary export")] = 120.0,
) -> None:
    """Show that the TPF cannot read the payload: key custody, a canary run through the chain, import contracts,
    and the population register's path (its extract through the register's gateway).

    Writes a Markdown and an HTML report and exits 1 if any check fails. The report names findings by file,
    offset and the canary's or identity number's number in the canary export, never by value."""

    from rich.console import Console

    from iplos_chain.progress import StepProgress

    # Each step on stderr: a spinner with the time on a terminal, a plain line per step otherwise.
    try:
        with StepProgress(Console(stderr=True)) as steps:
            report = blindness.run_blindness(
                state_dir,
                gateway,
                tpf,
                registry,
                out,
                seed,
                municipality=municipality,
                year=year,
                persons=persons,
                timeout_s=timeout,
                progress=steps.step,
                register_gateway=register_gateway or None,
            )
    except blindness.BlindnessUsageError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    for line in report.summary_lines():
        typer.echo(line)
    if not report.ok:
        raise typer.Exit(1)


# -- verify and prove: the audit logs -------------------------------------------------------------------------


def _sources(
    state_dir: Path, token: str | None, urls: dict[str, str]
) -> tuple[dict[str, logs.Source], PublicDirectory]:
    try:
        return logs.open_sources(state_dir, token, urls)
    except logs.AuditUsageError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def _print_report(report: logs.Report) -> None:
    for line in report.checked:
        typer.echo(f"  ok    {line}")
    for line in report.in_flight:
        typer.echo(f"  wait  {line}")
    for line in report.discrepancies:
        typer.echo(f"  FAIL  {line}")
    typer.echo("no discrepancies" if report.ok else f"{len(report.discrepancies)} discrepancies", err=not report.ok)


StateDir = Annotated[
    Path, typer.Option("--state-dir", help="The chain's state folder: keys/directory.json and the operator token")
]
Token = Annotated[
    str | None,
    typer.Option(envvar="IPLOS_TOKEN", show_envvar=True, show_default=False, help="Operator or auditor token"),
]


@audit_app.command("verify")
def verify_command(
    gateway: Annotated[str, typer.Option(help="Gateway URL")] = "https://127.0.0.1:8001",
    tpf: Annotated[str, typer.Option(help="TPF URL")] = "https://127.0.0.1:8002",
    registry: Annotated[str, typer.Option(help="Registry URL")] = "https://127.0.0.1:8003",
    state_dir: StateDir = Path(".state"),
    token: Token = None,
    witness: Annotated[
        Path | None,
        typer.Option(
            help="Checkpoints seen on earlier runs, to catch a rewritten or forked log"
            " (default: DIR/audit-witness.json)",
        ),
    ] = None,
) -> None:
    """Verify the three audit logs (signatures, consistency, every entry) and reconcile every message across
    them; exit 1 on any discrepancy."""
    sources, directory = _sources(state_dir, token, {"gateway": gateway, "tpf": tpf, "registry": registry})
    try:
        report = logs.verify(sources, directory, witness or state_dir / "audit-witness.json")
    except logs.AuditUsageError as exc:  # a token the services refuse: the arguments, not the logs, are wrong
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        for source in sources.values():
            source.client.close()
    _print_report(report)
    if not report.ok:
        raise typer.Exit(1)


@audit_app.command("prove")
def prove_command(
    message_id: Annotated[str, typer.Argument(help="A submission (message) id")],
    gateway: Annotated[str, typer.Option(help="Gateway URL")] = "https://127.0.0.1:8001",
    tpf: Annotated[str, typer.Option(help="TPF URL")] = "https://127.0.0.1:8002",
    registry: Annotated[str, typer.Option(help="Registry URL")] = "https://127.0.0.1:8003",
    state_dir: StateDir = Path(".state"),
    token: Token = None,
) -> None:
    """Show one message's path through the chain, every step with an inclusion proof against a signed
    checkpoint; exit 1 if a proof fails or the logs disagree about it."""
    sources, directory = _sources(state_dir, token, {"gateway": gateway, "tpf": tpf, "registry": registry})
    try:
        steps, report = logs.prove(sources, directory, message_id)
    except logs.AuditUsageError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        for source in sources.values():
            source.client.close()
    table = Table(title=f"Message {message_id}")
    for column in ("log", "entry", "event", "at", "facts", "proof"):
        table.add_column(column)
    for step in steps:
        facts = ", ".join(f"{k}={_short(v)}" for k, v in step.entry.facts.items() if v is not None)
        proof = f"{step.proof_length} hashes to the root of {step.tree_size}"
        table.add_row(step.service, str(step.entry.index), step.entry.event, step.entry.at, facts, proof)
    Console(width=200).print(table)
    _print_report(report)
    if not report.ok:
        raise typer.Exit(1)


def _short(value: object) -> str:
    text = str(value)
    return f"{text[:12]}…" if len(text) == 64 else text
