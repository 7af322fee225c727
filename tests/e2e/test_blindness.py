"""``iplos audit tpf-blindness`` against a chain of three real processes: a correct deployment passes with its
positive controls shown, and each of two broken deployments fails the check it should, naming the file.

The chain is this module's own (not the session's): the broken deployments put the registry's key into the
TPF's key folder and a payload string into the TPF's log, which the session's leak searches must not see.
"""

from __future__ import annotations

import base64
import json
import re
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from iplos_audit.blindness import Needle, canary, iter_report_sections, needle_forms, search_bytes
from iplos_chain import REGISTER_GATEWAY, Chain, ensure_keys, free_port
from iplos_cli.audit import audit_app
from shared.iplos.reader import ExportReader
from tests.tls import trust_chain

pytestmark = pytest.mark.e2e

SEED = 11
PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    state = tmp_path_factory.mktemp("blindness")
    ensure_keys(state, ["0301"])
    ports = {s: free_port() for s in ("gateway", "tpf", "registry", REGISTER_GATEWAY)}
    with Chain(state, ports=ports, register=True) as running:
        trust_chain(running)
        yield running


@dataclass
class Run:
    result: Result
    markdown: str
    html: str
    export: Path
    extract: Path

    def section(self, number: int) -> str:
        sections = dict(iter_report_sections(self.markdown))
        [text] = [text for heading, text in sections.items() if heading.startswith(f"{number}. ")]
        return text


def _audit(chain: Chain, out: Path | None) -> Run:
    args = ["tpf-blindness", "--state-dir", str(chain.state_dir), "--seed", str(SEED)]
    args += ["--gateway", chain.url("gateway"), "--tpf", chain.url("tpf"), "--registry", chain.url("registry")]
    args += ["--register-gateway", chain.url(REGISTER_GATEWAY)]
    folder = out if out is not None else chain.state_dir / "audit-reports"
    before = set(folder.glob("*")) if folder.is_dir() else set()
    result = CliRunner().invoke(audit_app, [*args, *(["--out", str(out)] if out is not None else [])])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    new = set(folder.glob("*")) - before
    [md] = [p for p in new if p.suffix == ".md"]
    [html] = [p for p in new if p.suffix == ".html"]
    [export] = [p for p in new if p.name.endswith("-export.xml")]
    [extract] = [p for p in new if p.name.endswith("-extract.jsonl")]
    assert md.stem == html.stem
    assert md.stem.startswith("tpf-blindness-")
    return Run(result, md.read_text(encoding="utf-8"), html.read_text(encoding="utf-8"), export, extract)


def _canary_count(run: Run) -> int:
    return len(re.findall(r"^\| #[0-9]+ \|", run.section(2), flags=re.MULTILINE))


def _identity_numbers(export: Path) -> list[str]:
    with export.open("rb") as handle, ExportReader(handle) as reader:
        return [person.fid for person in reader]


def test_a_correct_deployment_passes_with_its_positive_controls(audited: Chain) -> None:
    run = _audit(audited, None)  # the default report folder: DIR/audit-reports

    assert run.result.exit_code == 0, run.result.output
    assert "TPF blindness: PASS" in run.result.stdout
    for number, heading in ((1, "Key custody"), (2, "Canary run"), (3, "Import contracts"), (4, "Register path")):
        assert f"## {number}. {heading}" in run.markdown
        assert run.section(number).lstrip().startswith("Result: **PASS**")
        assert f"<h2>{number}. {heading}</h2>" in run.html

    custody = run.section(1)
    assert "### Positive control: the registry's key opens the canary envelope" in custody
    assert re.search(r"^\| `keys/registry/encryption\.pem` \| [0-9a-f]{16} \| \*\*OPENS\*\*", custody, re.MULTILINE)
    tpf = audited.state_dir / "keys" / "tpf"
    for key_file in sorted(p for p in tpf.rglob("*") if p.is_file() and p.name != "cert.pem"):
        # Every key the TPF holds (its TLS key too) was tried, each in at least one interpretation, and none
        # opened. Its TLS certificate is public: no private key in it to try.
        name = re.escape(str(key_file.relative_to(tpf)))
        assert re.search(rf"^\| `keys/tpf/{name}` \| [0-9]+ \| [^-|].* \| does not open", custody, re.M)
    assert "### Files that open the canary envelope" not in custody

    canaries = run.section(2)
    assert _canary_count(run) >= 20
    stored = re.findall(r"^\| #[0-9]+ \| (?:tjenesteID|vedtakID)[^|]* \| yes \| `registry/[^`]+`", canaries, re.M)
    assert len(stored) >= 16  # the control: each canary in a field the registry keeps is found in its database
    assert "vedtakID" in canaries
    assert f"All {len(stored)} canaries in fields the registry stores were found there." in canaries
    assert "No canary in any file or answer of the TPF." in canaries
    assert re.search(r"^\| `tpf/tpf\.db` \| [0-9]+ bytes \|", canaries, re.M)
    for answer in (
        r"/v1/messages/[0-9a-f-]{36}",
        r"/v1/audit/entries\?start=0",
        r"/v1/audit/proof/inclusion\?message_id=",
    ):
        # What the TPF says about the message, with the operator's token: its status and its audit log.
        assert re.search(rf"^\| `TPF GET {answer}[^`]*` \| HTTP 200, [0-9]+ bytes, searched \|", canaries, re.M)
    assert "No identity number in any file or answer of the registry." in canaries
    assert re.search(r"^\| `registry GET /v1/submissions/[0-9a-f-]{36}` \| HTTP 200", canaries, re.M)
    numbers = _identity_numbers(run.export)
    assert f"All {len(numbers)} identity numbers of the export were found in the export file." in canaries

    declared = tomllib.loads((PROJECT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    contracts = run.section(3)
    assert len(declared) >= 6
    for contract in declared:
        assert f"| {contract['name']} | **KEPT** |" in contracts

    register = run.section(4)
    histories, register_numbers = _register_values(run.extract)
    assert len(histories) >= 5
    assert "No residence history in any file or answer of the TPF." in register
    assert re.search(r"^\| `tpf/tpf\.db` \| [0-9]+ bytes \|", register, re.M)
    assert re.search(r"^\| `TPF GET /v1/messages/[0-9a-f-]{36}` \| HTTP 200, [0-9]+ bytes, searched \|", register, re.M)
    assert "No identity number of the extract in any file or answer of the registry" in register
    assert f"| persons the registry stored (its receipt) | {len(histories)} |" in register
    assert (
        f"All {len(histories)} residence histories and {len(register_numbers)} identity numbers were found in the"
        " extract file." in " ".join(register.split())
    )

    assert "<style>" in run.html
    assert "<table>" in run.html
    assert not re.search(r"<(script|link|img)\b|src=", run.html)  # self-contained, nothing fetched

    # Neither the report nor the console names a value: canaries and identity numbers by number only.
    values = [canary(SEED, n) for n in range(1, _canary_count(run) + 1)] + numbers + register_numbers
    for text in (run.markdown, run.html, run.result.output):
        assert [v for v in values if v in text] == []
    # The values are real: the export and the extract hold every canary and number the report counts.
    files = run.export.read_text(encoding="utf-8") + run.extract.read_text(encoding="utf-8")
    assert all(v in files for v in values)


@pytest.mark.parametrize(
    ("where", "leak"),
    [
        # The brief's broken deployment: the registry's key file copied into the TPF's key folder.
        ("keys/tpf/registry-backup.pem", lambda pem: pem),
        # The raw secret as hex text in a file of the TPF's state folder (no key-like name, not a PEM file).
        ("tpf/tmp/cache.txt", lambda pem: _raw_secret(pem).hex().encode() + b"\n"),
    ],
)
def test_b_the_registry_key_at_the_tpf_fails_key_custody_naming_the_file(
    audited: Chain, tmp_path: Path, where: str, leak: Callable[[bytes], bytes]
) -> None:
    registry_key = (audited.state_dir / "keys" / "registry" / "encryption.pem").read_bytes()
    target = audited.state_dir / where
    target.write_bytes(leak(registry_key))
    try:
        run = _audit(audited, tmp_path / "reports")
    finally:
        target.unlink()

    assert run.result.exit_code == 1, run.result.output
    assert f"key custody:      FAIL - {where} opens the canary payload envelope" in run.result.stdout
    assert "canary run:       PASS" in run.result.stdout
    assert "import contracts: PASS" in run.result.stdout
    custody = run.section(1)
    assert custody.lstrip().startswith("Result: **FAIL**")
    assert f"### Files that open the canary envelope\n\n- **`{where}`**:" in custody
    assert re.search(rf"^\| `{re.escape(where)}` \| [0-9]+ \| .* \| \*\*OPENS\*\*", custody, re.M)
    # The TPF's own keys still do not open it: only the leaked file is named.
    assert re.search(r"^\| `keys/tpf/encryption\.pem` \| [0-9]+ \| .* \| does not open", custody, re.M)
    assert "**OPENS**: opens the canary payload envelope" in custody  # the positive control still ran


def _raw_secret(pem: bytes) -> bytes:
    body = b"".join(line for line in pem.splitlines() if not line.startswith(b"-----"))
    return base64.b64decode(body)[-32:]  # PKCS#8 X25519: 16 bytes of structure, then the secret


def test_c_a_payload_string_in_a_tpf_log_line_fails_the_canary_run_naming_file_and_line(
    audited: Chain, tmp_path: Path
) -> None:
    # With a fixed seed the canaries are known in advance: canary #5 is the first service's tjenesteID.
    leaked = canary(SEED, 5)
    log = audited.state_dir / "tpf" / "logs" / "tpf.log"
    line = (
        json.dumps(
            {
                "event": "forwarding delivery",
                "first_service": leaked,
                "service": "tpf",
                "level": "info",
                "logger": "services.tpf.outbox",
                "timestamp": "2025-03-01T10:00:00.000000Z",
            }
        ).encode()
        + b"\n"
    )
    with log.open("ab") as handle:
        handle.write(line)
    data = log.read_bytes()
    offset = data.index(leaked.encode())
    line_number = data[:offset].count(b"\n") + 1
    try:
        run = _audit(audited, tmp_path / "reports")
    finally:
        log.write_bytes(log.read_bytes().replace(line, b""))

    assert run.result.exit_code == 1, run.result.output
    assert f"canary run:       FAIL - canaries found at the TPF: tpf/logs/tpf.log line {line_number} (canary #5)" in (
        run.result.stdout
    )
    assert "key custody:      PASS" in run.result.stdout
    canaries = run.section(2)
    assert canaries.lstrip().startswith("Result: **FAIL**")
    assert "| #5 | tjenesteID of service 1 of record 1 | yes |" in canaries
    assert f"| `tpf/logs/tpf.log` | canary #5 (plain) | {offset} | {line_number} |" in canaries
    assert leaked not in run.markdown
    assert leaked not in run.result.output


def _register_values(extract: Path) -> tuple[list[str], list[str]]:
    lines = [json.loads(line) for line in extract.read_bytes().splitlines()[1:-1]]
    histories = [json.dumps(p["bosted"], separators=(",", ":"), sort_keys=True) for p in lines]
    return histories, [entry["nummer"] for p in lines for entry in p["identifikasjonsnummer"]]


def test_d_a_residence_history_in_a_tpf_file_fails_the_register_path(audited: Chain, tmp_path: Path) -> None:
    # A TPF that wrote what it must not learn: a residence history of the register's payload, base64 in a cache file.
    # With a fixed seed the extract is the same every run; its first person's history is the value.
    first = _audit(audited, tmp_path / "first")
    assert "register path:    PASS" in first.result.stdout, first.result.output
    history = _register_values(first.extract)[0][0]
    leak = audited.state_dir / "tpf" / "tmp" / "residence.cache"
    leak.write_bytes(b"cached " + base64.b64encode(history.encode()) + b"\n")
    try:
        run = _audit(audited, tmp_path / "reports")
    finally:
        leak.unlink()
    assert run.result.exit_code == 1, run.result.output
    assert "register path:    FAIL - residence histories found at the TPF" in run.result.stdout
    assert "canary run:       PASS" in run.result.stdout
    register = run.section(4)
    assert register.lstrip().startswith("Result: **FAIL**")
    assert re.search(r"^\| `tpf/tmp/residence\.cache` \| residence history #1 \(base64", register, re.M)
    assert history not in run.markdown


@pytest.mark.parametrize("prefix", [b"", b"x", b"xy"])
def test_every_base64_alignment_and_utf16_form_of_a_canary_is_found(prefix: bytes) -> None:
    value = canary(SEED, 1)
    forms = dict(needle_forms(value))
    needles = [Needle("canary", 1, form, data) for form, data in forms.items()]
    for name, encoded in (
        ("base64", base64.b64encode(prefix + value.encode() + b"tail")),
        ("base64url", base64.urlsafe_b64encode(prefix + value.encode() + b"tail")),
        ("UTF-16LE", (prefix.decode() + value).encode("utf-16-le")),
        ("UTF-16BE", (prefix.decode() + value).encode("utf-16-be")),
    ):
        hits = search_bytes("blob", b"noise " + encoded + b" noise", needles)
        # A value whose encoding has no '+' or '/' reads the same in both base64 alphabets: one needle serves both.
        assert any(h.needle.form.startswith(name.removesuffix("url")) for h in hits), (name, prefix)
    assert search_bytes("blob", base64.b64encode(prefix + canary(SEED, 2).encode()), needles) == []


def test_a_report_folder_inside_the_tpf_state_is_refused(audited: Chain) -> None:
    out = audited.state_dir / "tpf" / "reports"
    result = CliRunner().invoke(audit_app, ["tpf-blindness", "--state-dir", str(audited.state_dir), "--out", str(out)])
    assert result.exit_code == 2
    assert "must not be inside the tpf's state folder" in result.output
    assert not out.exists()
