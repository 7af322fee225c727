"""The registry's HTTP API, by what it serves: deliveries and confirmations in (``deliveries.py``), submissions
and their reports out (``submissions.py``), the operator API behind the dashboard (``operator.py``), and the
registers kept beside the care data (``registers.py``: the copy of Enhetsregisteret), and an operator's lifting of
a sequence block (``sequence_blocks.py``).

A route parses its request, calls one use case (``services/registry_intake/service/``) and answers with what it
returns: a schema (``schemas.py``) or a problem document.
"""

from services.registry_intake.routes import deliveries, operator, registers, sequence_blocks, submissions

__all__ = ["deliveries", "operator", "registers", "sequence_blocks", "submissions"]
