"""Keys for the envelope, key and pseudonym tests: one ``init_keys`` run per session, loaded per party."""

from __future__ import annotations

from pathlib import Path

import pytest

from keys.generate import DIRECTORY_FILE, MUNICIPALITIES_FOLDER, init_keys
from shared.keys import PartyKeys, PublicDirectory
from shared.keys.municipality import load_municipality_keys
from shared.keys.registry import load_registry_keys
from shared.keys.tpf import TpfKeys, load_tpf_keys

KOMMUNER = ("0301", "4601")


@pytest.fixture(scope="session")
def key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("keys") / "chain"
    init_keys(folder, list(KOMMUNER))
    return folder


@pytest.fixture(scope="session")
def directory(key_dir: Path) -> PublicDirectory:
    return PublicDirectory.load(key_dir / DIRECTORY_FILE)


@pytest.fixture(scope="session")
def tpf(key_dir: Path) -> TpfKeys:
    return load_tpf_keys(key_dir / "tpf")


@pytest.fixture(scope="session")
def registry(key_dir: Path) -> PartyKeys:
    return load_registry_keys(key_dir / "registry")


@pytest.fixture(scope="session")
def oslo(key_dir: Path) -> PartyKeys:
    return load_municipality_keys(key_dir / MUNICIPALITIES_FOLDER / "kommune-0301", "0301")


@pytest.fixture(scope="session")
def bergen(key_dir: Path) -> PartyKeys:
    # 4601 is Bergen: a second municipality, for "signed by another party" cases.
    return load_municipality_keys(key_dir / MUNICIPALITIES_FOLDER / "kommune-4601", "4601")
