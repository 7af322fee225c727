"""Every package of the common library, the kit and the test kit that keeps private modules (``_name.py``) says
in its ``__all__`` exactly what the rest of the project may use (httpx's checked ``__all__``): each listed name
exists, and nothing public reaches the package's namespace without being listed (a stray import would otherwise
become part of the surface unnoticed)."""

from __future__ import annotations

import importlib
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TREES = ("shared", "services/kit", "iplos_testkit")
# ``from __future__ import annotations`` leaves a name ``annotations`` of this type behind.
_FUTURE_FEATURE = type(importlib.import_module("__future__").annotations)


def _packages_with_private_modules() -> list[str]:
    found = []
    for tree in TREES:
        for init in sorted((ROOT / tree).rglob("__init__.py")):
            folder = init.parent
            if any(p.name.startswith("_") and p.name != "__init__.py" and p.suffix == ".py" for p in folder.iterdir()):
                found.append(".".join(folder.relative_to(ROOT).parts))
    return found


def _public_names(module: types.ModuleType) -> set[str]:
    """Names a ``from package import *`` would offer without ``__all__``, less submodules and __future__ flags."""
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and not isinstance(value, _FUTURE_FEATURE)
    }


PACKAGES = _packages_with_private_modules()


def test_the_packages_are_found() -> None:
    # The split packages (and the envelope's older one) are among them: the test is not vacuous.
    assert {"shared.envelope", "shared.iplos.reader", "shared.iplos.payload", "shared.iplos.controls"} <= set(PACKAGES)
    assert {"iplos_testkit.generator", "iplos_testkit.faults"} <= set(PACKAGES)


@pytest.mark.parametrize("name", PACKAGES)
def test_all_lists_exactly_the_public_names(name: str) -> None:
    package = importlib.import_module(name)
    listed = getattr(package, "__all__", None)
    assert listed is not None, f"{name} has private modules but no __all__"
    assert len(listed) == len(set(listed)), f"{name}.__all__ lists a name twice"
    assert [n for n in listed if not hasattr(package, n)] == [], f"{name}.__all__ lists names it does not define"
    assert sorted(_public_names(package) - set(listed)) == [], f"{name} exports names missing from __all__"


def test_the_check_finds_a_stray_name() -> None:
    module = types.ModuleType("example")
    module.__dict__.update(__all__=["listed"], listed=1, stray=2, _private=3, types=types)
    assert _public_names(module) - set(module.__all__) == {"stray"}
