"""One chain of three real uvicorn processes on loopback ports for the whole end-to-end session, over mutual TLS
(as ``iplos up`` runs it: each started by ``iplos serve``), once on SQLite and once on PostgreSQL (each service
its own fresh database): every test that takes ``chain`` runs on both."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from iplos_chain import Chain, ensure_keys, free_port
from iplos_testkit.generator import generate_export
from tests.postgres import DATABASES, service_databases
from tests.tls import trust_chain

MUNICIPALITIES = ["0301", "4601", "5001", "1103"]
YEAR = 2025
BODY_LIMIT = 4 * 1024 * 1024  # small, so the tests can exceed it cheaply; the exports here are far smaller


@pytest.fixture(scope="session", params=DATABASES)
def chain(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    state = tmp_path_factory.mktemp(f"chain-{request.param}")
    ensure_keys(state, MUNICIPALITIES)
    limits = {
        "gateway": {"IPLOS_GATEWAY_MAX_BODY_BYTES": str(BODY_LIMIT)},
        "tpf": {"IPLOS_TPF_MAX_BODY_BYTES": str(BODY_LIMIT)},
        "registry": {"IPLOS_REGISTRY_MAX_BODY_BYTES": str(BODY_LIMIT)},
    }
    ports = {s: free_port() for s in ("gateway", "tpf", "registry")}
    with service_databases(request.param, "iplos_e2e_") as databases:
        env = {service: {**limits[service], **databases.get(service, {})} for service in limits}
        with Chain(state, ports=ports, extra_env=env) as running:
            trust_chain(running)  # every call of the tests goes over https, checked against the chain's CA
            yield running


@dataclass(frozen=True)
class Export:
    municipality: str
    year: int
    persons: int
    path: Path


@pytest.fixture(scope="session")
def exports_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("exports")


@pytest.fixture(scope="session")
def make_export(exports_dir: Path):  # type: ignore[no-untyped-def]
    """Write a synthetic export into the session's export folder (all of them are scanned for leaks)."""
    counter = iter(range(10_000))

    def make(municipality: str, persons: int, *, year: int = YEAR, seed: int = 1, vary: int = 0) -> Export:
        path = exports_dir / f"{municipality}-{year}-{seed}-{vary}-{next(counter)}.xml"
        with path.open("wb") as handle:
            generate_export(municipality, year, persons, seed, handle, vary=vary)
        return Export(municipality, year, persons, path)

    return make
