"""A municipality probing a number it chose (issue 17, the chosen-number oracle) is visible to the registry's operators
and to nobody else: through the real TPF and registry apps (tests/tpf/test_outbox.py), municipality 0301 reports the
synthetic number of a person the register lists only in 1103. The record is flagged K040 for the operators, counted
in ``iplos_suspicious_submissions_total{reason="never-resident"}`` (when the extract that shows it arrives, and when a
later submission is stored), and the municipality's report says K032 and nothing more; a tiny submission is counted
as ``tiny``."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import re
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from iplos_chain import ensure_keys
from iplos_testkit.exports import write_synthetic_export
from iplos_testkit.population import Population
from keys.generate import POPULATION_REGISTER_FOLDER
from services.municipality_gateway.register_sealing import seal_register_extract
from services.municipality_gateway.sealing import IDENTITY_FILE, PAYLOAD_FILE, sign_parts
from services.registry_intake.models import findings
from shared.envelope import PartRef, SubmissionHeader
from shared.envelope.report import open_report
from shared.iplos.controls import NEVER_RESIDENT, NOT_RESIDENT, REGISTRY_ONLY_CODES
from shared.iplos.reader import read_export
from shared.keys import POPULATION_REGISTER, load_party_keys
from shared.population import ExtractHeader, RegisterPerson, write_extract
from tests.e2e.messages import Message, build_message, directory_of, keys_of
from tests.registry.test_metrics import AUDITOR, OPERATOR, value
from tests.registry.test_reports import _report
from tests.tls import acting_as
from tests.tpf.test_outbox import _chain

YEAR = 2025


@pytest.fixture
def state(tmp_path: Path) -> Path:
    ensure_keys(tmp_path, ["0301"])
    return tmp_path


def elsewhere_only() -> tuple[list[RegisterPerson], RegisterPerson]:
    """1103's persons of 2025 in a small simulated population, and one of them who never lived in 0301."""
    population = Population(("0301", "1103"), (2024, YEAR), residents=60, seed=5)
    views = [p.register_view(YEAR) for p in population.persons]
    persons = [v for v in views if v is not None and v.resident_in("1103", YEAR)]
    probed = next(p for p in persons if {r.municipality for r in p.residence} == {"1103"} and p.death_date is None)
    return persons, probed


def extract_message(state: Path, municipality: str, persons: list[RegisterPerson]) -> Message:
    """The register's extract of ``municipality`` and 2025, sealed and signed as the register's gateway does."""
    extract = io.BytesIO()
    write_extract(extract, ExtractHeader(str(uuid.uuid4()), municipality, YEAR, dt.date(YEAR + 1, 1, 20)), persons)
    extract.seek(0)
    keys = load_party_keys(state / "keys" / POPULATION_REGISTER_FOLDER / POPULATION_REGISTER, POPULATION_REGISTER)
    folder = state / "register-work" / str(uuid.uuid4())
    folder.mkdir(parents=True)
    sealed = seal_register_extract(extract, keys, directory_of(state), folder, folder.name)
    header_bytes = sign_parts(sealed, keys, (municipality, YEAR), sequence=1, created_at=dt.datetime.now(dt.UTC))
    return Message(
        header_bytes,
        (folder / "header.sig").read_bytes(),
        (folder / IDENTITY_FILE).read_bytes(),
        (folder / PAYLOAD_FILE).read_bytes(),
        SubmissionHeader.model_validate_json(header_bytes),
    )


def probe_message(state: Path, year: int, persons: int, number: str, sequence: int = 1) -> tuple[Message, str]:
    """0301's synthetic export of ``year`` with its first record's number replaced by ``number``; its brukerNr."""
    export = state / f"probe-{year}-{persons}.xml"
    write_synthetic_export(export, "0301", year, persons, seed=year)
    with read_export(export) as reader:
        first = next(iter(reader))
    text = export.read_text(encoding="utf-8")
    assert text.count(first.fid) == 1
    export.write_text(text.replace(first.fid, number), encoding="utf-8")
    return build_message(state, export, sequence, work=state / "work"), first.bruker_nr


def register_codes(state: Path, message_id: str) -> dict[str, set[str]]:
    """The submission's findings of the register controls as the registry stored them, code -> record refs."""
    engine = create_engine(f"sqlite:///{state / 'registry' / 'registry.db'}")
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(findings.c.code, findings.c.ref).where(
                    findings.c.submission_id == message_id, findings.c.code.in_((NOT_RESIDENT, NEVER_RESIDENT))
                )
            ).all()
    finally:
        engine.dispose()
    out: dict[str, set[str]] = {}
    for code, ref in rows:
        out.setdefault(code, set()).add(ref)
    return out


def test_a_probe_is_flagged_for_the_operators_counted_and_kept_from_the_municipality(state: Path) -> None:
    persons, probed = elsewhere_only()
    number = next(n.number for n in probed.numbers if n.valid_to is None)
    care, _ = probe_message(state, YEAR, 30, number)
    extract = extract_message(state, "1103", persons)
    with _chain(state) as (tpf, registry, wire):
        wire.up = True
        suspicious = lambda reason: value(registry, "iplos_suspicious_submissions_total", reason=reason)  # noqa: E731
        # The care data first: the register does not know the number yet, nothing is flagged.
        assert tpf.post("/v1/messages", files=care.files()).status_code == 200
        assert suspicious("never-resident") == suspicious("tiny") == suspicious("oversized") == 0
        # 1103's extract, which lists the person (and never in 0301), flags the record and is counted.
        with acting_as(tpf, POPULATION_REGISTER):
            answer = tpf.post("/v1/messages", files=extract.files())
        assert answer.status_code == 200, answer.text
        assert answer.json()["receipt"]["status"] == "stored"
        assert suspicious("never-resident") == 1
        stored = register_codes(state, care.parsed.message_id)
        assert len(stored.get(NEVER_RESIDENT, set())) == 1
        probe_ref = next(iter(stored[NEVER_RESIDENT]))
        document = _report(registry, care.parsed.message_id)
        # The operators see it by rule; an auditor does not see findings at all.
        operator = registry.get(f"/v1/operator/submissions/{care.parsed.message_id}", headers=OPERATOR)
        assert operator.status_code == 200
        by_rule = {rule["code"]: rule for rule in operator.json()["findings_by_rule"]}
        assert NEVER_RESIDENT in by_rule
        auditor = registry.get(f"/v1/operator/submissions/{care.parsed.message_id}", headers=AUDITOR)
        assert (auditor.json()["findings_withheld"], auditor.json()["findings_by_rule"]) == (True, None)
        # Per municipality and year on the operators' overview (API and page), a count and never a pseudonym; an
        # auditor sees neither.
        rows = registry.get(f"/v1/operator/years/{YEAR}/overview", headers=OPERATOR).json()["municipalities"]
        assert {r["municipality"]: r["never_resident"] for r in rows if r["submission_id"]} == {"0301": 1}
        rows = registry.get(f"/v1/operator/years/{YEAR}/overview", headers=AUDITOR).json()["municipalities"]
        assert all(r["never_resident"] is None for r in rows)
        page = registry.get(f"/dashboard?year={YEAR}", headers=OPERATOR)
        assert page.status_code == 200
        row = re.search(r'<tr id="municipality-0301".*?</tr>', page.text, re.DOTALL)
        assert row is not None
        assert 'data-testid="cell-never-resident">1<' in row.group(0)
        assert 'data-testid="cell-never-resident"' not in registry.get(f"/dashboard?year={YEAR}", headers=AUDITOR).text
        # A tiny submission of 2024 (3 persons) reporting the same number: judged at once against the register of
        # any year, counted as tiny and as never-resident.
        tiny, _ = probe_message(state, 2024, 3, number)
        assert tpf.post("/v1/messages", files=tiny.files()).status_code == 200
        assert suspicious("tiny") == 1
        assert suspicious("never-resident") == 2
        assert suspicious("oversized") == 0
        assert len(register_codes(state, tiny.parsed.message_id)[NEVER_RESIDENT]) == 1
    # The municipality's report (0301 has no extract, so no K032 either): nothing in it, counts included, says that
    # the register knows the number or that the record was flagged.
    body = json.loads(document)
    summary, opened = open_report(
        io.BytesIO(base64.b64decode(body["part"])),
        keys_of(state, "0301"),
        PartRef.model_validate(body["header"]["parts"]["report"]),
        sender=body["header"]["sender"],
        message_id=care.parsed.message_id,
    )
    opened = list(opened)
    assert not REGISTRY_ONLY_CODES & {finding.code for finding in opened}
    assert not REGISTRY_ONLY_CODES & set(summary.counts)
    assert probe_ref not in {finding.ref for finding in opened}
    assert body["header"]["finding_count"] == len(opened)
