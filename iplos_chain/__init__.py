"""The chain from the outside: its three services as local processes, and the HTTP calls that talk to them.

Tooling, not product (no service imports it): ``iplos up``, ``iplos serve``, the demo, the soak, the auditor's
canary run and the end-to-end tests use it.

* :mod:`iplos_chain.apps`: the services' app factories, default ports and start order;
* :mod:`iplos_chain.state`: a development state folder: keys and development credentials, each made once;
* :mod:`iplos_chain.serve`: one service under uvicorn with TLS from its settings (``iplos serve``);
* :mod:`iplos_chain.supervisor`: :class:`Chain`, the three services as ``iplos serve`` child processes on loopback,
  over mutual TLS with the development CA (:func:`trust`);
* :mod:`iplos_chain.client`: submit, poll and read through the gateway (:class:`ChainError` for a problem);
* :mod:`iplos_chain.report_tables`: a control report as rich tables.
"""

from iplos_chain.apps import APPS, DEFAULT_PORTS, REGISTER_GATEWAY, SERVICES
from iplos_chain.state import (
    CREDENTIALS_FOLDER,
    ensure_auditor_token,
    ensure_gateway_credentials,
    ensure_gateway_registry_token,
    ensure_keys,
    ensure_operator_token,
    gateway_registry_token_file,
    municipality_token_file,
    operator_token_file,
    served_municipalities,
)
from iplos_chain.supervisor import Chain, free_port, launch_command, service_env, trust

__all__ = [
    "APPS",
    "CREDENTIALS_FOLDER",
    "DEFAULT_PORTS",
    "REGISTER_GATEWAY",
    "SERVICES",
    "Chain",
    "ensure_auditor_token",
    "ensure_gateway_credentials",
    "ensure_gateway_registry_token",
    "ensure_keys",
    "ensure_operator_token",
    "free_port",
    "gateway_registry_token_file",
    "launch_command",
    "municipality_token_file",
    "operator_token_file",
    "served_municipalities",
    "service_env",
    "trust",
]
