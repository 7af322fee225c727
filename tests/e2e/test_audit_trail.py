"""The audit trail, checked from outside as an auditor would: ``iplos audit verify`` and ``iplos audit prove``
against three real services, and every way of rewriting history detected.

One chain for the module. Each tampering case stops one service, edits its SQLite database the way an
intruder with file access would (from a clumsy edit up to a careful rewrite that recomputes every hash and
throws away the signed checkpoints), starts it again, runs the auditor's check with the witness file of an
earlier clean run, and then puts the untouched database back.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import shutil
import sqlite3
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from iplos_audit.logs import SERVICES, Report, Source, prove, verify
from iplos_chain import Chain, client, ensure_keys, free_port
from iplos_cli.audit import audit_app
from iplos_testkit.generator import generate_export
from shared.audit import encode_entry, leaf_hash, parse_entry
from shared.envelope import transport as wire
from shared.envelope import utc_timestamp
from shared.keys import PublicDirectory
from tests.e2e.messages import build_message, flip
from tests.tls import tls_as, trust_chain

YEAR = 2025
Tamper = Callable[[sqlite3.Connection], None]


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    state = tmp_path_factory.mktemp("audit-chain")
    ensure_keys(state, ["0301", "4601"])
    ports = {s: free_port() for s in SERVICES}
    with Chain(state, ports=ports) as running:
        trust_chain(running)
        exports = state / "exports"
        exports.mkdir()
        submitted = []
        # Two municipalities, one of them twice (a replacement): stored, superseded and stored again.
        for municipality, seed, vary in (("0301", 1, 0), ("4601", 2, 0), ("0301", 1, 1)):
            path = exports / f"{municipality}-{vary}.xml"
            with path.open("wb") as handle:
                generate_export(municipality, YEAR, 12, seed, handle, vary=vary)
            token = running.municipality_token(municipality)
            accepted = client.submit(path, running.url("gateway"), token=token)
            submitted.append(client.wait_final(running.url("gateway"), accepted["submission_id"], token=token))
        assert [s["state"] for s in submitted] == ["stored"] * 3
        # Bergen again with 5 of its 12 persons: held by the registry, then confirmed by the municipality.
        cut = exports / "4601-cut.xml"
        with cut.open("wb") as handle:
            generate_export("4601", YEAR, 5, 3, handle)
        token = running.municipality_token("4601")
        accepted = client.submit(cut, running.url("gateway"), token=token)
        held = client.wait_final(running.url("gateway"), accepted["submission_id"], token=token)
        assert held["state"] == "held"
        address = f"{running.url('gateway')}/v1/submissions/{held['submission_id']}/confirm-replacement"
        submitted.append(client.post_json(address, token))
        assert submitted[-1]["state"] == "stored"
        running.submitted = submitted  # type: ignore[attr-defined]
        yield running


def _sources(chain: Chain) -> Iterator[dict[str, Source]]:
    headers = {"Authorization": f"Bearer {chain.operator_token}"}
    clients = {s: httpx.Client(base_url=chain.url(s), headers=headers, timeout=30) for s in SERVICES}
    try:
        yield {s: Source(s, c) for s, c in clients.items()}
    finally:
        for c in clients.values():
            c.close()


@pytest.fixture
def sources(chain: Chain) -> Iterator[dict[str, Source]]:
    yield from _sources(chain)


@pytest.fixture(scope="module")
def directory(chain: Chain) -> PublicDirectory:
    return PublicDirectory.load(chain.state_dir / "keys" / "directory.json")


@pytest.fixture(scope="module")
def clean_witness(chain: Chain, directory: PublicDirectory, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The witness of a clean run: what an auditor remembers from checking the untouched chain."""
    witness = tmp_path_factory.mktemp("witness") / "witness.json"
    for sources in _sources(chain):
        report = verify(sources, directory, witness)
        assert report.ok, report.discrepancies
    return witness


def test_a_clean_chain_verifies_and_reconciles(
    sources: dict[str, Source], directory: PublicDirectory, clean_witness: Path, tmp_path: Path
) -> None:
    witness = tmp_path / "witness.json"
    shutil.copy(clean_witness, witness)
    report = verify(sources, directory, witness)
    assert report.ok, report.discrepancies
    text = "\n".join(report.checked)
    assert "reconciled 4 stored messages" in text
    # 3 exports of 12 persons and a confirmed one of 5: every record accounted for at each hop.
    assert "records sent 41 = pseudonymised 41 + refused 0 = stored 41" in text
    for service in SERVICES:
        assert f"{service}: checkpoint of" in text
        assert f"{service}: unchanged since the last run" in text or f"{service}: extends" in text


def test_prove_shows_one_message_through_the_three_logs(
    chain: Chain, sources: dict[str, Source], directory: PublicDirectory
) -> None:
    message_id = chain.submitted[0]["submission_id"]  # type: ignore[attr-defined]
    steps, report = prove(sources, directory, message_id)
    assert report.ok, report.discrepancies
    path = [(step.service, step.entry.event) for step in steps]
    assert path[:3] == [("gateway", "sealed"), ("gateway", "sent"), ("gateway", "settled")]
    assert ("tpf", "pseudonymised") in path
    assert ("tpf", "forwarded") in path
    # The first submission of 0301 was stored, then replaced by the third.
    assert [e for s, e in path if s == "registry"] == ["stored", "superseded"]
    assert all(step.proof_length >= 1 for step in steps)


def test_the_commands_print_what_they_checked_and_exit_zero(chain: Chain, tmp_path: Path) -> None:
    args = [x for s in SERVICES for x in (f"--{s}", chain.url(s))]
    common = ["--state-dir", str(chain.state_dir), "--witness", str(tmp_path / "w.json")]
    result = CliRunner().invoke(audit_app, ["verify", *args, *common])
    assert result.exit_code == 0, result.output
    assert "no discrepancies" in result.output
    message_id = chain.submitted[1]["submission_id"]  # type: ignore[attr-defined]
    result = CliRunner().invoke(audit_app, ["prove", message_id, *args, "--state-dir", str(chain.state_dir)])
    assert result.exit_code == 0, result.output
    assert "registry" in result.output
    assert "stored" in result.output


def test_a_municipality_s_token_is_one_clear_error_not_four_discrepancies(chain: Chain, tmp_path: Path) -> None:
    # Issue 16: a municipality's token looked like tampering (four FAIL lines); it is a usage error, exit 2.
    args = [x for s in SERVICES for x in (f"--{s}", chain.url(s))]
    token = chain.municipality_token("0301")
    common = ["--state-dir", str(chain.state_dir), "--token", token]
    verify_args = ["verify", "--witness", str(tmp_path / "w.json")]
    for command in (verify_args, ["prove", chain.submitted[1]["submission_id"]]):  # type: ignore[attr-defined]
        result = CliRunner().invoke(audit_app, [*command, *args, *common])
        assert result.exit_code == 2, result.output
        assert "FAIL" not in result.output
        assert "not a municipality's" in result.output
        assert "operator" in result.output
    assert not (tmp_path / "w.json").exists(), "nothing was witnessed with a token the services refused"


# -- tampering -------------------------------------------------------------------------------------------------


def _rows(db: sqlite3.Connection) -> list[tuple[int, str]]:
    return list(db.execute("SELECT idx, entry FROM audit_log ORDER BY idx"))


def _rewrite(db: sqlite3.Connection, entries: list[str]) -> None:
    """Write ``entries`` as the whole log, renumbered 0.. with correct leaf hashes: a careful intruder."""
    db.execute("DELETE FROM audit_log")
    for index, text in enumerate(entries):
        entry = dataclasses.replace(parse_entry(text.encode()), index=index)
        data = encode_entry(entry)
        db.execute(
            "INSERT INTO audit_log (idx, message_id, event, entry, leaf_hash, at) VALUES (?, ?, ?, ?, ?, ?)",
            (index, entry.message_id, entry.event, data.decode(), leaf_hash(data).hex(), _sqlite_time(entry.at)),
        )
    # The signed checkpoints would give the rewrite away to the service itself: the intruder drops them, and
    # the service signs a fresh one over the rewritten log.
    db.execute("DELETE FROM audit_checkpoints")


def _sqlite_time(at: str) -> str:
    return at.replace("T", " ").replace("Z", ".000000")


def _with_records(entries: list[str]) -> int:
    return next(i for i, text in enumerate(entries) if '"records":12' in text)


def alter_clumsily(db: sqlite3.Connection) -> None:
    """Change a count in place and leave everything else: the stored leaf hash no longer matches."""
    entries = [text for _, text in _rows(db)]
    index = _with_records(entries)
    forged = entries[index].replace('"records":12', '"records":13')
    db.execute("UPDATE audit_log SET entry = ? WHERE idx = ?", (forged, index))


def alter_and_rehash(db: sqlite3.Connection) -> None:
    entries = [text for _, text in _rows(db)]
    index = _with_records(entries)
    entries[index] = entries[index].replace('"records":12', '"records":13')
    _rewrite(db, entries)


def delete_entry(db: sqlite3.Connection) -> None:
    entries = [text for _, text in _rows(db)]
    del entries[2]
    _rewrite(db, entries)


def insert_entry(db: sqlite3.Connection) -> None:
    entries = [text for _, text in _rows(db)]
    entries.insert(1, entries[0])
    _rewrite(db, entries)


def reorder_entries(db: sqlite3.Connection) -> None:
    entries = [text for _, text in _rows(db)]
    entries[0], entries[1] = entries[1], entries[0]
    _rewrite(db, entries)


@pytest.mark.parametrize(
    ("service", "tamper", "expected"),
    [
        pytest.param("tpf", alter_clumsily, "audit-log-inconsistent", id="altered-entry"),
        pytest.param("tpf", alter_and_rehash, "forked", id="altered-entry-rehashed-checkpoints-dropped"),
        pytest.param("registry", delete_entry, "rollback", id="deleted-entry"),
        pytest.param("registry", insert_entry, "does not extend", id="inserted-entry"),
        pytest.param("gateway", reorder_entries, "forked", id="reordered-entries"),
    ],
)
def test_rewriting_history_is_detected(
    chain: Chain,
    directory: PublicDirectory,
    clean_witness: Path,
    tmp_path: Path,
    service: str,
    tamper: Tamper,
    expected: str,
) -> None:
    database = chain.state_dir / service / f"{service}.db"
    backup = tmp_path / "untouched.db"
    chain.stop(service)
    try:
        _without_journal(database)
        shutil.copy(database, backup)
        with closing(sqlite3.connect(database)) as db, db:
            tamper(db)
        chain.start(service)
        witness = tmp_path / "witness.json"
        shutil.copy(clean_witness, witness)
        for sources in _sources(chain):
            report: Report = verify(sources, directory, witness)
        assert not report.ok
        assert any(service in d and expected in d for d in report.discrepancies), report.discrepancies
        # A failed check never moves the witness on to the tampered log.
        assert witness.read_bytes() == clean_witness.read_bytes()
    finally:
        chain.stop(service)
        # The tampered run's write-ahead log must not be replayed onto the restored file.
        for journal in _journals(database):
            journal.unlink(missing_ok=True)
        shutil.copy(backup, database)
        chain.start(service)


def _journals(database: Path) -> list[Path]:
    return [database.with_name(database.name + suffix) for suffix in ("-wal", "-shm", "-journal")]


def _without_journal(database: Path) -> None:
    """Fold any write-ahead log into the file, so that the copy is the whole database."""
    with closing(sqlite3.connect(database)) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert not any(j.exists() and j.stat().st_size for j in _journals(database))


def test_a_forged_delivery_is_on_no_record(
    chain: Chain, sources: dict[str, Source], directory: PublicDirectory
) -> None:
    """Only the TPF's TLS peer may post to the registry (anyone else is refused before the body is read, and
    nothing is logged); what even the TPF's connection claims in a forged delivery must not end up signed in its
    log, and since its signatures never held, it is not on the log at all: counted, by the peer's party."""
    claimed = chain.submitted[0]["submission_id"]  # type: ignore[attr-defined]
    header = f'{{"message_id":"{claimed}","municipality":"0301","year":{YEAR},"sequence":1}}'.encode()
    files = {
        name: (name, header if "header" in name else b"x" * 64, "application/octet-stream")
        for name in wire.DELIVERY_FIELDS
    }
    before, counted = _tree_size(sources, "registry"), _unproven(chain, "registry")
    url = f"{chain.url('registry')}/v1/deliveries"
    assert httpx.post(url, files=files, timeout=30).json()["type"].endswith(":wrong-peer")
    response = httpx.post(url, files=files, timeout=30, verify=tls_as(chain, "tpf"))
    assert response.status_code in (400, 403, 422), response.text
    after = verify(sources, directory, None)
    assert after.ok, after.discrepancies
    assert _tree_size(sources, "registry") == before
    slug = response.json()["type"].removeprefix(PROBLEM)
    assert _unproven(chain, "registry") - counted == Counter({(slug, "tpf"): 1})


# -- junk ------------------------------------------------------------------------------------------------------

PROBLEM = "urn:iplos-chain:problem:"
BURST = 200


def _tree_size(sources: dict[str, Source], service: str) -> int:
    """The size of ``service``'s log, as its latest checkpoint (signed now if the log grew) says."""
    return int(json.loads(sources[service].get("/checkpoint")["body"])["tree_size"])


def _unproven(chain: Chain, service: str) -> Counter[tuple[str, str]]:
    """``iplos_unproven_refusals_total`` at ``service``, by (problem, peer), from its /metrics."""
    response = httpx.get(
        f"{chain.url(service)}/metrics", headers={"Authorization": f"Bearer {chain.operator_token}"}, timeout=30
    )
    assert response.status_code == 200, response.text
    counted: Counter[tuple[str, str]] = Counter()
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == "iplos_unproven_refusals_total":
                counted[(sample.labels["problem"], sample.labels["peer"])] += int(sample.value)
    return counted


def _junk(fields: tuple[str, ...], seed: int) -> dict[str, tuple[str, bytes, str]]:
    """A form with every field a message has, each junk: nothing in it verifies."""
    header = json.dumps({"message_id": str(uuid.UUID(int=seed, version=4)), "sender": "kommune-0301"}).encode()
    return {
        name: (name, header if "header" in name else bytes([seed % 251]) * 64, "application/octet-stream")
        for name in fields
    }


def _burst(url: str, party: str, forms: list[dict[str, Any]], chain: Chain) -> Counter[tuple[str, str]]:
    """Post ``forms`` over one connection with ``party``'s certificate: each answer's problem type, by party. A
    refusal at the door (the burst is the size of the per-caller allowance, which earlier traffic from the same
    certificate may have drawn on) is waited out and the form sent again, as the chain's client would."""
    answered: Counter[tuple[str, str]] = Counter()
    with httpx.Client(verify=tls_as(chain, party), timeout=30) as http:
        for files in forms:
            response = http.post(url, files=files)
            while (wait_s := client.refused_at_the_door(response)) is not None:
                time.sleep(wait_s)
                response = http.post(url, files=files)
            assert 400 <= response.status_code < 500, response.text
            assert "final" not in response.json()  # nothing about a claimed message id is kept
            answered[(response.json()["type"].removeprefix(PROBLEM), party)] += 1
    return answered


def test_junk_from_peers_adds_no_audit_entry_and_is_counted_by_peer(
    chain: Chain, sources: dict[str, Source], directory: PublicDirectory, tmp_path: Path
) -> None:
    """Issue 17: unauthenticated junk once added a signed entry per request at the TPF and at the registry. Now
    a refusal goes on the signed log only once its sender is proven (its signature held, over its own connection):
    a burst of junk over the peers' own certificates leaves both logs as they were, and each refusal is counted
    by problem type and the connection's party. A municipality's own message refused for good is on record,
    by its id, once; and the auditor's check passes over the chain that refused it all."""
    tpf, registry = f"{chain.url('tpf')}/v1/messages", f"{chain.url('registry')}/v1/deliveries"
    old = utc_timestamp(dt.datetime.now(dt.UTC) - dt.timedelta(days=40))
    export = tmp_path / "0301-late.xml"
    with export.open("wb") as handle:
        generate_export("0301", YEAR, 4, 9, handle)
    late = build_message(chain.state_dir, export, 1, header_changes={"created_at": old}, work=tmp_path / "work")
    forged = dataclasses.replace(late, signature=flip(late.signature, 7))  # 0301's header, the signature broken
    sizes = {s: _tree_size(sources, s) for s in SERVICES}
    counted = {s: _unproven(chain, s) for s in ("tpf", "registry")}

    # At the TPF, over 0301's connection: junk forms and 0301's header with a broken signature; over Bergen's,
    # 0301's own signed message (a captured one, the wrong peer).
    answered = _burst(tpf, "kommune-0301", [_junk(tuple(late.files()), i) for i in range(BURST // 2)], chain)
    answered += _burst(tpf, "kommune-0301", [forged.files() for _ in range(BURST // 4)], chain)
    answered += _burst(tpf, "kommune-4601", [late.files() for _ in range(BURST // 4)], chain)
    assert sum(answered.values()) == BURST
    assert answered[("wrong-peer", "kommune-4601")] == BURST // 4
    # At the registry, over the TPF's connection: deliveries whose signatures do not hold.
    at_registry = _burst(registry, "tpf", [_junk(wire.DELIVERY_FIELDS, i) for i in range(BURST)], chain)

    assert {s: _tree_size(sources, s) for s in SERVICES} == sizes  # not one entry anywhere
    assert _unproven(chain, "tpf") - counted["tpf"] == answered  # each refusal counted once, by the peer's party
    assert _unproven(chain, "registry") - counted["registry"] == at_registry

    # The municipality's own message, signed and refused for good (out of the window): on record, by its id and
    # its verified facts; sent again, answered from what is stored, with no new entry. The wrong peer's tries
    # before had kept nothing about it.
    first = httpx.post(tpf, files=late.files(), verify=tls_as(chain, "kommune-0301"), timeout=30)
    assert (first.status_code, first.json()["type"], first.json()["final"]) == (
        400,
        PROBLEM + "timestamp-out-of-window",
        True,
    )
    again = httpx.post(tpf, files=late.files(), verify=tls_as(chain, "kommune-0301"), timeout=30)
    assert again.json() == first.json()
    added = [parse_entry(e["entry"].encode()) for e in sources["tpf"].get("/entries", start=sizes["tpf"])["entries"]]
    assert [(e.event, e.message_id) for e in added] == [("refused", late.parsed.message_id)]
    assert added[0].facts["problem"] == "timestamp-out-of-window"
    assert (added[0].facts["municipality"], added[0].facts["year"]) == ("0301", YEAR)

    # `iplos audit verify` over the chain that refused it all.
    args = [x for s in SERVICES for x in (f"--{s}", chain.url(s))]
    common = ["--state-dir", str(chain.state_dir), "--witness", str(tmp_path / "w.json")]
    result = CliRunner().invoke(audit_app, ["verify", *args, *common])
    assert result.exit_code == 0, result.output
    assert "no discrepancies" in result.output
