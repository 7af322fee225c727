"""The three services as this project runs them: their app factories, default ports and start order.

``iplos serve`` runs one of them, :class:`iplos_chain.Chain` all three, and with ``register=True`` a fourth process:
the population register's gateway (:data:`REGISTER_GATEWAY`), the gateway program given the register's zone's keys.
"""

from __future__ import annotations

from typing import Final

__all__ = ["APPS", "DEFAULT_PORTS", "PROGRAMS", "REGISTER_GATEWAY", "SERVICES"]

#: Start order: a service starts after the one it delivers to.
SERVICES: Final = ("registry", "tpf", "gateway")
#: The population register's gateway (issue 14): it delivers to the TPF, like a municipalities' gateway.
REGISTER_GATEWAY: Final = "register-gateway"
DEFAULT_PORTS: Final = {"gateway": 8001, "tpf": 8002, "registry": 8003, REGISTER_GATEWAY: 8004}
#: The program (``iplos serve PROGRAM``) each process of a chain runs.
PROGRAMS: Final = {"gateway": "gateway", "tpf": "tpf", "registry": "registry", REGISTER_GATEWAY: "gateway"}
#: Each service's app factory, as uvicorn takes it (``--factory``).
APPS: Final = {
    "gateway": "services.municipality_gateway.api:create_app",
    "tpf": "services.tpf.api:create_app",
    "registry": "services.registry_intake.api:create_app",
}
