""":func:`run_blindness`: the three checks against a running chain, and the report written."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from iplos_audit.blindness.canaries import DEFAULT_PERSONS, DEFAULT_YEAR
from iplos_audit.blindness.canary_run import run_canaries
from iplos_audit.blindness.contracts import check_import_contracts
from iplos_audit.blindness.key_custody import check_key_custody
from iplos_audit.blindness.progress import Progress, quiet
from iplos_audit.blindness.register_run import RegisterRun, run_register
from iplos_audit.blindness.report import REPORT_STEM, BlindnessReport

__all__ = ["BlindnessUsageError", "default_out_dir", "run_blindness"]


class BlindnessUsageError(ValueError):
    """The arguments cannot describe a chain to audit (no state folder, a report folder inside a service's)."""


def default_out_dir(state_dir: Path) -> Path:
    return state_dir / "audit-reports"


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def run_blindness(
    state_dir: Path,
    gateway: str,
    tpf: str,
    registry: str,
    out_dir: Path | None = None,
    seed: int | None = None,
    *,
    municipality: str | None = None,
    year: int = DEFAULT_YEAR,
    persons: int = DEFAULT_PERSONS,
    timeout_s: float = 120.0,
    progress: Progress = quiet,
    register_gateway: str | None = None,
) -> BlindnessReport:
    """Run the checks and write the report (Markdown and HTML) into ``out_dir`` (default
    ``state_dir/audit-reports``), with the canary export beside it. With ``register_gateway`` (the population
    register's gateway's URL) the register path is checked too, if the state folder holds the register's token."""
    if not state_dir.is_dir():
        raise BlindnessUsageError(f"{state_dir} is not a folder ('iplos up --state-dir' writes one)")
    out_dir = out_dir if out_dir is not None else default_out_dir(state_dir)
    for service in ("tpf", "registry"):
        # The export holds the canaries and identity numbers: inside a service's folder it would be found there.
        if _inside(out_dir, state_dir / service):
            raise BlindnessUsageError(f"the report folder must not be inside the {service}'s state folder")
    started = dt.datetime.now(dt.UTC)
    stamp = started.strftime("%Y%m%dT%H%M%S%fZ")
    canary_run = run_canaries(
        state_dir,
        gateway,
        tpf,
        registry,
        out_dir / f"{REPORT_STEM}-{stamp}-export.xml",
        seed=seed,
        municipality=municipality,
        year=year,
        persons=persons,
        timeout_s=timeout_s,
        progress=progress,
    )
    register_run = (
        run_register(
            state_dir,
            register_gateway,
            tpf,
            registry,
            out_dir / f"{REPORT_STEM}-{stamp}-extract.jsonl",
            municipality=canary_run.municipality or "0301",
            year=year,
            seed=seed,
            timeout_s=timeout_s,
            progress=progress,
        )
        if register_gateway
        else RegisterRun(applicable=False, notes=["not run: no population register gateway was given"])
    )
    # After the canary runs, so that whatever the TPF wrote while it handled them is looked at for keys too.
    key_custody = check_key_custody(state_dir, progress)
    contracts = check_import_contracts(progress)
    report = BlindnessReport(
        state_dir=state_dir,
        gateway=gateway,
        tpf=tpf,
        registry=registry,
        seed=seed,
        started_at=started,
        key_custody=key_custody,
        canary_run=canary_run,
        import_contracts=contracts,
        register_run=register_run,
        register_gateway=register_gateway,
        finished_at=dt.datetime.now(dt.UTC),
    )
    report.write(out_dir, stamp)
    return report
