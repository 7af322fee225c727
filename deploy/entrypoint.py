#!/usr/bin/env python3
"""The services' container entrypoint: wait for the service's PostgreSQL (bounded), then run the command.

A compose engine may start a service before its database accepts connections (podman-compose ignores
``depends_on`` conditions, and a PostgreSQL volume's first start runs its init script first). Without this, the
service's migrations fail at start, the process exits and only the restart policy brings it back. Here it waits
up to ``IPLOS_DATABASE_WAIT_S`` seconds (default 120) for a real connection with the service's own credentials
(the password from ``PGPASSFILE``), then ``exec``s the command, so the service is the container's main process
and gets its signals. No database URL of PostgreSQL (SQLite): no wait.

Each line it prints names the host and database only, never the URL (which could hold a password).
"""

from __future__ import annotations

import os
import sys
import time

DEFAULT_WAIT_S = 120.0


def _database_url() -> str | None:
    """The one ``IPLOS_<SERVICE>_DATABASE_URL`` in the environment that points at PostgreSQL, if any."""
    for name, value in sorted(os.environ.items()):
        if name.startswith("IPLOS_") and name.endswith("_DATABASE_URL") and value.startswith("postgresql"):
            return value
    return None


def wait_for_database(url: str, wait_s: float) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    target = f"{parsed.host}:{parsed.port or 5432}/{parsed.database}"
    conninfo = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    deadline = time.monotonic() + wait_s
    attempts = 0
    while True:
        attempts += 1
        try:
            with psycopg.connect(conninfo, connect_timeout=3):
                print(f"iplos-entrypoint: database {target} answers (attempt {attempts})", flush=True)
                return
        except psycopg.OperationalError as exc:
            if time.monotonic() >= deadline:
                # The driver's message names host and role but never the password; the class is enough here.
                print(
                    f"iplos-entrypoint: database {target} did not answer within {wait_s:.0f} s"
                    f" ({attempts} attempts, last error {type(exc).__name__}); giving up",
                    file=sys.stderr,
                    flush=True,
                )
                raise SystemExit(1) from None
            if attempts == 1:
                print(f"iplos-entrypoint: waiting up to {wait_s:.0f} s for database {target}", flush=True)
            time.sleep(1.0)


def main(argv: list[str]) -> None:
    if not argv:
        argv = ["iplos", "--help"]
    tmp = os.environ.get("TMPDIR")
    if tmp:
        os.makedirs(tmp, mode=0o700, exist_ok=True)
    url = _database_url()
    if url is not None:
        wait_for_database(url, float(os.environ.get("IPLOS_DATABASE_WAIT_S", DEFAULT_WAIT_S)))
    os.execvp(argv[0], argv)  # noqa: S606 - the container command, as given; exec so it gets the signals


if __name__ == "__main__":
    main(sys.argv[1:])
