#!/usr/bin/env python3
"""The services' container health check: ``GET /readyz`` on the service's own port inside the container.

Ready, not only alive: the service's database answers and its keys match the directory (services/kit/health).
Exit 0 when it answers 200, 1 otherwise. Usage: ``iplos-healthcheck URL [DIRECTORY]``, e.g.
``iplos-healthcheck https://127.0.0.1:8001/readyz /run/iplos/directory.json``.

Over https the service's certificate is verified, host name (127.0.0.1, in every service certificate's names)
included, against the CA certificates in DIRECTORY (``tls_ca``), the public-key directory in the service's own
secrets folder: a check that skipped verification would also pass against a listener with the wrong certificate,
which is exactly what a certificate mix-up in a secrets folder looks like. No client certificate: ``/readyz``
asks for none. Standard library only, so that it runs even where the service's own code would not import.
"""

from __future__ import annotations

import json
import ssl
import sys
import urllib.error
import urllib.request
from pathlib import Path


def _context(directory: str) -> ssl.SSLContext:
    """A client context trusting the directory's CAs (a list: an old and a new CA overlap in a rotation)."""
    cas = json.loads(Path(directory).read_text(encoding="utf-8")).get("tls_ca") or []
    if not cas:
        raise ValueError("the directory names no TLS CA (tls_ca)")
    context = ssl.create_default_context(cadata="\n".join(cas))  # CERT_REQUIRED, host name checked
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def main(url: str, directory: str | None = None) -> int:
    context = None
    try:
        if url.startswith("https://"):
            if directory is None:
                raise ValueError("an https URL needs the directory whose CA to trust (second argument)")
            context = _context(directory)
        with urllib.request.urlopen(url, timeout=5, context=context) as response:  # noqa: S310 - URL from the compose file
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError, ValueError) as exc:
        # The class, and the reason for TLS failures (a certificate mismatch says what does not match) and for our
        # own ValueErrors; the URL is the compose file's, the directory public: nothing secret in any of them.
        reason = exc if isinstance(exc, ValueError) else getattr(exc, "reason", None)
        detail = f" ({reason})" if isinstance(reason, ssl.SSLError | ValueError) else ""
        print(f"iplos-healthcheck: {url}: {type(exc).__name__}{detail}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        print("usage: iplos-healthcheck URL [DIRECTORY]", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(*sys.argv[1:]))
