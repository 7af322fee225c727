"""Check 2, the canary run: an export full of canaries through the chain, then every search.

A synthetic export whose payload fields carry unique ASCII canaries goes through the chain until the registry
has stored it. Nothing the TPF wrote or answers may hold a canary; what the registry stored must (positive
control). The same for the registry and the export's identity numbers: none at the registry, all of them in the
export file (positive control).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from iplos_audit.blindness.answers import search_answer, search_audit_answers
from iplos_audit.blindness.canaries import DEFAULT_PERSONS, DEFAULT_YEAR, Canary, canary_value, needles_for
from iplos_audit.blindness.progress import Progress, quiet
from iplos_audit.blindness.search import Hit, Searched, search_bytes, search_folder
from iplos_chain import CREDENTIALS_FOLDER, client, municipality_token_file, served_municipalities, trust
from iplos_testkit.generator import generate_records
from iplos_testkit.writer import write_export
from shared.iplos.model import Coercion, ExportHeader, PersonRecord

__all__ = ["CanaryRun", "build_canary_export", "read_token", "run_canaries"]


@dataclass
class CanaryRun:
    municipality: str | None = None
    year: int = DEFAULT_YEAR
    seed: int | None = None
    export_file: str | None = None
    canaries: list[Canary] = field(default_factory=list)
    identity_count: int = 0
    submission_id: str | None = None
    state: str | None = None
    tpf: Searched = field(default_factory=Searched)
    registry_canaries: Searched = field(default_factory=Searched)
    registry_identities: Searched = field(default_factory=Searched)
    registry_database_files: list[str] = field(default_factory=list)
    export_identity_hits: set[int] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def stored_canaries(self) -> list[Canary]:
        return [c for c in self.canaries if c.stored_by_registry]

    def found_at_registry(self) -> dict[int, list[str]]:
        found: dict[int, list[str]] = {}
        for hit in self.registry_canaries.hits:
            places = found.setdefault(hit.needle.number, [])
            if hit.where not in places:
                places.append(hit.where)
        return found

    @property
    def missing_at_registry(self) -> list[Canary]:
        found = self.found_at_registry()
        return [c for c in self.stored_canaries if c.number not in found]

    @property
    def missing_in_export(self) -> list[int]:
        return [n for n in range(1, self.identity_count + 1) if n not in self.export_identity_hits]

    @property
    def ok(self) -> bool:
        return (
            not self.errors
            and self.state == "stored"
            and not self.tpf.hits
            and not self.tpf.unreadable
            and not self.registry_identities.hits
            and not self.registry_identities.unreadable
            and bool(self.registry_database_files)
            and bool(self.stored_canaries)
            and not self.missing_at_registry
            and self.identity_count > 0
            and not self.missing_in_export
        )

    def summary(self) -> str:
        if self.errors:
            return self.errors[0]
        if self.tpf.hits:
            return f"canaries found at the TPF: {_places(self.tpf.hits)}"
        if self.registry_identities.hits:
            return f"identity numbers found at the registry: {_places(self.registry_identities.hits)}"
        if self.tpf.unreadable or self.registry_identities.unreadable:
            return "some files could not be read, so they could not be searched"
        if not self.registry_database_files:
            return "positive control not run: no SQLite database file under registry/ (not a file database?)"
        if self.missing_at_registry:
            return (
                f"positive control failed: {len(self.missing_at_registry)} of {len(self.stored_canaries)} canaries "
                "are not in what the registry stored, so the search proves nothing"
            )
        if self.missing_in_export:
            return "positive control failed: identity numbers not found in the export file"
        return (
            f"{len(self.canaries)} canaries: none in {len(self.tpf.files)} TPF files and {self.tpf.answers_searched} "
            f"TPF answers, all {len(self.stored_canaries)} stored ones at the registry; {self.identity_count} "
            "identity numbers: none at the registry, all in the export"
        )


def _places(hits: Sequence[Hit], limit: int = 3) -> str:
    """Where, briefly, for the console: file and line (or offset) and which value, never the value."""
    ordered = sorted(hits, key=lambda h: (h.where, h.offset))
    shown = [
        f"{h.where} {'line ' + str(h.line) if h.line is not None else 'offset ' + str(h.offset)} ({h.needle.label})"
        for h in ordered[:limit]
    ]
    more = f" and {len(ordered) - limit} more" if len(ordered) > limit else ""
    return ", ".join(shown) + more


def build_canary_export(
    municipality: str, year: int, persons: int, seed: int | None
) -> tuple[ExportHeader, list[PersonRecord], list[Canary]]:
    """A synthetic export (synthetic identity numbers only) whose free-text payload fields are canaries.

    Fields: the EPJ header texts and the contact's name (payload header; the registry does not keep them), every
    service's tjenesteID and every coercion decision's vedtakID (payload records; the registry stores both).
    These are the payload's free-text fields whose schema patterns admit ``CANARY-<hex>``; the others are codes,
    dates, numbers or patterned values (orgNr, telephone, e-mail)."""
    key = f"seed:{seed}" if seed is not None else secrets.token_hex(16)
    canaries: list[Canary] = []

    def new(where: str, stored: bool) -> str:
        value = canary_value(key, len(canaries) + 1)
        canaries.append(Canary(len(canaries) + 1, where, stored, value))
        return value

    header, records = generate_records(municipality, year, persons, seed)
    contact = header.kontaktperson
    header = dataclasses.replace(
        header,
        # A message of its own every run, even with a fixed seed: the gateway answers a byte-identical export
        # with the submission it already is (identical-resubmission) instead of sending it again.
        melding_guid=str(uuid.uuid4()),
        navn_epj=new("navnEPJ (export header)", False),
        leverandor=new("leverandor (export header)", False),
        versjon_epj=new("versjonEPJ (export header)", False),
        kontaktperson=None if contact is None else dataclasses.replace(contact, navn=new("kontaktperson.navn", False)),
    )
    people: list[PersonRecord] = []
    for record_number, person in enumerate(records, start=1):
        services = tuple(
            dataclasses.replace(s, tjeneste_id=new(f"tjenesteID of service {n} of record {record_number}", True))
            for n, s in enumerate(person.services, start=1)
        )
        coercion = tuple(
            dataclasses.replace(c, vedtak_id=new(f"vedtakID of coercion decision {n} of record {record_number}", True))
            for n, c in enumerate(person.coercion, start=1)
        )
        people.append(dataclasses.replace(person, services=services, coercion=coercion))
    if people and not any(p.coercion for p in people):
        # A small export often has no coercion decision: add one, so that field carries a canary as well.
        decision = Coercion(
            vedtak_id=new("vedtakID of coercion decision 1 of record 1 (added)", True),
            legal_basis="HOL9",
            decision_date=dt.date(year, 1, 10),
            start_date=dt.date(year, 1, 15),
            end_date=None,
        )
        people[0] = dataclasses.replace(people[0], coercion=(decision,))
    return header, people, canaries


def read_token(path: Path) -> str | None:
    """The token in ``path``, or None if it is missing, unreadable or empty."""
    try:
        return path.read_text(encoding="ascii").strip() or None
    except (OSError, UnicodeDecodeError):
        return None


def run_canaries(
    state_dir: Path,
    gateway: str,
    tpf: str,
    registry: str,
    export_path: Path,
    *,
    seed: int | None,
    municipality: str | None = None,
    year: int = DEFAULT_YEAR,
    persons: int = DEFAULT_PERSONS,
    timeout_s: float = 120.0,
    progress: Progress = quiet,
) -> CanaryRun:
    run = CanaryRun(year=year, seed=seed)
    served = served_municipalities(state_dir)
    with_token = [nr for nr in served if municipality_token_file(state_dir, nr).is_file()]
    if municipality is None:
        if not with_token:
            run.errors.append(
                f"no municipality token in {CREDENTIALS_FOLDER}/ for any municipality the gateway serves "
                f"({', '.join(served) or 'none found in keys/municipalities'})"
            )
            return run
        municipality = with_token[0]
    run.municipality = municipality
    municipality_token = read_token(municipality_token_file(state_dir, municipality))
    operator_token = read_token(state_dir / CREDENTIALS_FOLDER / "operator-token")
    if municipality_token is None:
        run.errors.append(f"no readable token file {CREDENTIALS_FOLDER}/municipality-{municipality}-token")
        return run
    if operator_token is None:
        run.errors.append(f"no readable {CREDENTIALS_FOLDER}/operator-token (needed to read the registry's answer)")
        return run

    header, people, run.canaries = build_canary_export(municipality, year, persons, seed)
    numbers = [person.fid for person in people]
    run.identity_count = len(numbers)
    export_path.parent.mkdir(parents=True, exist_ok=True)
    write_export(export_path, header, people)
    run.export_file = export_path.as_posix()
    canary_needles = needles_for("canary", [(c.number, c.value) for c in run.canaries])
    number_needles = needles_for("identity number", list(enumerate(numbers, start=1)))

    # Positive control for the identity-number search: the same search finds every number in the export.
    export_hits = search_bytes("export", export_path.read_bytes(), [n for n in number_needles if n.form == "plain"])
    run.export_identity_hits = {hit.needle.number for hit in export_hits}

    verify = trust(state_dir)
    progress(
        f"canary run: submitting {len(people)} records with {len(run.canaries)} canaries for {municipality}/{year}"
    )
    try:
        accepted = client.submit(export_path, gateway, token=municipality_token, verify=verify)
        run.submission_id = str(accepted["submission_id"])
        final = client.wait_final(gateway, run.submission_id, timeout_s, token=municipality_token, verify=verify)
    except client.ChainError as exc:
        run.errors.append(f"the canary submission did not go through: {exc}")
        return run
    run.state = str(final.get("state"))
    if run.state != "stored":
        run.errors.append(f"the canary submission ended {run.state}, not stored: {final.get('last_error')}")
        return run
    message_id = run.submission_id

    progress("canary run: stored; searching what the TPF wrote and answers")
    tpf_folder = state_dir / "tpf"
    if tpf_folder.is_dir():
        search_folder(state_dir, tpf_folder, canary_needles, run.tpf)
    else:
        run.errors.append("the TPF's state folder tpf/ does not exist: nothing the TPF wrote could be searched")
    search_answer(
        "TPF",
        tpf,
        f"/v1/messages/{message_id}",
        operator_token,
        canary_needles,
        run.tpf,
        required=True,
        errors=run.errors,
        # The TPF tells of a message only over a connection with its municipality's certificate, as its gateway.
        verify=trust(state_dir, as_municipality=municipality),
    )
    search_audit_answers(
        "TPF",
        tpf,
        message_id,
        operator_token,
        canary_needles,
        run.tpf,
        run.errors,
        run.notes,
        required=True,
        verify=verify,
    )

    progress("canary run: searching what the registry stored and answers")
    registry_folder = state_dir / "registry"
    if registry_folder.is_dir():
        search_folder(state_dir, registry_folder, canary_needles, run.registry_canaries)
        search_folder(state_dir, registry_folder, number_needles, run.registry_identities)
        run.registry_database_files = [
            where for where, _ in run.registry_canaries.files if _is_sqlite(state_dir / where)
        ]
    else:
        run.errors.append("the registry's state folder registry/ does not exist")
    search_answer(
        "registry",
        registry,
        f"/v1/submissions/{message_id}",
        operator_token,
        number_needles,
        run.registry_identities,
        required=True,
        errors=run.errors,
        verify=verify,
    )
    search_audit_answers(
        "registry",
        registry,
        message_id,
        operator_token,
        number_needles,
        run.registry_identities,
        run.errors,
        run.notes,
        required=False,
        verify=verify,
    )
    return run


def _is_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(16) == b"SQLite format 3\0"
    except OSError:
        return False
