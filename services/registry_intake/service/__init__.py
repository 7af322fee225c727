"""What the registry intake does: its use cases, and the context they work in.

* :func:`take_delivery` (``intake.py``): a delivery from the TPF, verified (``verification.py``), opened, joined,
  controlled and stored (``storing.py``), answered with a signed receipt (``receipts.py``); each refusal on the
  audit record once.
* :func:`confirm` (``confirmation.py``): a municipality's signed confirmation applies its held submission.
* :func:`report` (``reports.py``): a stored submission's control report, sealed for its municipality;
  :func:`comparison_report` (``comparison.py``): its municipality's comparison statistics, sealed the same way.
* ``reading.py``: what operators and auditors read (the operator API and the dashboard pages alike).

Routes and pages parse a request, call one of these, and render what it returns; a use case returns a result
or raises a :class:`~services.kit.problems.Problem`.
"""

from services.registry_intake.service import reading
from services.registry_intake.service.comparison import comparison_report
from services.registry_intake.service.confirmation import confirm
from services.registry_intake.service.context import RegistryContext
from services.registry_intake.service.errors import NotFound
from services.registry_intake.service.intake import take_delivery
from services.registry_intake.service.receipts import HELD_REASON, receipt_for
from services.registry_intake.service.reports import report
from services.registry_intake.service.verification import Delivery

__all__ = [
    "HELD_REASON",
    "Delivery",
    "NotFound",
    "RegistryContext",
    "comparison_report",
    "confirm",
    "reading",
    "receipt_for",
    "report",
    "take_delivery",
]
