"""A private module (a name starting with ``_``) is imported only from inside its own package: the package's
``__init__`` says what the rest of the project may use (httpx's rule). The import contracts then see every way
into a package, with no back door through a private module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("services", "shared", "keys", "iplos_cli", "iplos_chain", "iplos_testkit", "iplos_audit")


def _modules() -> list[Path]:
    return sorted(path for package in PACKAGES for path in (ROOT / package).rglob("*.py"))


def _private_imports(path: Path, source: str | None = None) -> list[tuple[int, str]]:
    """(line, module) for every import of a private module from outside the package that holds it."""
    own_package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found = []
    for node in ast.walk(ast.parse(source if source is not None else path.read_text(encoding="utf-8"))):
        names = [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            private = [i for i, part in enumerate(parts) if part.startswith("_") and not part.startswith("__")]
            if private and not own_package.startswith(".".join(parts[: private[0]])):
                found.append((node.lineno, name))
    return found


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_private_module_is_imported_from_outside_its_package(path: Path) -> None:
    assert _private_imports(path) == []


def test_the_check_finds_a_private_import() -> None:
    source = "from shared.envelope._canonical import canonical_json\nfrom shared.envelope import PartContext\n"
    # In services/kit the first line reaches into shared.envelope's private module; inside shared.envelope it may.
    assert _private_imports(ROOT / "services" / "kit" / "example.py", source) == [(1, "shared.envelope._canonical")]
    assert _private_imports(ROOT / "shared" / "envelope" / "example.py", source) == []
