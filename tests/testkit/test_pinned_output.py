"""The test kit's output for a seed is pinned byte for byte: the demo, the soak, the browser tests and every
answer key an auditor kept rely on "same seed, same file", so a refactor of the generator or the fault injector
that changes a single draw (an extra ``rng`` call, a reordered branch) must fail here, not pass quietly.

The digests were computed before the generator and the fault injector were split into packages. A deliberate
change to the synthetic data (a new realism rule, a new fault kind) updates them, and says so in its commit.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from iplos_testkit.exports import write_synthetic_export
from iplos_testkit.generator import generate_export


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(
    ("municipality", "year", "persons", "seed", "vary", "digest"),
    [
        # Oslo: a city district in the header; the base population.
        ("0301", 2025, 300, 11, 0, "51067c526808d08103d9e6e8ee326fe70c734d193d166d8c360210cfc566e8ee"),
        # A resubmission (persons removed, changed and added by the variant's own stream).
        ("4601", 2024, 300, 11, 2, "048b2228318e279cf4a0270a8be7fb892c01095932b3777df0eb28eb5c0fe73e"),
    ],
)
def test_a_seeded_export_has_pinned_bytes(
    municipality: str, year: int, persons: int, seed: int, vary: int, digest: str
) -> None:
    out = io.BytesIO()
    generate_export(municipality, year, persons, seed, out, vary=vary)
    assert _sha256(out.getvalue()) == digest


def test_a_seeded_faulted_export_and_its_answer_key_have_pinned_bytes(tmp_path: Path) -> None:
    # 120 faults over 600 persons: every fault kind occurs (27 kinds, round robin), so each mutation is pinned.
    export, answer_key = tmp_path / "export.xml", tmp_path / "answer-key.json"
    written, key = write_synthetic_export(export, "0301", 2025, 600, 11, errors=0.2, answer_key=answer_key)
    assert written == 600
    assert key is not None
    assert len(key.counts()) == 27
    assert _sha256(export.read_bytes()) == "0c0dc40dcace669b13965f3263d1f511e195031182739e24aa7ef18b4e02f119"
    assert _sha256(answer_key.read_bytes()) == "a317bff985c0c589967e9ca37f006691ed6eebd3dbeb3901557d7ff61b3a59b6"
