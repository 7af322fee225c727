"""``make compose-test``: the compose stack (docker-compose.yml, deploy/) built and run for real with podman.

Not a pytest test: it needs root, a container engine and minutes. It installs what it needs (Debian's podman,
podman-compose, mmdebstrap, runc), builds a local Debian base image once, builds the images, prepares keys and
secrets, starts PostgreSQL and the three services (mutual TLS on every hop), submits a synthetic export through
the published gateway port over mutual TLS, waits for the registry's receipt, checks it through the registry's
operator API over TLS and tears everything it made down, also when a step fails. Each phase is timed.

* :mod:`iplos_testkit.compose.engine`: the engine on this host (packages, containers.conf, the base image) and a
  command runner that logs to a file;
* :mod:`iplos_testkit.compose.stack`: one compose project: its secrets, start, readiness, teardown;
* :mod:`iplos_testkit.compose.checks`: the mutual-TLS checks (each container's own TLS key only and never the CA's;
  no client certificate: /readyz answers, deliveries are refused);
* :mod:`iplos_testkit.compose.run`: the phases, the chain check and the summary (``python -m iplos_testkit.compose``).
"""

from iplos_testkit.compose.run import main

__all__ = ["main"]
