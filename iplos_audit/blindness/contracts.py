"""Check 3, the import contracts: ``lint-imports`` with the project's own contracts, each KEPT or BROKEN.

Kept contracts prove nothing if the one that matters was deleted, so one of them must forbid the TPF the
payload opener and the registry's key loader.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from iplos_audit.blindness.progress import Progress, quiet

__all__ = ["ImportContracts", "check_import_contracts", "project_root"]

_REQUIRED_TPF_FORBIDDEN: Final = ("shared.envelope.payload_open", "shared.keys.registry")


@dataclass
class ImportContracts:
    command: str = ""
    config: str | None = None
    returncode: int | None = None
    contracts: list[tuple[str, str]] = field(default_factory=list)
    output_tail: str = ""
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and bool(self.contracts) and all(status == "KEPT" for _, status in self.contracts)

    def summary(self) -> str:
        if self.errors:
            return self.errors[0]
        broken = [name for name, status in self.contracts if status != "KEPT"]
        if broken:
            return f"{len(broken)} broken: {'; '.join(broken)}"
        return f"{len(self.contracts)} kept, 0 broken"


def project_root() -> Path:
    """The source tree the installed ``iplos_audit`` package runs from (an editable install: the repository)."""
    return Path(__file__).resolve().parents[2]  # iplos_audit/blindness/contracts.py


def _lint_imports_executable() -> str | None:
    beside = Path(sys.executable).parent / "lint-imports"
    if beside.is_file():
        return str(beside)
    return shutil.which("lint-imports")


def _words(text: str) -> str:
    return " ".join(text.split())


def check_import_contracts(progress: Progress = quiet) -> ImportContracts:
    result = ImportContracts()
    root = project_root()
    config = root / "pyproject.toml"
    result.config = config.as_posix()
    try:
        document = tomllib.loads(config.read_text(encoding="utf-8"))
        declared: list[dict[str, Any]] = document["tool"]["importlinter"]["contracts"]
        names = [str(contract["name"]) for contract in declared]
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError) as exc:
        result.errors.append(f"the project's import contracts could not be read from {config} ({type(exc).__name__})")
        return result
    # Kept contracts prove nothing if the one that matters was deleted: the TPF must be forbidden the payload
    # opener and the registry's key loader by some contract.
    guarding = [
        c
        for c in declared
        if c.get("type") == "forbidden"
        and "services.tpf" in c.get("source_modules", [])
        and all(m in c.get("forbidden_modules", []) for m in _REQUIRED_TPF_FORBIDDEN)
    ]
    if not guarding:
        result.errors.append(
            "no import contract forbids services.tpf from importing " + " and ".join(_REQUIRED_TPF_FORBIDDEN)
        )
    executable = _lint_imports_executable()
    if executable is None:
        result.errors.append("lint-imports is not installed (pip install -e '.[dev]')")
        return result
    command = [executable, "--config", str(config), "--no-logo", "--no-cache"]
    result.command = " ".join(["lint-imports", *command[1:]])
    progress("import contracts: running lint-imports")
    # A wide, colourless terminal: rich would otherwise wrap long contract names over lines.
    env = {**os.environ, "COLUMNS": "10000", "NO_COLOR": "1", "TERM": "dumb"}
    try:
        completed = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=300, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        result.errors.append(f"lint-imports could not be run ({type(exc).__name__})")
        return result
    result.returncode = completed.returncode
    output = _words(completed.stdout + "\n" + completed.stderr)
    result.output_tail = "\n".join((completed.stdout + completed.stderr).strip().splitlines()[-40:])
    for name in names:
        match = re.search(re.escape(_words(name)) + r" (KEPT|BROKEN)\b", output)
        result.contracts.append((name, match.group(1) if match else "NOT REPORTED"))
    missing = [name for name, status in result.contracts if status == "NOT REPORTED"]
    if missing:
        result.errors.append(f"lint-imports did not report on {len(missing)} contract(s): {'; '.join(missing)}")
    all_kept = all(status == "KEPT" for _, status in result.contracts)
    if (completed.returncode == 0) != all_kept:
        result.errors.append(f"lint-imports exited {completed.returncode}, which contradicts its contract lines")
    return result
