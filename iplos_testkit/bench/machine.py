"""What the bench ran on: cores, CPU model, Python, the database versions, the load when it started."""

from __future__ import annotations

import os
import platform
import sqlite3
from pathlib import Path

from lxml import etree
from sqlalchemy import create_engine, text

__all__ = ["describe_machine"]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _postgres_version(url: str) -> str:
    engine = create_engine(url, connect_args={"connect_timeout": 10})
    try:
        with engine.connect() as conn:
            return str(conn.execute(text("SHOW server_version")).scalar_one())
    finally:
        engine.dispose()


def describe_machine(postgres_url: str | None = None) -> dict[str, str | int | float]:
    """The machine's description for the result; ``postgres_url``: a database on the server the run used."""
    described: dict[str, str | int | float] = {
        "cores": os.cpu_count() or 0,
        "cpu_model": _cpu_model(),
        "python": platform.python_version(),
        "lxml": ".".join(str(part) for part in etree.LXML_VERSION),
        "sqlite": sqlite3.sqlite_version,
        "load_1min_at_start": round(os.getloadavg()[0], 2),
    }
    if postgres_url is not None:
        described["postgresql"] = _postgres_version(postgres_url)
    return described
