"""What every use case works with: the gateway's settings, database, keys, peers and instruments."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from services.kit.audit_log import AuditLog
from services.kit.credentials import Credential
from services.kit.http import Clients
from services.municipality_gateway.config import GatewaySettings
from services.municipality_gateway.monitoring import GatewayMetrics
from services.municipality_gateway.outbox import OutboxWorker
from shared.keys import POPULATION_REGISTER, PartyKeys, PublicDirectory


@dataclass
class GatewayContext:
    """Built once, at start-up (``api.create_app``'s lifespan), and handed to every use case."""

    settings: GatewaySettings
    engine: Engine
    directory: PublicDirectory
    keys: dict[str, PartyKeys]
    """The signing and report-opening keys of every municipality this gateway serves, by kommuneNr."""
    worker: OutboxWorker
    clients: Clients
    """HTTP clients by kommuneNr, each presenting that municipality's TLS certificate (to the TPF, the registry)."""
    credentials: list[Credential]
    audit: AuditLog
    metrics: GatewayMetrics
    registry_token: str | None = None
    """The gateway's own bearer token at the registry (``REGISTRY_TOKEN_FILE``), for fetching reports."""

    @property
    def register_zone(self) -> bool:
        """Whether this is the population register's gateway: it signs extracts, with the register's key, for every
        municipality (issue 14), and takes no care exports."""
        return any(keys.party == POPULATION_REGISTER for keys in self.keys.values())

    @property
    def work_dir(self) -> Path:
        """Spooled uploads and half-sealed folders (``incoming-<id>``), swept at start-up."""
        return self.settings.state_dir / "work"

    @property
    def outbox_dir(self) -> Path:
        """One folder per accepted submission: its sealed parts, signed header and signature."""
        return self.settings.state_dir / "outbox"
