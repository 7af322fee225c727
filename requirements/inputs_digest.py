"""The SHA-256 of what the lock is made from: pyproject.toml's dependency ranges (runtime, optional, build) and the
files in this folder. `make lock` writes it into requirements-dev.txt; tests/test_lock.py checks that it still
matches, so a change to a range cannot land without the lock refreshed for it (other edits to pyproject.toml can).
"""

from __future__ import annotations

import hashlib
import json
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PREFIX = "# lock inputs sha256: "


def inputs_digest(root: Path = ROOT) -> str:
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    inputs = {
        "dependencies": project["project"]["dependencies"],
        "optional-dependencies": project["project"].get("optional-dependencies", {}),
        "build-system": project["build-system"]["requires"],
        "requires-python": project["project"]["requires-python"],
        **{p.name: p.read_text(encoding="utf-8") for p in sorted((root / "requirements").glob("*.in"))},
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


if __name__ == "__main__":
    sys.stdout.write(PREFIX + inputs_digest() + "\n")
