"""Check 4, the register path (issue 14): a population register extract through the register's own gateway, the TPF
and the registry, then the same searches as the canary run, with the register's values in place of canaries.

The register's payload has no free text to carry a canary, so each person's residence history (the ``bosted`` array
exactly as the extract and the registry's payload write it: municipalities and dates, what the TPF must not learn)
is the value searched for. Nothing the TPF wrote or answers may hold one (positive control: every one is in the
extract file); nothing the registry wrote or answers may hold any of the extract's identity numbers (positive
control: every one is in the extract file). The registry must have stored the extract (its receipt counts the
persons). A chain without the register's gateway (no ``credentials/register-token``) does not run this check, and
the report says so.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from iplos_audit.blindness.answers import search_answer, search_audit_answers
from iplos_audit.blindness.canaries import Needle, needles_for
from iplos_audit.blindness.canary_run import read_token
from iplos_audit.blindness.progress import Progress, quiet
from iplos_audit.blindness.search import Searched, search_bytes, search_folder
from iplos_chain import CREDENTIALS_FOLDER, client, trust
from iplos_chain.state import KEYS_FOLDER, register_token_file
from iplos_testkit.population import Population
from keys.generate import DIRECTORY_FILE, POPULATION_REGISTER_FOLDER
from services.kit.tls import client_context
from shared.keys import POPULATION_REGISTER, PublicDirectory, tls_files
from shared.population import ExtractHeader, RegisterPerson, write_extract

__all__ = ["RegisterRun", "run_register"]


@dataclass
class RegisterRun:
    applicable: bool = True
    municipality: str | None = None
    year: int | None = None
    extract_file: str | None = None
    person_count: int = 0
    identity_count: int = 0
    submission_id: str | None = None
    state: str | None = None
    records_stored: int | None = None
    tpf: Searched = field(default_factory=Searched)
    registry_identities: Searched = field(default_factory=Searched)
    extract_history_hits: set[int] = field(default_factory=set)
    extract_identity_hits: set[int] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def missing_in_extract(self) -> list[str]:
        histories = [f"history #{n}" for n in range(1, self.person_count + 1) if n not in self.extract_history_hits]
        numbers = [f"number #{n}" for n in range(1, self.identity_count + 1) if n not in self.extract_identity_hits]
        return histories + numbers

    @property
    def ok(self) -> bool:
        return (
            not self.errors
            and self.state == "stored"
            and self.records_stored == self.person_count > 0
            and not self.tpf.hits
            and not self.tpf.unreadable
            and not self.registry_identities.hits
            and not self.registry_identities.unreadable
            and self.identity_count > 0
            and not self.missing_in_extract
        )

    def summary(self) -> str:
        if not self.applicable:
            return self.notes[0] if self.notes else "not run"
        if self.errors:
            return self.errors[0]
        if self.tpf.hits:
            return f"residence histories found at the TPF: {len(self.tpf.hits)} place(s)"
        if self.registry_identities.hits:
            return (
                f"the register's identity numbers found at the registry: {len(self.registry_identities.hits)} place(s)"
            )
        if self.tpf.unreadable or self.registry_identities.unreadable:
            return "some files could not be read, so they could not be searched"
        if self.records_stored != self.person_count:
            return f"the registry stored {self.records_stored} of the extract's {self.person_count} persons"
        if self.missing_in_extract:
            return "positive control failed: values not found in the extract file, so the search proves nothing"
        return (
            f"{self.person_count} persons' residence histories: none in {len(self.tpf.files)} TPF files and "
            f"{self.tpf.answers_searched} TPF answers, all in the extract; {self.identity_count} identity numbers: "
            "none at the registry, all in the extract; the registry stored every person"
        )


def run_register(
    state_dir: Path,
    register_gateway: str,
    tpf: str,
    registry: str,
    extract_path: Path,
    *,
    municipality: str,
    year: int,
    seed: int | None,
    timeout_s: float = 120.0,
    progress: Progress = quiet,
) -> RegisterRun:
    run = RegisterRun(municipality=municipality, year=year)
    token_file = register_token_file(state_dir)
    register_keys = state_dir / KEYS_FOLDER / POPULATION_REGISTER_FOLDER / POPULATION_REGISTER
    if not token_file.is_file() or not register_keys.is_dir():
        run.applicable = False
        run.notes.append(
            f"not run: this chain has no population register gateway (no {CREDENTIALS_FOLDER}/{token_file.name}"
            " or no register keys); `iplos up` runs one"
        )
        return run
    token = read_token(token_file)
    operator_token = read_token(state_dir / CREDENTIALS_FOLDER / "operator-token")
    if token is None or operator_token is None:
        run.errors.append(f"no readable {token_file.name} or operator-token in {CREDENTIALS_FOLDER}/")
        return run

    persons = _extract_persons(municipality, year, seed)
    extract_path.parent.mkdir(parents=True, exist_ok=True)
    header = ExtractHeader(str(uuid.uuid4()), municipality, year, max(dt.date.today(), dt.date(year + 1, 1, 1)))
    buffer = io.BytesIO()
    write_extract(buffer, header, persons)
    extract = buffer.getvalue()
    extract_path.write_bytes(extract)
    run.extract_file = extract_path.as_posix()
    run.person_count = len(persons)
    histories, numbers = _values(extract)
    run.identity_count = len(numbers)
    history_needles = needles_for("residence history", list(enumerate(histories, start=1)))
    number_needles = needles_for("identity number", list(enumerate(numbers, start=1)))
    # Positive controls: the same searches find every value in the extract itself.
    run.extract_history_hits = _found_plain(extract, history_needles)
    run.extract_identity_hits = _found_plain(extract, number_needles)

    verify = trust(state_dir)
    progress(f"register path: sending an extract of {len(persons)} persons for {municipality}/{year}")
    try:
        accepted = client.submit(extract_path, register_gateway, token=token, verify=verify)
        run.submission_id = str(accepted["submission_id"])
        final = client.wait_final(register_gateway, run.submission_id, timeout_s, token=token, verify=verify)
    except client.ChainError as exc:
        run.errors.append(f"the register extract did not go through: {exc}")
        return run
    run.state = str(final.get("state"))
    receipt = final.get("receipt")
    run.records_stored = receipt.get("records_stored") if isinstance(receipt, dict) else None
    if run.state != "stored":
        run.errors.append(f"the register extract ended {run.state}, not stored: {final.get('last_error')}")
        return run

    progress("register path: stored; searching what the TPF wrote and answers, and what the registry holds")
    tpf_folder, registry_folder = state_dir / "tpf", state_dir / "registry"
    if not tpf_folder.is_dir() or not registry_folder.is_dir():
        run.errors.append("the TPF's or the registry's state folder does not exist")
        return run
    search_folder(state_dir, tpf_folder, history_needles, run.tpf)
    # The TPF tells of a register message only over the register's own TLS connection.
    directory = PublicDirectory.load(state_dir / KEYS_FOLDER / DIRECTORY_FILE)
    as_register = client_context(directory.tls_ca, *tls_files(register_keys))
    path = f"/v1/messages/{run.submission_id}"
    search_answer(
        "TPF", tpf, path, operator_token, history_needles, run.tpf, required=True, errors=run.errors, verify=as_register
    )
    search_audit_answers(
        "TPF",
        tpf,
        run.submission_id,
        operator_token,
        history_needles,
        run.tpf,
        run.errors,
        run.notes,
        required=True,
        verify=verify,
    )
    search_folder(state_dir, registry_folder, number_needles, run.registry_identities)
    search_audit_answers(
        "registry",
        registry,
        run.submission_id,
        operator_token,
        number_needles,
        run.registry_identities,
        run.errors,
        run.notes,
        required=False,
        verify=verify,
    )
    return run


def _extract_persons(municipality: str, year: int, seed: int | None) -> list[RegisterPerson]:
    """Everybody who lived in ``municipality`` in ``year`` in a small simulated population (synthetic numbers only)
    of it and a neighbour, with moves, deaths and D-numbers replaced by fødselsnumre."""
    neighbour = "1103" if municipality != "1103" else "0301"
    population = Population((municipality, neighbour), (year - 1, year), residents=30, seed=seed or 0)
    views = [person.register_view(year) for person in population.persons]
    return [view for view in views if view is not None and view.resident_in(municipality, year)]


def _values(extract: bytes) -> tuple[list[str], list[str]]:
    """Each person's residence history as the extract (and the registry's payload) writes it, and every identity
    number, in the order of the lines."""
    histories: list[str] = []
    numbers: list[str] = []
    for line in extract.splitlines()[1:-1]:
        person = json.loads(line)
        histories.append(json.dumps(person["bosted"], separators=(",", ":"), sort_keys=True, ensure_ascii=False))
        numbers += [entry["nummer"] for entry in person["identifikasjonsnummer"]]
    return histories, numbers


def _found_plain(data: bytes, needles: list[Needle]) -> set[int]:
    return {hit.needle.number for hit in search_bytes("extract", data, [n for n in needles if n.form == "plain"])}
