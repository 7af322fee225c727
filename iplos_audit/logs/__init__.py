"""The three services' audit logs checked from the outside: ``iplos audit verify`` and ``iplos audit prove``.

:mod:`.source` reaches a service's audit API, :mod:`.read` verifies one log (signed checkpoints, consistency,
every entry) and the witness of earlier runs, :mod:`.reconcile` checks the three logs against each other message
by message, :mod:`.verify` runs it all and proves one message's path.
"""

from iplos_audit.logs.report import Report
from iplos_audit.logs.source import (
    SERVICES,
    AuditCredentialRefused,
    AuditFetchError,
    AuditUsageError,
    Source,
    open_sources,
)
from iplos_audit.logs.verify import Step, prove, verify

__all__ = [
    "SERVICES",
    "AuditCredentialRefused",
    "AuditFetchError",
    "AuditUsageError",
    "Report",
    "Source",
    "Step",
    "open_sources",
    "prove",
    "verify",
]
