"""Loading a bulk file of Enhetsregisteret into the registry's copy (issue 15, docs/business-register.md): read it
as Brønnøysundregistrene serves it, load it in one transaction, and say what it changed."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import IO, Final

import structlog

from services.kit.problems import Problem, ProblemType
from services.registry_intake.repository.business_register import BusinessLoad, LoadOutcome, StaleBusinessFile
from services.registry_intake.service.context import RegistryContext
from shared.business_register import BusinessRegisterInvalid, UnitKind, read_units

__all__ = ["BusinessFile", "BusinessLoad", "LoadOutcome", "copy_complete", "load_business_file", "recent_loads"]

log = structlog.get_logger("registry")

#: A credential's name as the audit log takes it; another is not written there (the table keeps it).
_AUDIT_NAME: Final = re.compile(r"[A-Za-z0-9:._/-]{1,100}")


@dataclass(frozen=True)
class BusinessFile:
    """A bulk file as uploaded: spooled, its SHA-256 taken on the way; ``as_of`` the day it was taken from the
    register (default: today); ``kind`` None to let the file say."""

    spool: IO[bytes]
    sha256: str
    as_of: dt.date | None
    kind: UnitKind | None


def load_business_file(ctx: RegistryContext, upload: BusinessFile, caller: str, now: dt.datetime) -> LoadOutcome:
    """Load ``upload`` as of its day; a 422 problem for a file the registry cannot read (nothing changes), 409 for
    one older than the newest of its kind."""
    as_of = upload.as_of or now.date()
    try:
        kind, units = read_units(upload.spool, upload.kind)
        outcome = ctx.business.load(
            kind,
            units,
            as_of=as_of,
            file_sha256=upload.sha256,
            loaded_by=caller if _AUDIT_NAME.fullmatch(caller) else "operator",
            now=now,
        )
    except BusinessRegisterInvalid as exc:
        log.info("business register file refused", code=exc.code)
        raise Problem(ProblemType.INVALID_BUSINESS_FILE, detail=str(exc), code=exc.code) from None
    except StaleBusinessFile as exc:
        raise Problem(
            ProblemType.STALE_BUSINESS_FILE, detail=str(exc), kind=exc.kind, newest=exc.newest.isoformat()
        ) from None
    load = outcome.load
    log.info(
        "business register loaded",
        kind=load.kind,
        as_of=load.as_of.isoformat(),
        units=load.unit_count,
        gone=load.gone_count,
        findings_changed=sum(outcome.findings_changed.values()),
    )
    return outcome


def copy_complete(ctx: RegistryContext) -> bool:
    """Whether both kinds of unit are loaded (only then are K036-K039 judged)."""
    return ctx.business.complete()


def recent_loads(ctx: RegistryContext, limit: int = 20) -> list[BusinessLoad]:
    """The latest loads, newest first."""
    return ctx.business.loads(limit)
