"""The registry's metrics and readiness checks (services.kit.metrics, services.kit.readiness).

Messages by outcome, as the audit log records them: ``stored``, ``superseded`` (an earlier submission of the
same municipality and year replaced by a stored one) and ``refused`` (any refusal of a delivery whose sender is
proven: its signatures held, over the connection of the TPF that signed it; a stale sequence included). One
refused before that is on no audit entry: ``iplos_unproven_refusals_total{problem,peer}`` counts it, by the party
of the connection's TLS certificate. A delivery answered from what was stored about its message before (the receipt, or
the refusal that was final for it: spec section 9) is on no new audit entry and counted in
``iplos_replays_total{answer}`` only. Records: ``stored``. Findings: ``iplos_findings_total{rule}``, by control
code, for each stored submission (a superseded submission's findings are not taken back: the counter says what
the controls found in what arrived). Findings by rule are findings detail: in an operator's scrape only, never
an auditor's. Stages: ``verify`` (signatures, binding, recipients, digests), then the three that interleave in the
one streaming transaction of a delivery (each observed once per delivery that reaches it, as the time accumulated
over the whole stream): ``open`` (decrypting and decoding both parts, and joining them), ``controls`` (the logical
controls) and ``store`` (everything else: the database's writes, the decision's statements and the commit);
``confirm`` (applying a held submission). Submissions that look like a municipality probing numbers it chose
(issue 17, ``read/probes.py``): ``iplos_suspicious_submissions_total{reason}``, ``tiny``, ``oversized`` (counted when a
care submission is stored or held) and ``never-resident`` (when it is stored, or when an extract's decision flags it).
No municipality, submission or pseudonym is a label: an auditor's scrape (Prometheus's) sees that some submission
was flagged, the alert says so, and the operators find which on their pages.
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import Counter
from sqlalchemy import Engine

from services.kit.metrics import ServiceMetrics
from services.kit.readiness import Readiness, own_keys_listed
from services.registry_intake.config import RegistrySettings
from services.registry_intake.models import SubmissionStatus
from services.registry_intake.read.probes import REASONS
from services.registry_intake.submissions import Outcome, StoredSubmission
from shared.iplos.controls import CATALOGUE
from shared.keys.registry import load_registry_keys

_RULES = frozenset(control.code for control in CATALOGUE)


class RegistryMetrics(ServiceMetrics):
    def __init__(self) -> None:
        super().__init__(
            "registry",
            messages=tuple(Outcome),
            records=(Outcome.STORED,),
            stages=("verify", "open", "controls", "store", "confirm"),
            replays=("receipt", "refusal"),
        )
        self._findings = Counter(
            "iplos_findings",
            "Findings of the logical controls in stored submissions, by rule (control code)",
            ["service", "rule"],
            registry=self.registry,
        )
        for rule in sorted(_RULES):
            self._findings.labels(self.service, rule)
        # Findings by rule are findings detail: operators only, as on the pages and the operator API.
        self.findings_detail("iplos_findings")
        self._suspicious = Counter(
            "iplos_suspicious_submissions",
            "Care submissions that look like a municipality probing numbers it chose, by reason: tiny, oversized,"
            " never-resident (records of persons who never lived in the municipality, K040)",
            ["service", "reason"],
            registry=self.registry,
        )
        for reason in REASONS:
            self._suspicious.labels(self.service, reason)

    def stored(self, stored: StoredSubmission, findings_by_rule: Mapping[str, int]) -> None:
        """A submission was stored (committed) with these findings, counted by control code; a held one is counted
        as held (its records are kept, not in effect)."""
        if stored.status is SubmissionStatus.HELD:
            self.message(Outcome.HELD)
            return
        self.message(Outcome.STORED)
        if stored.supersedes is not None:
            self.message(Outcome.SUPERSEDED)
        self.records(Outcome.STORED, stored.record_count)
        for rule, count in findings_by_rule.items():
            # Codes come from the catalogue; anything else would be a bug, and is not let become a label.
            self._findings.labels(self.service, rule if rule in _RULES else "other").inc(count)

    def suspicious(self, reason: str, count: int = 1) -> None:
        """``count`` care submissions were flagged as suspicious for ``reason`` (one of ``probes.REASONS``)."""
        if reason not in REASONS:
            raise ValueError(f"suspicion reason {reason!r} is not declared (one of {list(REASONS)})")
        self._suspicious.labels(self.service, reason).inc(count)


def readiness(settings: RegistrySettings, engine: Engine) -> Readiness:
    """Database and the registry's keys against the directory (the registry has no outbox)."""
    return Readiness(
        engine, lambda: own_keys_listed(settings.directory, lambda: [load_registry_keys(settings.key_dir)])
    )
