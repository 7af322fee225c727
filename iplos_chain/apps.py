"""The three services as this project runs them: their app factories, default ports and start order.

``iplos serve`` runs one of them, :class:`iplos_chain.Chain` all three.
"""

from __future__ import annotations

from typing import Final

__all__ = ["APPS", "DEFAULT_PORTS", "SERVICES"]

#: Start order: a service starts after the one it delivers to.
SERVICES: Final = ("registry", "tpf", "gateway")
DEFAULT_PORTS: Final = {"gateway": 8001, "tpf": 8002, "registry": 8003}
#: Each service's app factory, as uvicorn takes it (``--factory``).
APPS: Final = {
    "gateway": "services.municipality_gateway.api:create_app",
    "tpf": "services.tpf.api:create_app",
    "registry": "services.registry_intake.api:create_app",
}
