"""Whose submission it is: a ``municipality`` credential acts for its own kommuneNr only, an ``operator`` for every
municipality the gateway serves. Another municipality's submission is answered exactly like an unknown id, so a
municipality cannot learn that it exists."""

from __future__ import annotations

import contextlib

from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine

from services.kit.credentials import Credential
from services.kit.problems import Problem, ProblemType
from services.municipality_gateway import repository
from services.municipality_gateway.repository import StoredSubmission
from shared.iplos.municipalities import NoMunicipalityList, municipality_name


def not_found() -> Problem:
    # One answer for "no such id" and "another municipality's submission": the caller cannot tell them apart.
    return Problem(ProblemType.NOT_FOUND, "No submission with this id")


def not_permitted(caller: Credential, municipality: str, year: int) -> Problem:
    """Says which municipality the credential may submit for (from the credential file, not from the request),
    by number and name, beside the export's: the usual cause is an export of the wrong municipality picked up."""
    permitted = caller.municipality or "none"
    name = None
    if caller.municipality:
        with contextlib.suppress(NoMunicipalityList):  # a year before SSB's lists: the number alone
            name = municipality_name(caller.municipality, year)
    return Problem(
        ProblemType.MUNICIPALITY_NOT_PERMITTED,
        f"This credential may submit for municipality {permitted}{f' ({name})' if name else ''} only; the export is"
        f" for {municipality}. Nothing was accepted",
        permitted=caller.municipality,
        municipality=municipality,
    )


def find(engine: Engine, message_id: str) -> StoredSubmission | None:
    with engine.connect() as conn:
        return repository.find(conn, message_id)


async def own_submission(engine: Engine, caller: Credential, message_id: str) -> StoredSubmission:
    """The submission ``message_id`` if the caller acts for its municipality; else 404 ``not-found``. (A
    submission's municipality never changes, so what is read here stays true while the use case goes on.)"""
    stored = await run_in_threadpool(find, engine, message_id)
    if stored is None or not caller.acts_for(stored.municipality):
        raise not_found()
    return stored
