"""One service under uvicorn, as ``iplos serve`` and the development chain run it: with TLS from its settings.

:func:`serve` is the one place a service is launched: ``iplos serve SERVICE`` calls it, and
:class:`iplos_chain.Chain` starts each service as ``python -m iplos_cli.main serve SERVICE`` (so the chain that
``iplos up``, the demo and the tests run is the one users deploy). Under TLS (the default) uvicorn serves with
the service's certificate, asks each client for one that chains to the directory's CA (CERT_OPTIONAL: browsers
have none), and hands it to the app through :class:`services.kit.guards.GuardedProtocol` (a
services.kit.tls.PeerCertProtocol that also gives a request's headers a deadline). ``PLAIN_HTTP=true`` (a
development switch) serves plain HTTP.
"""

from __future__ import annotations

from typing import Any, Final

from pydantic import ValidationError

from iplos_chain.apps import APPS
from services.kit.guards import GuardedProtocolFactory
from services.kit.settings import ServiceSettings
from services.kit.tls import ServerContextFactory, server_context
from services.municipality_gateway.config import GatewaySettings
from services.registry_intake.config import RegistrySettings
from services.tpf.config import TpfSettings
from shared.keys import PublicDirectory

__all__ = ["SETTINGS", "serve", "uvicorn_options"]

#: Each service's settings class (read from its ``IPLOS_<SERVICE>_`` environment variables).
SETTINGS: Final[dict[str, type[ServiceSettings]]] = {
    "gateway": GatewaySettings,
    "tpf": TpfSettings,
    "registry": RegistrySettings,
}


def uvicorn_options(settings: ServiceSettings) -> dict[str, Any]:
    """uvicorn's TLS options for a service with ``settings``: its certificate and key, client certificates asked
    for and checked against the directory's CA, TLS 1.2 at least (services.kit.tls.server_context), and the
    protocol that gives the app the peer's certificate and gives a request's headers a deadline
    (services.kit.guards). Only the protocol under ``plain_http``."""
    options: dict[str, Any] = {"http": GuardedProtocolFactory(settings.header_timeout_s)}
    if settings.plain_http:
        return options
    ca = tuple(PublicDirectory.load(settings.directory).tls_ca)
    server_context(settings.tls_cert_path, settings.tls_key_path, ca)  # a missing or open key fails here, named
    return {**options, "ssl_context_factory": ServerContextFactory(settings.tls_cert_path, settings.tls_key_path, ca)}


class ConfigurationError(ValueError):
    """A service's settings are missing or wrong in the environment; the message names the variables (never a
    value), in one line."""


def settings_from_environment(service: str) -> ServiceSettings:
    """``service``'s settings from its environment variables; :class:`ConfigurationError` naming each variable that
    is missing or wrong (pydantic names the field, a user sets the variable)."""
    kind = SETTINGS[service]
    try:
        return kind()
    except ValidationError as exc:
        prefix = str(kind.model_config.get("env_prefix", ""))
        missing = [f"{prefix}{e['loc'][0]}".upper() for e in exc.errors() if e["type"] == "missing" and e["loc"]]
        wrong = [
            f"{prefix}{e['loc'][0]}".upper() + f" ({e['msg'].lower()})"
            for e in exc.errors()
            if e["type"] != "missing" and e["loc"]
        ]
        parts = ([f"needs {', '.join(missing)}"] if missing else []) + (
            [f"has a wrong {', '.join(wrong)}"] if wrong else []
        )
        raise ConfigurationError(f"{service} {'; '.join(parts) or 'cannot read its settings'}") from None


def serve(service: str, *, host: str, port: int, workers: int = 1, graceful_shutdown_s: int = 30) -> None:
    """Run ``service`` until it is stopped (SIGTERM or Ctrl-C): one process, or with ``workers`` above 1 uvicorn's
    process manager and that many workers on one socket (a worker that dies is started again). At a SIGTERM,
    requests in flight get ``graceful_shutdown_s`` to finish."""
    import uvicorn

    settings = settings_from_environment(service)  # as the app factory reads it
    uvicorn.run(
        APPS[service],
        factory=True,
        host=host,
        port=port,
        server_header=False,
        # The services log each request by route template; uvicorn's access log would print raw paths.
        access_log=False,
        workers=workers,
        timeout_graceful_shutdown=graceful_shutdown_s,
        **uvicorn_options(settings),
    )
