"""Sealing in the gateway's thread pool: one export at a time per process (sealing._SEALING), after its header has
been admitted, so that two lxml parses never fight over the GIL and a refused export never waits for another's seal."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from iplos_testkit.generator import generate_export
from keys.generate import init_keys
from services.kit.problems import Problem
from services.municipality_gateway import sealing
from shared.keys import PublicDirectory
from shared.keys.municipality import load_municipality_keys


def _export() -> io.BytesIO:
    export = io.BytesIO()
    generate_export("0301", 2025, 20, 1, export)
    export.seek(0)
    return export


def test_two_exports_are_sealed_one_after_the_other(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    init_keys(tmp_path / "keys", ["0301"])
    directory = PublicDirectory.load(tmp_path / "keys" / "directory.json")
    keys = {"0301": load_municipality_keys(tmp_path / "keys" / "municipalities" / "kommune-0301", "0301")}
    inside = 0
    most = 0
    both_admitted = threading.Barrier(2, timeout=10)
    count = threading.Lock()
    seal = sealing._seal

    def counted(*args: Any) -> sealing.SealedExport:
        nonlocal inside, most
        with count:
            inside += 1
            most = max(most, inside)
        try:
            time.sleep(0.1)  # long enough for the other thread to come in, were it let in
            return seal(*args)
        finally:
            with count:
                inside -= 1

    monkeypatch.setattr(sealing, "_seal", counted)
    sealed: list[sealing.SealedExport] = []

    def one() -> None:
        # Both headers are admitted before either export is sealed: admission does not queue behind a seal.
        result = sealing.seal_export(
            _export(), keys, directory, tmp_path / "work", admit=lambda _header: both_admitted.wait()
        )
        sealed.append(result)

    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [s.record_count for s in sealed] == [20, 20]
    assert most == 1
    for s in sealed:
        s.release()


def test_a_refused_export_does_not_wait_for_a_seal(tmp_path: Path) -> None:
    refused: list[str] = []

    def refuse() -> None:
        try:
            # No key for the export's municipality: refused once its header is read.
            sealing.seal_export(_export(), {}, PublicDirectory({}, []), tmp_path / "work")
        except Problem as problem:
            refused.append(problem.slug)

    with sealing._SEALING:  # another export is being sealed
        thread = threading.Thread(target=refuse, daemon=True)
        thread.start()
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert refused == ["municipality-not-served"]
