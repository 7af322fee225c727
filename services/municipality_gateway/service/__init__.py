"""What the gateway does, as use cases the API's routes and the pages both call.

* ``submit_export`` (``submit``): an export in, parsed once, checked once, sealed, signed, staged in the outbox;
* ``list_submissions``, ``get_submission``, ``retry`` (``submissions``);
* ``report`` (``reports``): the registry's control report, opened and mapped to brukerNr;
* ``comparison`` (``comparison``): the registry's comparison statistics for the municipality, opened;
* ``confirm_replacement`` (``replacement``): the municipality confirms a held submission at the registry.

Each takes the ``GatewayContext`` (``context``) and the caller's credential, and answers with a document of
``schemas`` or a ``Problem``. A caller only ever reaches its own municipality's submissions (``access``).
"""

from services.municipality_gateway.service.comparison import comparison
from services.municipality_gateway.service.context import GatewayContext
from services.municipality_gateway.service.replacement import confirm_replacement
from services.municipality_gateway.service.reports import report
from services.municipality_gateway.service.submissions import (
    find_submission,
    get_submission,
    list_submissions,
    requeue,
    retry,
    sweep_unaccepted,
)
from services.municipality_gateway.service.submit import stage_submission, submit_export, submit_extract

__all__ = [
    "GatewayContext",
    "comparison",
    "confirm_replacement",
    "find_submission",
    "get_submission",
    "list_submissions",
    "report",
    "requeue",
    "retry",
    "stage_submission",
    "submit_export",
    "submit_extract",
    "sweep_unaccepted",
]
