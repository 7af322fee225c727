"""``python -m iplos_testkit.soak``: the soak without the ``iplos`` command, with the first findings listed."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from iplos_testkit.soak.databases import DATABASES, POSTGRES_URL_ENV
from iplos_testkit.soak.run import PlainConsole, run_soak


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m iplos_testkit.soak",
        description=(
            "Soak test: the chain under SIGKILL of processes of all three services, checked for lost, duplicated"
            " and partial data."
        ),
    )
    parser.add_argument("--submissions", type=int, default=200)
    parser.add_argument("--faults", type=int, default=None, help="SIGKILLs to inject (default: one per submission)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--state-dir", type=Path, default=None, help="default: a new temporary folder")
    parser.add_argument("--max-seconds", type=float, default=900.0)
    parser.add_argument("--database", choices=DATABASES, default="sqlite")
    parser.add_argument("--postgres-url", default=None, help=f"default: ${POSTGRES_URL_ENV}, else the local server")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL databases after the run")
    parser.add_argument("--workers", type=int, default=2, help="processes per service (default: 2)")
    args = parser.parse_args(argv)
    state_dir = args.state_dir or Path(tempfile.mkdtemp(prefix="iplos-soak-"))
    console = PlainConsole()
    result = run_soak(
        state_dir,
        args.submissions,
        args.seed,
        console,
        max_seconds=args.max_seconds,
        max_faults=args.faults,
        database=args.database,
        postgres_url=args.postgres_url,
        keep_databases=args.keep,
        workers=args.workers,
    )
    for line in result.summary_lines():
        console.print(line)
    for label, items in (
        ("lost", result.lost),
        ("duplicated", result.duplicated),
        ("partial", result.partial_details),
        ("problem", result.problems),
    ):
        for item in items[:20]:
            console.print(f"  {label}: {item}")
    console.print("OK" if result.ok else f"FAILED (state and logs kept in {state_dir})")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
