"""What every use case works with: the registry's keys, the public directory, storage, audit log and metrics."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import Engine

from services.kit.audit_log import AuditLog
from services.kit.refusals import RefusalMemory
from services.registry_intake.monitoring import RegistryMetrics
from services.registry_intake.read.comparison_cache import YearSums
from services.registry_intake.read.probes import ProbeThresholds
from services.registry_intake.read.queries import SubmissionQueries
from services.registry_intake.repository import SubmissionRepository
from services.registry_intake.repository.business_register import BusinessRegisterRepository
from services.registry_intake.repository.register import RegisterRepository
from shared.keys import PartyKeys, PublicDirectory

__all__ = ["RegistryContext"]


@dataclass
class RegistryContext:
    """Built once when the app starts (``api.create_app``); ``keys`` may be swapped by a test (a key rotation)."""

    keys: PartyKeys
    directory: PublicDirectory
    engine: Engine
    """The registry's database (the repository and the queries each hold it too)."""
    repository: SubmissionRepository
    """The write side: one transaction per decision."""
    queries: SubmissionQueries
    """The read side."""
    max_age: dt.timedelta
    max_skew: dt.timedelta
    audit: AuditLog
    refusals: RefusalMemory
    register: RegisterRepository
    """The population register's extracts (issue 14)."""
    business: BusinessRegisterRepository
    """The registry's copy of Enhetsregisteret (issue 15)."""
    metrics: RegistryMetrics = field(default_factory=RegistryMetrics)
    #: The comparison statistics' sums of each year, kept for the registry state they were read in.
    comparison_sums: YearSums = field(default_factory=YearSums)
    #: A submission declaring fewer persons than this share of the active one's is held, not applied, until the
    #: municipality confirms it (0: never held).
    hold_below: float = 0.5
    #: When a care submission looks like a probe of chosen numbers (issue 17): counted, and alerted on.
    probes: ProbeThresholds = field(default_factory=ProbeThresholds)
