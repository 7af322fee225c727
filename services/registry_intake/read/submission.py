"""One submission, shaped from what the queries read: its view in a list, its page (facts, findings by rule,
the replacement history of its municipality and year, receipt, audit trail) and its findings record by record.
No I/O here; a submission's own counts are the delivery's facts and are shown as they are (no suppression).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from services.registry_intake.read.deadline import deadline_for
from services.registry_intake.read.queries import SubmissionRule
from services.registry_intake.read.statistics import catalogue_entry
from services.registry_intake.schemas import (
    AuditTrail,
    HistoryEntry,
    RecordFinding,
    RecordFindings,
    SignedReceipt,
    SubmissionDetail,
    SubmissionFacts,
    SubmissionRuleFindings,
    SubmissionView,
)
from services.registry_intake.submissions import StoredFinding, StoredSubmission, SubmissionExtras
from shared.envelope import utc_timestamp
from shared.iplos.controls import CATALOGUE
from shared.iplos.municipalities import municipality_name

__all__ = ["record_findings", "submission_detail", "submission_view"]


def submission_view(stored: StoredSubmission) -> SubmissionView:
    return SubmissionView(
        submission_id=stored.message_id,
        municipality=stored.municipality,
        year=stored.year,
        sequence=stored.sequence,
        status=stored.status,
        refusal_reason=stored.refusal_reason,
        received_at=utc_timestamp(stored.received_at),
        bydel_nr=stored.bydel_nr,
        records=stored.record_count,
        pseudonymised=stored.pseudonymised_count,
        identities_refused=stored.identity_refused_count,
        findings=stored.finding_count,
        errors=stored.error_count,
        warnings=stored.warning_count,
        supersedes=stored.supersedes,
        superseded_by=stored.superseded_by,
    )


def submission_detail(
    stored: StoredSubmission,
    extras: SubmissionExtras,
    rules: Sequence[SubmissionRule] | None,
    year_rows: Iterable[StoredSubmission],
    receipt: SignedReceipt,
    audit_trail: AuditTrail,
) -> SubmissionDetail:
    """The page of ``stored``: ``rules`` None withholds the findings (an auditor's view); ``year_rows`` are its
    year's submission rows in the order received (its history is those of its municipality)."""
    deadline = deadline_for(stored.year)
    try:
        name = municipality_name(stored.municipality, stored.year)
    except ValueError:  # no list for a year before 2020
        name = None
    facts = SubmissionFacts(
        **submission_view(stored).model_dump(),
        sender=extras.sender,
        payload_sha256=extras.payload_sha256,
        key_version=extras.key_version,
        name=name,
        late=deadline.is_late(stored.received_at),
    )
    history = [
        HistoryEntry(
            submission_id=s.message_id,
            sequence=s.sequence,
            status=s.status,
            refusal_reason=s.refusal_reason,
            received_at=utc_timestamp(s.received_at),
            records=s.record_count,
            findings=s.finding_count,
            supersedes=s.supersedes,
            superseded_by=s.superseded_by,
            late=deadline.is_late(s.received_at),
            this=s.message_id == stored.message_id,
        )
        for s in year_rows
        if s.municipality == stored.municipality
    ]
    return SubmissionDetail(
        submission=facts,
        deadline=deadline.last_day.isoformat(),
        findings_withheld=rules is None,
        findings_by_rule=None if rules is None else [_rule(rule) for rule in rules],
        history=history,
        receipt=receipt,
        audit_trail=audit_trail,
    )


def _rule(rule: SubmissionRule) -> SubmissionRuleFindings:
    controls = {c.code: c for c in CATALOGUE}
    _, scope, title, text = catalogue_entry(controls.get(rule.code), rule.code)
    return SubmissionRuleFindings(
        code=rule.code,
        severity=rule.severity,  # as stored with the findings
        scope=scope,
        title=title,
        rule=text,
        findings=rule.findings,
        records=rule.records,
    )


def record_findings(
    message_id: str, rule: str | None, offset: int, limit: int, total: int, page: Sequence[StoredFinding]
) -> RecordFindings:
    """A page of the submission's findings (of ``rule`` if given): each names its record by the registry's random
    reference only, with the field and the control's short detail."""
    return RecordFindings(
        submission_id=message_id,
        rule=rule,
        total=total,
        offset=offset,
        limit=limit,
        findings=[
            RecordFinding(ref=f.ref, code=f.code, severity=f.severity, field=f.field, detail=f.detail) for f in page
        ],
    )
