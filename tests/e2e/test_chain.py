"""End to end through three real uvicorn processes: submit, store, replace, and what each service may hold."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from iplos_chain import Chain, client
from iplos_testkit.schema_faults import SCHEMA_FAULTS, spread_faults
from shared.envelope.receipts import verify_receipt
from shared.iplos.reader import ExportReader
from shared.keys import PublicDirectory

pytestmark = pytest.mark.e2e


def _persons(path: Path) -> list:  # type: ignore[type-arg]
    with path.open("rb") as handle, ExportReader(handle) as reader:
        return list(reader)


def _registry(chain: Chain, municipality: str, year: int) -> list[dict]:  # type: ignore[type-arg]
    url = f"{chain.url('registry')}/v1/submissions?municipality={municipality}&year={year}"
    return client.get_json(url, chain.operator_token)["submissions"]


def test_submissions_are_stored_and_a_resubmission_replaces_the_year(chain: Chain, make_export) -> None:  # type: ignore[no-untyped-def]
    gateway = chain.url("gateway")
    first = {nr: make_export(nr, persons, seed=7) for nr, persons in (("0301", 300), ("4601", 200), ("5001", 150))}
    token = chain.municipality_token
    accepted = {nr: client.submit(export.path, gateway, token=token(nr)) for nr, export in first.items()}
    finals = {nr: client.wait_final(gateway, a["submission_id"], 60, token=token(nr)) for nr, a in accepted.items()}
    directory = PublicDirectory.load(chain.state_dir / "keys" / "directory.json")
    for nr, final in finals.items():
        assert final["state"] == "stored", final
        # The gateway's own signed header (in its outbox) is what the receipt must name.
        header = chain.state_dir / "gateway" / "outbox" / final["submission_id"] / "header.json"
        body = {"receipt": final["receipt"], "signature": final["receipt_signature"]}
        receipt = verify_receipt(
            directory, body, final["submission_id"], hashlib.sha256(header.read_bytes()).hexdigest()
        )
        assert receipt.status == "stored"
        assert receipt.records_stored == len(_persons(first[nr].path))
        rows = _registry(chain, nr, 2025)
        assert [r["status"] for r in rows] == ["active"]
        assert rows[0]["records"] == receipt.records_stored
        assert rows[0]["pseudonymised"] == receipt.records_stored  # synthetic numbers are all valid

    corrected = make_export("4601", 200, seed=7, vary=1)
    second = client.submit(corrected.path, gateway, token=token("4601"))
    assert second["sequence"] > accepted["4601"]["sequence"]
    final = client.wait_final(gateway, second["submission_id"], 60, token=token("4601"))
    assert final["state"] == "stored"
    assert final["receipt"]["supersedes"] == accepted["4601"]["submission_id"]
    rows = {r["submission_id"]: r for r in _registry(chain, "4601", 2025)}
    old, new = rows[accepted["4601"]["submission_id"]], rows[second["submission_id"]]
    assert (old["status"], new["status"]) == ("superseded", "active")
    assert old["superseded_by"] == new["submission_id"]
    assert new["supersedes"] == old["submission_id"]
    assert new["records"] == len(_persons(corrected.path))
    # The other municipalities are untouched by Bergen's replacement.
    assert [r["status"] for r in _registry(chain, "0301", 2025)] == ["active"]


def test_a_schema_error_rejects_the_whole_export_with_line_and_element(chain: Chain, make_export, tmp_path) -> None:  # type: ignore[no-untyped-def]
    export = make_export("5001", 20, seed=3)
    text = export.path.read_text(encoding="utf-8")
    broken = re.sub(r"<rapporteringsaar>2025</rapporteringsaar>", "<rapporteringsaar>20x5</rapporteringsaar>", text)
    assert broken != text
    bad = tmp_path / "bad.xml"
    bad.write_text(broken, encoding="utf-8")
    before = client.get_json(f"{chain.url('gateway')}/v1/submissions", chain.operator_token)["submissions"]
    response = httpx.post(
        f"{chain.url('gateway')}/v1/submissions",
        content=bad.read_bytes(),
        headers={"Content-Type": "application/xml", "Authorization": f"Bearer {chain.municipality_token('5001')}"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"] == "urn:iplos-chain:problem:schema-invalid"
    expected_line = broken[: broken.index("20x5")].count("\n") + 1
    assert {"line": expected_line, "element": "rapporteringsaar"}.items() <= problem["errors"][0].items()
    assert "20x5" not in response.text
    assert client.get_json(f"{chain.url('gateway')}/v1/submissions", chain.operator_token)["submissions"] == before


def test_the_gateway_answers_what_iplos_validate_says_offline(chain: Chain, make_export, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The same file, checked offline by `iplos validate --json` (no keys, no service) and posted to the running
    gateway: the same total and the same errors, each with its line, path, rule and sentences."""
    export = make_export("5001", 150, seed=13)
    bad = tmp_path / "faults.xml"
    placed = spread_faults(export.path, bad, [fault.name for fault in SCHEMA_FAULTS])
    offline = subprocess.run(
        [sys.executable, "-m", "iplos_cli.main", "validate", "--json", str(bad)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert offline.returncode == 1, offline.stderr
    said = json.loads(offline.stdout)
    response = httpx.post(
        f"{chain.url('gateway')}/v1/submissions",
        content=bad.read_bytes(),
        headers={"Content-Type": "application/xml", "Authorization": f"Bearer {chain.municipality_token('5001')}"},
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"] == "urn:iplos-chain:problem:schema-invalid"
    assert (problem["error_count"], problem["errors_shown"], problem["complete"]) == (len(placed), len(placed), True)
    assert {key: said[key] for key in ("error_count", "errors_shown", "complete", "errors")} == {
        key: problem[key] for key in ("error_count", "errors_shown", "complete", "errors")
    }
    assert [e["line"] for e in problem["errors"]] == [f.line for f in placed]
    assert f"({len(placed)} errors)" in problem["title"]
    # And `iplos submit` prints the gateway's answer as `iplos validate` prints its own check.
    with pytest.raises(client.ChainError) as refused:
        client.submit(bad, chain.url("gateway"), token=chain.municipality_token("5001"))
    text = subprocess.run(
        [sys.executable, "-m", "iplos_cli.main", "validate", "--lang", "en", str(bad)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    ).stdout
    for line in text.splitlines()[:-1]:
        assert line in str(refused.value), line


def test_an_export_with_a_doctype_is_refused(chain: Chain, make_export) -> None:  # type: ignore[no-untyped-def]
    export = make_export("5001", 5, seed=4)
    text = export.path.read_text(encoding="utf-8")
    hostile = text.replace("?>", '?>\n<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>', 1)
    response = httpx.post(
        f"{chain.url('gateway')}/v1/submissions",
        content=hostile.encode(),
        headers={"Content-Type": "application/xml", "Authorization": f"Bearer {chain.municipality_token('5001')}"},
    )
    assert response.status_code == 422
    assert response.json()["type"] == "urn:iplos-chain:problem:schema-invalid"
    assert "root:" not in response.text


def test_the_gateway_refuses_a_body_that_is_not_xml(chain: Chain) -> None:
    response = httpx.post(
        f"{chain.url('gateway')}/v1/submissions",
        json={"a": 1},
        headers={"Authorization": f"Bearer {chain.municipality_token('5001')}"},
    )
    assert response.status_code == 415
    assert response.json()["type"] == "urn:iplos-chain:problem:unsupported-media-type"


def test_an_invalid_identity_number_gets_no_pseudonym_and_is_reported_by_reference(  # type: ignore[no-untyped-def]
    chain: Chain, make_export, exports_dir: Path
) -> None:
    # As many persons as the year's first submission above (150): far fewer would be held for confirmation.
    export = make_export("5001", 150, seed=9)
    text = export.path.read_text(encoding="utf-8")
    match = re.search(r"(<fid[^>]*>)([0-9]{11})(</fid>)", text)
    assert match is not None
    number = match.group(2)
    broken_number = number[:10] + str((int(number[10]) + 1) % 10)  # K2 no longer matches
    broken = exports_dir / "5001-broken-check-digit.xml"  # in the exports folder: the leak scan looks for it
    broken.write_text(text.replace(match.group(0), match.group(1) + broken_number + match.group(3), 1), "utf-8")
    token = chain.municipality_token("5001")
    accepted = client.submit(broken, chain.url("gateway"), token=token)
    final = client.wait_final(chain.url("gateway"), accepted["submission_id"], 60, token=token)
    assert final["state"] == "stored"
    assert final["receipt"]["identities_refused"] == 1
    assert final["receipt"]["records_stored"] == 150
    row = client.get_json(f"{chain.url('registry')}/v1/submissions/{accepted['submission_id']}", chain.operator_token)
    assert (row["pseudonymised"], row["identities_refused"]) == (149, 1)
