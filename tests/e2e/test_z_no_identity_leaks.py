"""After the end-to-end run: nothing the TPF wrote holds an identity number or payload content, nothing the
registry wrote holds an identity number. Runs last in the e2e folder (file name), so it scans the state left
by every other end-to-end test as well as its own submission."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from iplos_chain import Chain, client
from shared import fnr
from shared.iplos.reader import ExportReader
from shared.keys.tpf import load_tpf_keys
from shared.population import read_extract
from shared.pseudonym import Pseudonymiser, encode_pseudonym

pytestmark = pytest.mark.e2e


def _needles(exports: Path) -> tuple[set[bytes], set[bytes]]:
    """Identity numbers, and payload strings distinctive enough to search for (service ids, org numbers,
    the EPJ system's name), from every export and register extract the session generated."""
    numbers: set[bytes] = set()
    payload: set[bytes] = set()
    for path in exports.glob("*.xml"):
        with path.open("rb") as handle, ExportReader(handle) as reader:
            payload.add(reader.header.navn_epj.encode())
            for person in reader:
                numbers.add(person.fid.encode())
                for service in person.services:
                    payload.add(service.tjeneste_id.encode())
                    if service.org_nr:
                        payload.add(service.org_nr.encode())
    for path in exports.glob("*.jsonl"):  # the population register's extracts (tests/e2e/test_register_path.py)
        with path.open("rb") as handle:
            _header, persons = read_extract(handle)
            numbers |= {entry.number.encode() for person in persons for entry in person.numbers}
    return numbers, {p for p in payload if len(p) >= 6}


def _pseudonyms(state: Path, numbers: set[bytes]) -> set[bytes]:
    """Every pseudonym of the run, as raw bytes and as the text form that travels in the pseudonym part."""
    pseudonymiser = Pseudonymiser(load_tpf_keys(state / "keys" / "tpf").current_pseudonym_key)
    found: set[bytes] = set()
    for number in numbers:
        try:
            value = pseudonymiser.pseudonym(fnr.parse(number.decode()))
        except fnr.InvalidIdentityNumber:
            continue
        found.update({value, encode_pseudonym(value).encode()})
    return found


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def _hits(folder: Path, needles: set[bytes]) -> list[str]:
    found = []
    for path in _files(folder):
        data = path.read_bytes()
        found.extend(f"{path.relative_to(folder)}" for needle in needles if needle in data)
    return sorted(set(found))


def _registry_database_holds(chain: Chain, registry: Path, pseudonyms: set[bytes]) -> bool:
    """The registry's database does hold pseudonyms: its SQLite file in its state folder, or on PostgreSQL
    (where its state folder holds none, and the scans above then cover its logs and temporary files) its rows."""
    url = chain.extra_env["registry"].get("IPLOS_REGISTRY_DATABASE_URL")
    if url is None:
        return bool(_hits(registry, pseudonyms))
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            stored = set(conn.execute(text("SELECT pseudonym FROM persons WHERE pseudonym IS NOT NULL")).scalars())
    finally:
        engine.dispose()
    return bool(stored & pseudonyms)


def test_tpf_and_registry_state_hold_no_identity_and_the_tpf_no_payload(
    chain: Chain, make_export, exports_dir: Path
) -> None:  # type: ignore[no-untyped-def]
    export = make_export("5001", 120, seed=21)
    token = chain.municipality_token("5001")
    accepted = client.submit(export.path, chain.url("gateway"), token=token)
    assert client.wait_final(chain.url("gateway"), accepted["submission_id"], 60, token=token)["state"] == "stored"

    numbers, payload = _needles(exports_dir)
    assert len(numbers) >= 120  # the search is over real content
    assert len(payload) >= 100
    tpf, registry, gateway = (chain.state_dir / s for s in ("tpf", "registry", "gateway"))
    assert _files(tpf)
    assert _files(registry)
    assert _hits(tpf, numbers) == []
    assert _hits(tpf, payload) == []
    assert _hits(registry, numbers) == []
    # Pseudonyms: the TPF computes them but keeps none; the registry stores them, but never logs them.
    pseudonyms = _pseudonyms(chain.state_dir, numbers)
    assert len(pseudonyms) >= 2 * 120
    assert _hits(tpf, pseudonyms) == []
    assert _hits(registry / "logs", pseudonyms) == []
    assert _registry_database_holds(chain, registry, pseudonyms)  # control: the search can find them
    # Control: the same search finds the numbers where they may be (the gateway keeps no numbers either, but
    # the exports folder holds them), so an empty result above is not a broken search.
    assert _hits(exports_dir, numbers)
    assert _hits(gateway, numbers) == []
