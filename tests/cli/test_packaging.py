"""What is installed: every top-level package of the repository is in the distribution and in the image, each
under a name of its own (nothing generic lands in site-packages), and the ``iplos`` script is the command line."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
NOT_INSTALLED = {"tests"}
# Names a reader can place: the product's three, and the tooling's, each prefixed with the project's name.
PRODUCT = {"shared", "services", "keys"}


def _top_level_packages() -> set[str]:
    return {
        p.parent.name
        for p in ROOT.glob("*/__init__.py")
        if p.parent.name not in NOT_INSTALLED and not p.parent.name.startswith(".")
    }


def test_every_top_level_package_is_installed() -> None:
    include = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = _top_level_packages()
    assert {"iplos_cli", "iplos_chain", "iplos_testkit", "iplos_audit"} <= packages
    for package in sorted(packages):
        assert any(fnmatch.fnmatch(package, pattern) for pattern in include), f"{package} is not installed"


def test_tooling_packages_carry_the_project_name() -> None:
    for package in sorted(_top_level_packages() - PRODUCT):
        assert package.startswith("iplos_"), package


def test_the_image_copies_every_installed_package() -> None:
    """``iplos serve`` runs in the image, and the command line imports its packages: one missing from the image
    fails there, not here, unless this checks it."""
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text(encoding="utf-8")
    copied = set(re.findall(r"^COPY ([a-z_]+) \./\1$", dockerfile, flags=re.MULTILINE))
    assert copied == _top_level_packages()


def test_the_iplos_script_is_the_command_line() -> None:
    assert PYPROJECT["project"]["scripts"] == {"iplos": "iplos_cli.main:app"}
