"""``iplos audit verify`` and ``iplos audit prove``: check the three services' audit logs from the outside.

For each log: the latest checkpoint and every earlier one must carry a valid signature of the party the log is
for (found in the public-key directory, never in what the service sends); each checkpoint must extend the one
before it (consistency proofs); replaying every entry must give the latest checkpoint's root; and a checkpoint
this auditor saw on an earlier run (the witness file) must be a prefix of today's log. A log that was edited,
shortened, reordered or forked fails one of these.

Then the three logs are reconciled message by message: the gateway sealed it, the TPF pseudonymised exactly
what was sealed (same digests, same record count), the registry stored exactly what the TPF forwarded, and the
counts add up (records sent = pseudonymised + refused = stored).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from shared.audit import (
    AuditEntry,
    Checkpoint,
    InvalidAuditData,
    SignedCheckpoint,
    verify_checkpoint_document,
    verify_consistency_document,
    verify_entries,
    verify_inclusion_document,
)
from shared.keys import PublicDirectory

SERVICES = ("gateway", "tpf", "registry")
PAGE = 1000


class AuditFetchError(RuntimeError):
    """A service could not be asked, or did not answer as the audit API says."""


@dataclass
class Source:
    """One service's audit API: ``client`` has the service's base URL and the auditor's credential."""

    service: str
    client: httpx.Client

    def get(self, path: str, **params: Any) -> Any:
        try:
            response = self.client.get(f"/v1/audit{path}", params=params)
        except httpx.HTTPError as exc:
            raise AuditFetchError(f"{self.service}: could not be reached ({type(exc).__name__})") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != 200:
            kind = body.get("type", "") if isinstance(body, dict) else ""
            raise AuditFetchError(f"{self.service}: GET /v1/audit{path} answered HTTP {response.status_code} {kind}")
        return body


@dataclass
class LogView:
    service: str
    checkpoint: Checkpoint
    signed: SignedCheckpoint
    checkpoints: int
    entries: list[AuditEntry]


@dataclass
class Report:
    checked: list[str] = field(default_factory=list)
    discrepancies: list[str] = field(default_factory=list)
    in_flight: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.discrepancies

    def fail(self, message: str) -> None:
        self.discrepancies.append(message)


# -- one log ---------------------------------------------------------------------------------------------------


def _expected_log(service: str) -> str | None:
    # The gateway signs as the municipality it serves (its party name is kommune-NNNN); the others by role name.
    return None if service == "gateway" else service


def _verified_checkpoint(source: Source, document: Any, directory: PublicDirectory) -> SignedCheckpoint:
    signed = verify_checkpoint_document(document, directory, log=_expected_log(source.service))
    if source.service == "gateway":
        party = next(p for p in directory.parties() if p.name == signed.checkpoint.log)
        if party.role != "municipality":
            raise InvalidAuditData("log-mismatch", "the gateway's log is not signed by a municipality")
    return signed


def read_log(source: Source, directory: PublicDirectory, report: Report) -> LogView | None:
    """Fetch and verify one log; every failure is reported and the log is then left out of reconciliation."""
    name = source.service
    try:
        latest = _verified_checkpoint(source, source.get("/checkpoint"), directory)
        history = _history(source, directory)
        previous: SignedCheckpoint | None = None
        for signed in history:
            if previous is not None:
                if signed.checkpoint.tree_size <= previous.checkpoint.tree_size:
                    raise InvalidAuditData("proof-failed", "the checkpoints do not grow")
                document = source.get(
                    "/proof/consistency", first=previous.checkpoint.tree_size, second=signed.checkpoint.tree_size
                )
                verify_consistency_document(document, previous.checkpoint, signed.checkpoint)
            previous = signed
        if previous is None or previous.checkpoint != latest.checkpoint:
            raise InvalidAuditData("proof-failed", "the latest checkpoint is not the last of the served history")
        entries = verify_entries(_entry_texts(source, latest.checkpoint.tree_size), latest.checkpoint)
        if any(entry.service != name for entry in entries):
            raise InvalidAuditData("proof-failed", f"an entry names another service than {name}")
    except InvalidAuditData as exc:
        report.fail(f"{name}: {exc} ({exc.code})")
        return None
    except AuditFetchError as exc:
        report.fail(str(exc))
        return None
    cp = latest.checkpoint
    report.checked.append(
        f"{name}: checkpoint of {cp.tree_size} entries signed by {cp.log} (key {cp.signer_kid}) at {cp.created_at};"
        f" {len(history)} checkpoints each extending the last; all {len(entries)} entries replayed to its root"
    )
    return LogView(name, cp, latest, len(history), entries)


def _history(source: Source, directory: PublicDirectory) -> list[SignedCheckpoint]:
    history: list[SignedCheckpoint] = []
    since = 0
    while True:
        page = source.get("/checkpoints", since=since).get("checkpoints")
        if not isinstance(page, list):
            raise InvalidAuditData("malformed", "the checkpoint list is not a list")
        history.extend(_verified_checkpoint(source, document, directory) for document in page)
        if len(page) < PAGE:
            return history
        since = history[-1].checkpoint.tree_size + 1


def _entry_texts(source: Source, size: int) -> Iterator[str]:
    for start in range(0, size, PAGE):
        page = source.get("/entries", start=start, end=min(size, start + PAGE)).get("entries")
        if not isinstance(page, list):
            raise InvalidAuditData("malformed", "the entry list is not a list")
        for item in page:
            if not isinstance(item, dict) or not isinstance(item.get("entry"), str):
                raise InvalidAuditData("malformed", "an entry is not served as its canonical text")
            yield item["entry"]


# -- the witness: checkpoints seen on earlier runs ---------------------------------------------------------------


def check_witness(path: Path, sources: dict[str, Source], views: list[LogView], report: Report) -> None:
    """Each log must extend what this auditor saw before: not shorter, not different at the same size, and
    consistent from the old checkpoint to the new one. Then remember today's checkpoints."""
    seen: dict[str, dict[str, Any]] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    for view in views:
        old = seen.get(view.checkpoint.log)
        if old is None:
            report.checked.append(f"{view.service}: first run against this log; its checkpoint is now remembered")
            continue
        old_size, old_root = int(old["tree_size"]), str(old["root_hash"])
        new = view.checkpoint
        if new.tree_size < old_size:
            report.fail(
                f"{view.service}: the log has {new.tree_size} entries, {old_size} were signed before (rollback)"
            )
        elif new.tree_size == old_size and new.root_hash != old_root:
            report.fail(f"{view.service}: the log was forked: another root for the {old_size} entries signed before")
        elif new.tree_size > old_size:
            earlier = Checkpoint(
                view.checkpoint.log, old_size, old_root, str(old["created_at"]), str(old["signer_kid"])
            )
            try:
                document = sources[view.service].get("/proof/consistency", first=old_size, second=new.tree_size)
                verify_consistency_document(document, earlier, new)
            except (InvalidAuditData, AuditFetchError):
                report.fail(
                    f"{view.service}: the log does not extend the checkpoint of {old_size} entries seen on an earlier"
                    " run (forked or rewritten)"
                )
                continue
            report.checked.append(f"{view.service}: extends the checkpoint of {old_size} entries seen before")
        else:
            report.checked.append(f"{view.service}: unchanged since the last run")
    if report.ok:
        for view in views:
            seen[view.checkpoint.log] = view.checkpoint.document()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(seen, indent=2, sort_keys=True) + "\n", encoding="utf-8")


# -- reconciliation across the three logs --------------------------------------------------------------------------


def _by_message(entries: Iterable[AuditEntry]) -> dict[str, list[AuditEntry]]:
    grouped: dict[str, list[AuditEntry]] = defaultdict(list)
    for entry in entries:
        grouped[entry.message_id].append(entry)
    return grouped


def _last(entries: list[AuditEntry], event: str) -> AuditEntry | None:
    found = [e for e in entries if e.event == event]
    return found[-1] if found else None


def _same(report: Report, message_id: str, what: str, facts: list[tuple[str, object, object]]) -> None:
    for name, left, right in facts:
        if left != right:
            report.fail(f"{message_id}: {what}: {name} differs ({left} vs {right})")


def reconcile(views: dict[str, LogView], report: Report) -> None:
    gateway = _by_message(views["gateway"].entries)
    tpf = _by_message(views["tpf"].entries)
    registry = _by_message(views["registry"].entries)
    served = {e.facts.get("municipality") for entries in gateway.values() for e in entries if e.event == "sealed"} | {
        views["gateway"].checkpoint.log.removeprefix("kommune-")
    }
    totals = defaultdict(int)
    for message_id, entries in gateway.items():
        sealed = [e for e in entries if e.event == "sealed"]
        if len(sealed) != 1:
            report.fail(f"{message_id}: the gateway's log has {len(sealed)} 'sealed' entries (one expected)")
            continue
        facts = sealed[0].facts
        settled = _last(entries, "settled")
        pseudonymised = _last(tpf.get(message_id, []), "pseudonymised")
        for entry in (e for e in tpf.get(message_id, []) if e.event == "pseudonymised"):
            _same(
                report,
                message_id,
                "TPF pseudonymised something else than the gateway sealed",
                [(k, facts.get(k), entry.facts.get(k)) for k in ("submission_sha256", "identity_sha256", "records")],
            )
        if settled is None or settled.facts.get("outcome") not in ("stored", "refused"):
            state = "in flight" if settled is None else str(settled.facts.get("outcome"))
            report.in_flight.append(f"{message_id} ({facts.get('municipality')}-{facts.get('year')}): {state}")
            continue
        if pseudonymised is None:
            report.fail(f"{message_id}: the gateway holds a receipt, the TPF's log has no 'pseudonymised' entry")
            continue
        forwarded = _last(tpf.get(message_id, []), "forwarded")
        if forwarded is None or forwarded.facts.get("outcome") != "delivered":
            report.fail(f"{message_id}: the gateway holds a receipt, the TPF's log has no delivery to the registry")
        counts = pseudonymised.facts
        if counts.get("pseudonymised", 0) + counts.get("refused", 0) != counts.get("records"):  # type: ignore[operator]
            report.fail(f"{message_id}: the TPF's pseudonymised + refused is not its record count")
        outcome = settled.facts.get("outcome")
        at_registry = registry.get(message_id, [])
        stored = _last(at_registry, "stored")
        if outcome == "stored":
            if stored is None:
                report.fail(f"{message_id}: the gateway holds a 'stored' receipt, the registry's log has no 'stored'")
                continue
            _same(
                report,
                message_id,
                "the registry stored something else than the TPF forwarded",
                [
                    (k, counts.get(k), stored.facts.get(k))
                    for k in (
                        "submission_sha256",
                        "payload_sha256",
                        "pseudonyms_sha256",
                        "delivery_sha256",
                        "records",
                        "pseudonymised",
                        "refused",
                    )
                ],
            )
            totals["messages"] += 1
            totals["sent"] += int(facts.get("records") or 0)
            totals["pseudonymised"] += int(counts.get("pseudonymised") or 0)
            totals["refused"] += int(counts.get("refused") or 0)
            totals["stored"] += int(stored.facts.get("records") or 0)
        else:
            refused = _last(at_registry, "refused")
            if refused is None or stored is not None:
                report.fail(f"{message_id}: the gateway holds a 'refused' receipt, the registry's log disagrees")
    # The other direction: nothing reached the registry that the TPF did not pseudonymise, and nothing reached the
    # TPF for this gateway's municipalities that the gateway did not seal.
    for message_id, entries in registry.items():
        stored = _last(entries, "stored")
        if stored is not None and _last(tpf.get(message_id, []), "pseudonymised") is None:
            report.fail(f"{message_id}: the registry stored a message the TPF's log never pseudonymised")
        superseded = _last(entries, "superseded")
        if superseded is not None and stored is None:
            report.fail(f"{message_id}: the registry superseded a message its log never stored")
    for message_id, entries in tpf.items():
        pseudonymised = _last(entries, "pseudonymised")
        if (
            pseudonymised is not None
            and pseudonymised.facts.get("municipality") in served
            and message_id not in gateway
        ):
            report.fail(f"{message_id}: the TPF pseudonymised a message the gateway's log never sealed")
    report.checked.append(
        f"reconciled {totals['messages']} stored messages across the three logs: records sent {totals['sent']}"
        f" = pseudonymised {totals['pseudonymised']} + refused {totals['refused']}"
        f" = stored {totals['stored']}"
    )
    if totals["sent"] != totals["pseudonymised"] + totals["refused"] or totals["sent"] != totals["stored"]:
        report.fail("the record counts do not add up across the three logs")


def verify(sources: dict[str, Source], directory: PublicDirectory, witness: Path | None) -> Report:
    report = Report()
    views = {s: view for s in SERVICES if (view := read_log(sources[s], directory, report)) is not None}
    if witness is not None:
        check_witness(witness, sources, list(views.values()), report)
    if len(views) == len(SERVICES):
        reconcile(views, report)
    else:
        report.fail("reconciliation skipped: not every log verified")
    return report


# -- one message's path ---------------------------------------------------------------------------------------------


@dataclass
class Step:
    service: str
    entry: AuditEntry
    tree_size: int
    proof_length: int


def prove(sources: dict[str, Source], directory: PublicDirectory, message_id: str) -> tuple[list[Step], Report]:
    """Every entry about ``message_id`` in each log, each with an inclusion proof checked against a signed
    checkpoint; then the same cross-checks as ``verify`` for this one message."""
    report = Report()
    steps: list[Step] = []
    views: dict[str, LogView] = {}
    for service in SERVICES:
        source = sources[service]
        try:
            signed = _verified_checkpoint(source, source.get("/checkpoint"), directory)
            size = signed.checkpoint.tree_size
            view = views[service] = LogView(service, signed.checkpoint, signed, 1, [])
            try:
                answer = source.get("/proof/inclusion", message_id=message_id, tree_size=size)
            except AuditFetchError as exc:
                if "404" in str(exc):
                    report.checked.append(f"{service}: no entry about this message in {size} entries")
                    continue
                raise
            for document in answer.get("proofs", []):
                entry = verify_inclusion_document(document, signed.checkpoint)
                if entry.message_id != message_id:
                    raise InvalidAuditData("proof-failed", "a proof is for another message")
                steps.append(Step(service, entry, size, len(document["proof"])))
                view.entries.append(entry)
            report.checked.append(
                f"{service}: inclusion proven against the signed checkpoint of {size} entries ({signed.checkpoint.log})"
            )
        except InvalidAuditData as exc:
            report.fail(f"{service}: {exc} ({exc.code})")
        except AuditFetchError as exc:
            report.fail(str(exc))
    if not steps:
        report.fail("no log has an entry about this message id")
    elif len(views) == len(SERVICES) and report.ok:
        reconcile(views, report)
    return steps, report
