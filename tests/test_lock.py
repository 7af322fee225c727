"""The committed lock is the one made from today's dependency ranges, and it pins every dependency they name."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "requirements"))
from inputs_digest import PREFIX, inputs_digest  # noqa: E402 - a script beside the lock, not a package

LOCKS = (ROOT / "requirements-dev.txt", ROOT / "requirements.txt")


def _name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0]).lower()


def _pins(lock: Path) -> dict[str, str]:
    return {
        _name(m.group(1)): m.group(2)
        for m in re.finditer(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+) \\$", lock.read_text(encoding="utf-8"), re.M)
    }


def test_the_lock_was_made_from_the_current_ranges() -> None:
    lines = [line for line in (ROOT / "requirements-dev.txt").read_text().splitlines() if line.startswith(PREFIX)]
    assert lines == [PREFIX + inputs_digest()], "pyproject.toml's ranges or requirements/*.in changed: run make lock"


def test_every_dependency_is_pinned_with_hashes() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = {_name(r) for r in project["dependencies"]}
    dev = runtime | {_name(r) for r in project["optional-dependencies"]["dev"]}
    assert dev <= set(_pins(LOCKS[0]))
    assert runtime <= set(_pins(LOCKS[1]))
    for lock in LOCKS:
        text = lock.read_text(encoding="utf-8")
        assert text.count("==") == len(_pins(lock)) > 0
        assert all(block.count("--hash=sha256:") for block in re.split(r"^(?=[A-Za-z0-9])", text, flags=re.M)[1:])
    # The runtime lock pins the same versions as the full one (it is compiled constrained by it).
    full = _pins(LOCKS[0])
    assert all(full[name] == version for name, version in _pins(LOCKS[1]).items())
