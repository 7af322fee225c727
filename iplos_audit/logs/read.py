"""One log read and verified, and the witness: checkpoints this auditor saw on earlier runs.

For each log: the latest checkpoint and every earlier one must carry a valid signature of the party the log is
for (found in the public-key directory, never in what the service sends); each checkpoint must extend the one
before it (consistency proofs); replaying every entry must give the latest checkpoint's root; and a checkpoint
this auditor saw on an earlier run (the witness file) must be a prefix of today's log. A log that was edited,
shortened, reordered or forked fails one of these.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iplos_audit.logs.report import Report
from iplos_audit.logs.source import PAGE, AuditFetchError, Source
from shared.audit import (
    AuditEntry,
    Checkpoint,
    InvalidAuditData,
    SignedCheckpoint,
    verify_checkpoint_document,
    verify_consistency_document,
    verify_entries,
)
from shared.keys import PublicDirectory

__all__ = ["LogView", "check_witness", "read_log", "verified_checkpoint"]


@dataclass
class LogView:
    service: str
    checkpoint: Checkpoint
    signed: SignedCheckpoint
    checkpoints: int
    entries: list[AuditEntry]


def _expected_log(service: str) -> str | None:
    # The gateway signs as the municipality it serves (its party name is kommune-NNNN); the others by role name.
    return None if service == "gateway" else service


def verified_checkpoint(source: Source, document: Any, directory: PublicDirectory) -> SignedCheckpoint:
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
        latest = verified_checkpoint(source, source.get("/checkpoint"), directory)
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
        history.extend(verified_checkpoint(source, document, directory) for document in page)
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
