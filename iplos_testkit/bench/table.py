"""The bench's figures as rich tables: the run, then one row per service with its stages."""

from __future__ import annotations

from rich.table import Table

from iplos_testkit.bench.result import BenchResult
from iplos_testkit.bench.stages import StageTotals

__all__ = ["result_tables"]


def result_tables(result: BenchResult) -> list[Table]:
    """The run's figures, the services' figures, and the machine."""
    run = Table(title="iplos bench", show_header=False)
    run.add_column("figure")
    run.add_column("value", justify="right")
    for name, value in (
        ("persons", f"{result.persons:,}"),
        ("files", f"{result.files:,}"),
        ("bytes", f"{result.bytes:,} ({result.bytes / 1e6:,.0f} MB)"),
        ("generation", f"{result.generation_s:.1f} s{' (cached)' if result.generation_cached else ''}"),
        ("plain lxml read", f"{result.plain_read_s:.2f} s ({result.plain_read_cpu_s:.2f} s of CPU)"),
        ("chain wall (first upload to last final)", f"{result.wall_s:.2f} s"),
        ("[bold]ratio to the plain read[/bold]", f"[bold]{result.ratio:.2f}x[/bold]"),
        ("persons per second", f"{result.persons_per_s:,.0f}"),
        ("services' CPU / plain read's CPU", f"{result.cpu_ratio:.2f}x ({result.cpu_s_total:.1f} s)"),
        ("last upload accepted after", f"{result.accepted_s:.2f} s"),
        ("CPU of the uploading client (this process)", f"{result.client_cpu_s:.1f} s"),
        ("final states", ", ".join(f"{state} {n}" for state, n in sorted(result.states.items()))),
        ("persons accepted / stored", f"{result.records_accepted:,} / {result.records_stored:,}"),
        ("options", ", ".join(f"{k} {v}" for k, v in result.options.items())),
    ):
        run.add_row(name, value)
    if result.database_server_cpu_s is not None:
        run.add_row("CPU of the PostgreSQL server (all its processes)", f"{result.database_server_cpu_s:.1f} s")
    services = Table(title="per service (CPU of the process group, reaped children included; stages from /metrics)")
    for column in ("service", "CPU s", "CPU / plain read CPU", "peak RSS MB", "peak in", "stage", "stage s", "count"):
        services.add_column(column, justify="left" if column in {"service", "peak in", "stage"} else "right")
    for name, figures in result.services.items():
        peak = figures.peak
        stages: list[tuple[str, StageTotals | None]] = [*figures.stages.items()] or [("-", None)]
        for index, (stage, totals) in enumerate(stages):
            first = index == 0
            services.add_row(
                name if first else "",
                f"{figures.cpu_s:.1f}" if first else "",
                f"{figures.cpu_s / result.plain_read_cpu_s:.2f}x" if first else "",
                f"{peak.hwm_mb:.0f}" if first and peak else "",
                f"{peak.role} pid {peak.pid} ({len(figures.processes)} seen)" if first and peak else "",
                stage + (" (one worker's)" if figures.stages_partial else ""),
                f"{totals.seconds:.2f}" if totals else "",
                f"{totals.count}" if totals else "",
            )
    services.add_row("all", f"{result.cpu_s_total:.1f}", f"{result.cpu_ratio:.2f}x", "", "", "", "", "")
    machine = Table(title="machine", show_header=False)
    machine.add_column("what")
    machine.add_column("value")
    for key, value in result.machine.items():
        machine.add_row(key, str(value))
    return [run, services, machine]
