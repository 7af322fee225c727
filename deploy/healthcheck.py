#!/usr/bin/env python3
"""The services' container health check: ``GET /readyz`` on the service's own port inside the container.

Ready, not only alive: the service's database answers and its keys match the directory (services/kit/health).
Exit 0 when it answers 200, 1 otherwise. Usage: ``iplos-healthcheck URL`` (e.g. http://127.0.0.1:8001/readyz).
Over https (mutual TLS) it checks the service's own loopback listener, where the question is readiness and not
the peer's identity, so it does not verify the certificate.
"""

from __future__ import annotations

import ssl
import sys
import urllib.error
import urllib.request


def main(url: str) -> int:
    context = None
    if url.startswith("https://"):
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(url, timeout=5, context=context) as response:  # noqa: S310 - URL from the compose file
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"iplos-healthcheck: {url}: {type(exc).__name__}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8001/readyz"))
