"""The registry's write side: one transaction per decision, and every statement a decision runs.

* ``decisions.py``: :class:`SubmissionRepository`, which decides (store, hold, replace, refuse as stale, confirm a
  held submission, keep a sealed report) and appends each decision's audit entries in its transaction;
* ``statements.py``: the SQL of those steps, on the decision's connection;
* ``bulk.py``: the bulk writer that streams a submission's records and findings into the database.

What the registry reads is the read side's (``services/registry_intake/read/``).
"""

from services.registry_intake.repository.decisions import (
    NotHeld,
    ReplayedMessage,
    StaleSubmission,
    SubmissionConflict,
    SubmissionRepository,
)

__all__ = ["NotHeld", "ReplayedMessage", "StaleSubmission", "SubmissionConflict", "SubmissionRepository"]
