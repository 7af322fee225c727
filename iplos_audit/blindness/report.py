"""The TPF-blindness report: the three checks' results as a console summary, Markdown and HTML.

It names where something was found by file, offset, line and the canary's or identity number's number in the
canary export, never by the value itself, so that the report and the console output can be passed around.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from iplos_audit.blindness.canary_run import CanaryRun
from iplos_audit.blindness.contracts import ImportContracts
from iplos_audit.blindness.key_custody import KeyCustody
from iplos_audit.blindness.markdown import (
    cell,
    code,
    describe_tried,
    hits_table,
    html_page,
    note_lines,
    searched_table,
    verdict,
)
from iplos_audit.blindness.register_run import RegisterRun

__all__ = ["REPORT_STEM", "BlindnessReport"]

REPORT_STEM: Final = "tpf-blindness"


@dataclass
class BlindnessReport:
    state_dir: Path
    gateway: str
    tpf: str
    registry: str
    seed: int | None
    started_at: dt.datetime
    key_custody: KeyCustody
    canary_run: CanaryRun
    import_contracts: ImportContracts
    register_run: RegisterRun = field(default_factory=lambda: RegisterRun(applicable=False, notes=["not run"]))
    register_gateway: str | None = None
    finished_at: dt.datetime | None = None
    markdown_path: Path | None = None
    html_path: Path | None = None

    @property
    def ok(self) -> bool:
        register = self.register_run.ok or not self.register_run.applicable  # shown as NOT RUN, never as PASS
        return self.key_custody.ok and self.canary_run.ok and self.import_contracts.ok and register

    def summary_lines(self) -> list[str]:
        lines = [
            f"TPF blindness: {'PASS' if self.ok else 'FAIL'}",
            f"  key custody:      {'PASS' if self.key_custody.ok else 'FAIL'} - {self.key_custody.summary()}",
            f"  canary run:       {'PASS' if self.canary_run.ok else 'FAIL'} - {self.canary_run.summary()}",
            f"  import contracts: {'PASS' if self.import_contracts.ok else 'FAIL'} - {self.import_contracts.summary()}",
            f"  register path:    {_register_verdict(self.register_run, plain=True)} - {self.register_run.summary()}",
        ]
        if self.markdown_path is not None and self.html_path is not None:
            lines.append(f"report: {self.markdown_path} and {self.html_path}")
        return lines

    # -- Markdown

    def markdown(self) -> str:
        out: list[str] = []
        add = out.append
        add("# TPF blindness audit")
        add("")
        add(f"Result: {verdict(self.ok)}")
        add("")
        add("| | |")
        add("|---|---|")
        add(f"| state folder | {cell(code(self.state_dir))} |")
        add(f"| gateway | {cell(code(self.gateway))} |")
        add(f"| TPF | {cell(code(self.tpf))} |")
        add(f"| registry | {cell(code(self.registry))} |")
        add(f"| population register's gateway | {cell(code(self.register_gateway or '-'))} |")
        add(f"| seed | {'none (canaries drawn fresh)' if self.seed is None else self.seed} |")
        add(f"| started | {self.started_at.strftime('%Y-%m-%dT%H:%M:%SZ')} |")
        if self.finished_at is not None:
            add(f"| finished | {self.finished_at.strftime('%Y-%m-%dT%H:%M:%SZ')} |")
        add("")
        add(
            "File names are relative to the state folder. Findings name a canary or an identity number by its "
            "number in the canary export, never by its value; the export file named below holds the values."
        )
        add("")
        add("| check | result | |")
        add("|---|---|---|")
        add(f"| 1. Key custody | {verdict(self.key_custody.ok)} | {cell(self.key_custody.summary())} |")
        add(f"| 2. Canary run | {verdict(self.canary_run.ok)} | {cell(self.canary_run.summary())} |")
        add(f"| 3. Import contracts | {verdict(self.import_contracts.ok)} | {cell(self.import_contracts.summary())} |")
        register = self.register_run
        add(f"| 4. Register path | {_register_verdict(register)} | {cell(register.summary())} |")
        add("")
        out.extend(self._key_custody_markdown())
        out.extend(self._canary_markdown())
        out.extend(self._contracts_markdown())
        out.extend(self._register_markdown())
        return "\n".join(out) + "\n"

    def _key_custody_markdown(self) -> list[str]:
        k = self.key_custody
        out = ["## 1. Key custody", "", f"Result: {verdict(k.ok)}", ""]
        out.append(
            "A fresh canary payload part (`iplos-payload/2`, HPKE X25519-HKDF-SHA256-AES-256-GCM, "
            "docs/envelope-v1.md section 5) is sealed for the registry's current encryption key from "
            "`keys/directory.json`. Every file under `keys/tpf` and every file in the TPF's state folder `tpf/` "
            "is tried against it: PEM private keys of any type (X25519 directly; Ed25519 converted to X25519 and "
            "its seed as a raw X25519 secret; a 256-bit EC scalar as a raw X25519 secret), DER, the whole file as "
            "raw 32 or 64 bytes, and every 32- or 64-byte value written as base64, base64url or hex. Files in "
            "`keys/tpf`, small files and files named like keys are tried whole; in other state files only PEM "
            "blocks and base64/hex values are (32-byte windows of binary database pages are not tried). "
            "An attempt opens the part only if every chunk authenticates and the body is the one sealed."
        )
        out.append("")
        for error in k.errors:
            out += [f"- **Error:** {error}"]
        if k.errors:
            out.append("")
        if k.envelope is not None:
            c = k.envelope.context
            out += [
                "| canary envelope | |",
                "|---|---|",
                f"| kind, sender, recipient | `{c.kind}`, `{c.sender}`, `{c.recipient}` |",
                f"| recipient key id | `{c.recipient_kid}` (the registry's current X25519 key in the directory) |",
                f"| message id | `{c.message_id}` |",
                f"| size, SHA-256 | {len(k.envelope.part)} bytes, `{k.envelope.sha256}` |",
                "",
            ]
        out += ["### Positive control: the registry's key opens the canary envelope", ""]
        out += [
            "| key file | key id | result |",
            "|---|---|---|",
            f"| {cell(code(k.control_file or '-'))} | {cell(k.control_kid or '-')} | "
            f"{'**OPENS**' if k.control_opened else '**FAIL**'}: {cell(k.control_result)} |",
            "",
        ]
        if k.openers:
            out += ["### Files that open the canary envelope", ""]
            for file, attempt in k.openers:
                out.append(f"- **{code(file.file)}**: {attempt.interpretation}")
            out.append("")
        out += ["### Every file tried", ""]
        out += ["| file | size | interpretations tried | result |", "|---|---|---|---|"]
        for f in k.files:
            tried = [a for a in f.attempts if a.result in ("does not open",) or a.opened]
            if f.opened:
                result = "**OPENS**: " + "; ".join(a.interpretation for a in f.opened)
            elif f.inconclusive:
                result = "**could not be tried**: " + "; ".join(
                    f"{a.interpretation}: {a.result}" for a in f.attempts if a.inconclusive
                )
            elif tried:
                result = "does not open"
            else:
                result = f.note or "nothing key-like in it"
            others = [a for a in f.attempts if not a.opened and not a.inconclusive and a.result != "does not open"]
            if others:
                result += " (" + "; ".join(f"{a.interpretation}: {a.result}" for a in others) + ")"
            if f.note and (tried or f.opened):
                result += f" ({f.note})"
            size = "-" if f.size is None else str(f.size)
            out.append(f"| {cell(code(f.file))} | {size} | {cell(describe_tried(tried))} | {cell(result)} |")
        out.append("")
        return out + note_lines(k.notes)

    def _canary_markdown(self) -> list[str]:
        r = self.canary_run
        out = ["## 2. Canary run", "", f"Result: {verdict(r.ok)}", ""]
        out.append(
            "A synthetic export (synthetic identity numbers only) whose free-text payload fields carry unique "
            "ASCII canaries is submitted through the gateway with the municipality's token and followed until the "
            "registry has stored it. Then every file under `tpf/` (raw bytes, recursively: databases with their "
            "-wal/-journal files, logs, outbox, tmp) and the TPF's answers about the message (its message status, "
            "every page of its audit log, the inclusion proof for the message) are searched for "
            "every canary, and every file under `registry/` and the registry's answers for every identity number "
            "of the export, each as plain bytes, UTF-16LE/BE, hex, and base64 and base64url in all three "
            "alignments."
        )
        out.append("")
        for error in r.errors:
            out.append(f"- **Error:** {error}")
        if r.errors:
            out.append("")
        out += [
            "| | |",
            "|---|---|",
            f"| municipality, year | {r.municipality or '-'}, {r.year} |",
            f"| export file | {cell(code(r.export_file or '-'))} |",
            f"| records, canaries | {r.identity_count}, {len(r.canaries)} |",
            f"| submission | {cell(code(r.submission_id or '-'))}, gateway state {cell(r.state or '-')} |",
            "",
        ]
        out += ["### The TPF holds no canary", ""]
        out.extend(hits_table(r.tpf.hits, "No canary in any file or answer of the TPF."))
        out.extend(searched_table(r.tpf))
        found = r.found_at_registry()
        out += ["### Positive control: the canaries are in what the registry stored", ""]
        if r.registry_database_files:
            out.append(
                "The registry's SQLite database file(s): " + ", ".join(code(f) for f in r.registry_database_files) + "."
            )
        else:
            out.append(
                "**No SQLite database file under `registry/`**: the registry does not keep a file database here "
                "(PostgreSQL?), so the positive control cannot run and the check fails."
            )
        out.append("")
        if r.stored_canaries and not r.missing_at_registry:
            out.append(f"All {len(r.stored_canaries)} canaries in fields the registry stores were found there.")
        elif r.missing_at_registry:
            out.append(
                f"**{len(r.missing_at_registry)} of {len(r.stored_canaries)} canaries in fields the registry stores "
                "were not found there: the search cannot be trusted, the check fails.**"
            )
        out.append("")
        out += ["| canary | field | registry stores it | found at the registry in |", "|---|---|---|---|"]
        for c in r.canaries:
            places = ", ".join(code(p) for p in found.get(c.number, [])) or (
                "**not found**" if c.stored_by_registry else "not found (not kept by the registry)"
            )
            out.append(
                f"| #{c.number} | {cell(c.carried_in)} | {'yes' if c.stored_by_registry else 'no'} | {cell(places)} |"
            )
        out.append("")
        out += ["### The registry holds no identity number", ""]
        out.extend(hits_table(r.registry_identities.hits, "No identity number in any file or answer of the registry."))
        out.extend(searched_table(r.registry_identities))
        out += ["### Positive control: the identity numbers are in the export file", ""]
        if r.identity_count and not r.missing_in_export:
            out.append(f"All {r.identity_count} identity numbers of the export were found in the export file.")
        elif r.identity_count:
            missing = ", ".join(f"#{n}" for n in r.missing_in_export)
            out.append(f"**Identity numbers {missing} were not found in the export file: the search is broken.**")
        else:
            out.append("**No export was made, so this control did not run.**")
        out.append("")
        return out + note_lines(r.notes)

    def _contracts_markdown(self) -> list[str]:
        c = self.import_contracts
        out = ["## 3. Import contracts", "", f"Result: {verdict(c.ok)}", ""]
        out.append(
            f"`{c.command or 'lint-imports'}` with the project's own configuration {code(c.config or '-')}, "
            f"exit code {c.returncode if c.returncode is not None else '-'}. The contracts must include one that "
            "forbids `services.tpf` to import `shared.envelope.payload_open` and `shared.keys.registry`."
        )
        out.append("")
        for error in c.errors:
            out.append(f"- **Error:** {error}")
        if c.errors:
            out.append("")
        if c.contracts:
            out += ["| contract | status |", "|---|---|"]
            out += [f"| {cell(name)} | **{status}** |" for name, status in c.contracts]
            out.append("")
        if not c.ok and c.output_tail:
            out += ["```", c.output_tail.replace("```", "'''"), "```", ""]
        return out

    # -- HTML

    def _register_markdown(self) -> list[str]:
        r = self.register_run
        out = ["## 4. Register path", "", f"Result: {_register_verdict(r)}", ""]
        out.append(
            "A population register extract (a simulated population's residents of the canary municipality and year, "
            "synthetic identity numbers only) is sent through the population register's own gateway with the "
            "register's token and followed until the registry has stored it. The register's payload has no free "
            "text, so each person's residence history (the `bosted` array as the extract and the registry's payload "
            "write it) takes the canary's place: every file under `tpf/` and the TPF's answers about the message are "
            "searched for each history, and every file under `registry/` and the registry's audit answers for each "
            "identity number of the extract, in the same forms as the canary run."
        )
        out.append("")
        if not r.applicable:
            return [*out, *note_lines(r.notes)]
        out += [f"- **Error:** {error}" for error in r.errors]
        if r.errors:
            out.append("")
        out += [
            "| | |",
            "|---|---|",
            f"| municipality, year | {r.municipality or '-'}, {r.year or '-'} |",
            f"| extract file | {cell(code(r.extract_file or '-'))} |",
            f"| persons, identity numbers | {r.person_count}, {r.identity_count} |",
            f"| submission | {cell(code(r.submission_id or '-'))}, gateway state {cell(r.state or '-')} |",
            f"| persons the registry stored (its receipt) | {'-' if r.records_stored is None else r.records_stored} |",
            "",
        ]
        out += ["### The TPF holds no residence history", ""]
        out.extend(hits_table(r.tpf.hits, "No residence history in any file or answer of the TPF."))
        out.extend(searched_table(r.tpf))
        out += ["### The registry holds none of the register's identity numbers", ""]
        out.extend(
            hits_table(
                r.registry_identities.hits, "No identity number of the extract in any file or answer of the registry."
            )
        )
        out.extend(searched_table(r.registry_identities))
        out += ["### Positive control: every value is in the extract file", ""]
        if r.missing_in_extract:
            out.append(f"**Not found in the extract file: {', '.join(r.missing_in_extract)}: the search is broken.**")
        else:
            out.append(
                f"All {r.person_count} residence histories and {r.identity_count} identity numbers were found in the "
                "extract file."
            )
        out.append("")
        return out + note_lines(r.notes)

    def html(self) -> str:
        return html_page(self.markdown(), f"TPF blindness audit: {'PASS' if self.ok else 'FAIL'}")

    def write(self, out_dir: Path, stamp: str) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        self.markdown_path = out_dir / f"{REPORT_STEM}-{stamp}.md"
        self.html_path = out_dir / f"{REPORT_STEM}-{stamp}.html"
        self.markdown_path.write_text(self.markdown(), encoding="utf-8")
        self.html_path.write_text(self.html(), encoding="utf-8")


def _register_verdict(run: RegisterRun, *, plain: bool = False) -> str:
    if not run.applicable:
        return "NOT RUN" if plain else "**NOT RUN**"
    return ("PASS" if run.ok else "FAIL") if plain else verdict(run.ok)
