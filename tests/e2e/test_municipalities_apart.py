"""No answer to a municipality reveals what the registry knows from another municipality's data.

Any municipality can report any identity number, and the TPF gives it the pseudonym it gives that person
everywhere, so the registry links the records (that is inherent to linkage). What a municipality gets back, its
receipt and its control report, must be the same whether or not another municipality reported the same persons.
Oslo (0301) and Trondheim (5001), reporting year 2020, which no other end-to-end test uses.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from pathlib import Path

import pytest

from iplos_chain import Chain, client
from iplos_testkit.exports import write_synthetic_export

pytestmark = pytest.mark.e2e

YEAR = 2020
OSLO, TRONDHEIM = "0301", "5001"


def _as(text: str, municipality: str) -> bytes:
    """The same persons (the same identity numbers) as another municipality's export with a new message GUID."""
    text = re.sub(r"<kommuneNr>[0-9]{4}</kommuneNr>", f"<kommuneNr>{municipality}</kommuneNr>", text, count=1)
    text = re.sub(r"<meldingGUID>[^<]+</meldingGUID>", f"<meldingGUID>{uuid.uuid4()}</meldingGUID>", text, count=1)
    return text.encode()


def _answers(chain: Chain, path: Path, municipality: str) -> tuple[dict, Counter]:  # type: ignore[type-arg]
    gateway, token = chain.url("gateway"), chain.municipality_token(municipality)
    accepted = client.submit(path, gateway, token=token)
    final = client.wait_final(gateway, accepted["submission_id"], 60, token=token)
    assert final["state"] == "stored", final
    report = client.get_json(f"{gateway}/v1/submissions/{accepted['submission_id']}/report", token)
    receipt = {k: final["receipt"][k] for k in ("status", "records_stored", "identities_refused", "reason")}
    findings = Counter((f["brukerNr"], f["code"], f.get("field")) for f in report["findings"])
    return receipt | {"finding_count": report["finding_count"]}, findings


def test_another_municipalitys_reports_of_the_same_persons_change_no_answer(chain: Chain, tmp_path: Path) -> None:
    trondheim = tmp_path / "trondheim.xml"
    # Faults on purpose (deaths, overlapping stays, duplicates): findings a cross-municipality control would see.
    write_synthetic_export(trondheim, TRONDHEIM, YEAR, 60, 2020, errors=0.3)
    same_persons = trondheim.read_text(encoding="utf-8")
    first, second = tmp_path / "oslo-1.xml", tmp_path / "oslo-2.xml"
    first.write_bytes(_as(same_persons, OSLO))
    second.write_bytes(_as(same_persons, OSLO))  # the same content as new bytes: not an identical resubmission

    before = _answers(chain, first, OSLO)  # nobody else has reported these persons for the year
    _answers(chain, trondheim, TRONDHEIM)  # now Trondheim reports the very same identity numbers
    after = _answers(chain, second, OSLO)

    assert before == after
    assert before[0]["records_stored"] == 60
    assert sum(before[1].values()) == before[0]["finding_count"] > 0
