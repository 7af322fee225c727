"""report: the control report of a stored submission, sealed for the submitting municipality only.

Sealed and signed the first time it is asked for, then kept (``sealed_reports``) and served as kept: sealed
again only for a new key of the municipality's, or when the register controls change its findings
(they drop the kept one). Only references name records; the municipality's gateway alone
can map them to its brukerNr.
"""

from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass

from services.kit.problems import Problem, ProblemType
from services.kit.tls import Peer, wrong_peer
from services.registry_intake.models import SubmissionStatus
from services.registry_intake.schemas import SealedReport
from services.registry_intake.service.context import RegistryContext
from services.registry_intake.service.errors import NotFound
from services.registry_intake.submissions import StoredSubmission
from shared.envelope import ReportHeader, ReportParts, sign_header, utc_timestamp
from shared.envelope.report import ReportFinding, ReportSealer, ReportSummary
from shared.iplos.controls import REGISTRY_ONLY_CODES
from shared.keys import PublicDirectory

__all__ = ["Report", "answered_submission", "municipality_party", "report"]


@dataclass(frozen=True)
class Report:
    """The answer of ``GET /v1/submissions/{id}/report``: the sealed report's bytes, and whether the register
    controls have run (the population register's extract of the submission's municipality and year is stored)."""

    body: bytes
    register_checked: bool


def report(ctx: RegistryContext, submission_id: str, peer: Peer) -> Report:
    """The answer of ``GET /v1/submissions/{id}/report`` (JSON bytes, :class:`SealedReport`), for the submitting
    municipality's TLS peer only (``wrong-peer``). A refused submission has no records and no report (404); a
    superseded one's report is the replacing submission's (410)."""
    stored = answered_submission(ctx, submission_id, peer, "report applies")
    kid, _ = ctx.directory.encryption_key(municipality_party(ctx.directory, stored.municipality))
    # Asked before the report is read: an extract stored in between drops the kept report, so a report can be
    # newer than this answer says, never older.
    checked = ctx.register.has_active_extract(stored.municipality, stored.year)
    kept = ctx.queries.sealed_report(stored.message_id)
    if kept is not None and kept[0] == kid:
        return Report(kept[1], checked)
    body = json.dumps(_sealed(ctx, stored).model_dump(mode="json"), separators=(",", ":")).encode("ascii")
    # A submission superseded meanwhile keeps nothing; this one answer is still what was asked for.
    return Report(ctx.repository.keep_sealed_report(stored.message_id, kid, body) or body, checked)


def answered_submission(ctx: RegistryContext, submission_id: str, peer: Peer, what: str) -> StoredSubmission:
    """The submission whose report is asked for (or what ``what`` names, with its verb: "report applies"), for the
    submitting municipality's TLS peer only (``wrong-peer``, before its status: another municipality learns nothing
    of it). A refused submission has no records (404); a superseded one's answer is the replacing submission's
    (410)."""
    stored = ctx.queries.get(submission_id)
    if stored is not None and not peer.is_municipality(stored.municipality):
        raise wrong_peer()
    if stored is None or stored.status is SubmissionStatus.REFUSED:
        raise NotFound("No stored submission with this id")
    if stored.status is SubmissionStatus.SUPERSEDED:
        raise Problem(
            ProblemType.SUPERSEDED,
            f"This submission was replaced; the replacing submission's {what}",
            superseded_by=stored.superseded_by,
        )
    return stored


def _sealed(ctx: RegistryContext, stored: StoredSubmission) -> SealedReport:
    """The control report for the submitting municipality: sealed for its key, signed by the registry. Built
    from the stored findings, which change while the submission is active only when the population register's
    extract of its municipality and year arrives or is replaced (the register controls drop the kept report)."""
    municipality = municipality_party(ctx.directory, stored.municipality)
    kid, key = ctx.directory.encryption_key(municipality)
    # A registry-only finding (K035: whether a number belongs to anyone in the country) is not the municipality's
    # to learn of a number it chose: neither the finding nor its count goes into its report.
    findings = [f for f in ctx.queries.findings(stored.message_id) if f.code not in REGISTRY_ONLY_CODES]
    counts = {c: n for c, n in ctx.queries.finding_counts(stored.message_id).items() if c not in REGISTRY_ONLY_CODES}
    out = io.BytesIO()
    sealer = ReportSealer(
        out,
        ReportSummary(records=stored.record_count, counts=counts),
        sender=ctx.keys.party,
        recipient=municipality,
        recipient_kid=kid,
        recipient_key=key,
        message_id=stored.message_id,
    )
    for finding in findings:
        sealer.add(ReportFinding(finding.code, finding.severity, finding.ref, finding.field, finding.detail))
    part = sealer.close()
    header = ReportHeader(
        message_id=stored.message_id,
        sender=ctx.keys.party,
        signer_kid=ctx.keys.signing_kid,
        recipient=municipality,
        submission_sha256=stored.header_sha256,
        created_at=utc_timestamp(),
        finding_count=len(findings),
        parts=ReportParts(report=part),
    )
    _, signature = sign_header(header, ctx.keys.signing)
    return SealedReport(
        header=header,
        signature=base64.b64encode(signature).decode("ascii"),
        part=base64.b64encode(out.getvalue()).decode("ascii"),
    )


def municipality_party(directory: PublicDirectory, kommune_nr: str) -> str:
    for party in directory.parties():
        if party.role == "municipality" and party.municipality == kommune_nr:
            return party.name
    raise NotFound("No registered municipality key to seal the report for")
