"""What the TPF does with each identity number: a pseudonym, or a refusal by reference and rule."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import IO

import pytest

from iplos_chain import ensure_keys
from iplos_testkit.exports import write_synthetic_export
from services.kit.bodies import Upload
from services.tpf.pseudonymising import Pseudonymisation, pseudonymise
from shared.envelope.pseudonyms import open_pseudonyms
from shared.keys import PublicDirectory
from shared.keys.registry import load_registry_keys
from shared.keys.tpf import load_tpf_keys
from tests.e2e.messages import Message, build_message, reseal_identity_for


def _upload(data: bytes) -> Upload:
    file: IO[bytes] = io.BytesIO(data)
    return Upload(file=file, sha256=hashlib.sha256(data).hexdigest(), size=len(data))


def _outcomes(state: Path, message: Message, *, accept_synthetic: bool) -> list[str]:
    how = Pseudonymisation(  # pseudonymising touches no database, no audit log, nothing refused before
        keys=load_tpf_keys(state / "keys" / "tpf"),
        directory=PublicDirectory.load(state / "keys" / "directory.json"),
        key_version=1,
        accept_synthetic_numbers=accept_synthetic,
    )
    sealed = io.BytesIO()
    done = pseudonymise(how, message.parsed, message.header, _upload(message.identity), sealed)
    sealed.seek(0)
    registry = load_registry_keys(state / "keys" / "registry")
    _, entries = open_pseudonyms(
        sealed,
        registry,
        done.header.parts.pseudonyms,
        sender="tpf",
        message_id=message.parsed.message_id,
    )
    outcomes = ["pseudonym" if e.pseudonym is not None else str(e.refused) for e in entries]
    assert done.header.counts.refused == sum(o != "pseudonym" for o in outcomes)
    return outcomes


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tpf-rules")
    ensure_keys(folder, ["0301"])
    return folder


@pytest.fixture(scope="module")
def message(state: Path) -> Message:
    export = state / "export.xml"
    write_synthetic_export(export, "0301", 2025, 12, 5)
    return build_message(state, export, 1, work=state / "work")


def test_a_development_tpf_pseudonymises_synthetic_numbers(state: Path, message: Message) -> None:
    assert _outcomes(state, message, accept_synthetic=True) == ["pseudonym"] * 12


def test_a_production_tpf_refuses_synthetic_numbers_by_reference(state: Path, message: Message) -> None:
    assert _outcomes(state, message, accept_synthetic=False) == ["synthetic-number"] * 12


def test_a_number_of_another_type_than_declared_is_refused(state: Path, message: Message) -> None:
    relabelled = reseal_identity_for(
        state, message, "tpf", type_maker=lambda i, declared: "HNR" if i % 3 == 0 else declared
    )
    outcomes = _outcomes(state, relabelled, accept_synthetic=True)
    assert outcomes == ["type-mismatch" if i % 3 == 0 else "pseudonym" for i in range(12)]
