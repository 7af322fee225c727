"""The registry's read side: what operators, auditors and the API read, in one place.

* ``queries.py``: every statement the registry reads with (:class:`SubmissionQueries`), read-only connections;
* ``overview.py``, ``statistics.py``, ``submission.py``: pure shaping of what was read into the documents of
  ``schemas.py``, with the small-cell rule of ``suppression.py`` and the deadline of ``deadline.py``;
* ``audit_trail.py``: a message's audit-log entries, each checked against the latest signed checkpoint;
* ``function_scores.py``: a stored record's function scores, from the day-per-row table and the other scores;
* ``flows.py`` and ``register_status.py``: persons followed over time through the population register, and which
  of the register's extracts of a year are stored (issue 14);
* ``comparison_data.py`` and ``comparison.py``: the comparison statistics of every municipality, county and the
  country (issue 15).

The use cases (``services/registry_intake/service/``) put these together; the operator API and the dashboard
pages call the use cases, so the two cannot show different figures.
"""

from services.registry_intake.read.audit_trail import audit_trail
from services.registry_intake.read.comparison import comparison_year
from services.registry_intake.read.deadline import Deadline, deadline_for
from services.registry_intake.read.flows import year_flows
from services.registry_intake.read.function_scores import stored_function_scores
from services.registry_intake.read.overview import year_overview
from services.registry_intake.read.queries import SubmissionQueries
from services.registry_intake.read.register_status import register_year
from services.registry_intake.read.statistics import findings_by_rule, intake_by_day, records_per_service_type
from services.registry_intake.read.submission import record_findings, submission_detail, submission_view
from services.registry_intake.read.suppression import SUPPRESSION_THRESHOLD, suppress

__all__ = [
    "SUPPRESSION_THRESHOLD",
    "Deadline",
    "SubmissionQueries",
    "audit_trail",
    "comparison_year",
    "deadline_for",
    "findings_by_rule",
    "intake_by_day",
    "record_findings",
    "records_per_service_type",
    "register_year",
    "stored_function_scores",
    "submission_detail",
    "submission_view",
    "suppress",
    "year_flows",
    "year_overview",
]
