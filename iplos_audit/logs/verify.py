"""``iplos audit verify`` and ``iplos audit prove``: the three services' audit logs checked from the outside.

:func:`verify` reads and verifies each log (:mod:`.read`), checks it against the witness file, and reconciles the
three (:mod:`.reconcile`); :func:`prove` shows one message's path, each entry with an inclusion proof.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from iplos_audit.logs.read import LogView, check_witness, read_log, verified_checkpoint
from iplos_audit.logs.reconcile import reconcile
from iplos_audit.logs.report import Report
from iplos_audit.logs.source import SERVICES, AuditFetchError, Source
from shared.audit import AuditEntry, InvalidAuditData, verify_inclusion_document
from shared.keys import PublicDirectory

__all__ = ["Step", "prove", "verify"]


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
            signed = verified_checkpoint(source, source.get("/checkpoint"), directory)
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
