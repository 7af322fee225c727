"""The tooling's one right to open a payload is narrow: one module, the opener only, written in the import
contract, and no other tooling module imports the opener or the registry's key loader."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOOLING = ("iplos_cli", "iplos_chain", "iplos_testkit", "iplos_audit")
OPENER = "shared.envelope.payload_open"
EXCEPTION_MODULE = "iplos_audit.blindness.canary_envelope"


def _contract() -> dict[str, object]:
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    [contract] = [c for c in contracts["contracts"] if c["name"].startswith("Only the registry opens payloads")]
    return contract


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_the_contract_covers_all_tooling_with_one_exception() -> None:
    contract = _contract()
    assert set(TOOLING) <= set(contract["source_modules"])  # type: ignore[call-overload]
    assert contract["ignore_imports"] == [f"{EXCEPTION_MODULE} -> {OPENER}"]
    assert (ROOT / (EXCEPTION_MODULE.replace(".", "/") + ".py")).is_file()


def test_only_the_canary_envelope_module_imports_the_opener() -> None:
    openers, key_readers = [], []
    for package in TOOLING:
        for path in sorted((ROOT / package).rglob("*.py")):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            imports = _imports(path)
            if any(name == OPENER or name.startswith(OPENER + ".") for name in imports):
                openers.append(module)
            if any(name == "shared.keys.registry" or name.startswith("shared.keys.registry.") for name in imports):
                key_readers.append(module)
    assert openers == [EXCEPTION_MODULE]
    assert key_readers == []
