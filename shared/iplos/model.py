"""The IPLOS data model as the chain carries it.

Two shapes of one person record:

* ``PersonRecord`` is what the municipality's export holds: it carries the identity number (``fid``).
* ``PayloadRecord`` is what travels to the registry: the identity number is gone, replaced by a random
  record reference (``ref``), with the birth year and sex the gateway derived from the number.

Dates are ``datetime.date``; optional values are ``None``. Field names follow the Norwegian export
vocabulary where the domain is Norwegian (``bruker_nr`` for ``brukerNr``, ``tjeneste_type`` for
``tjenesteType``), because the users are.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

from shared.fnr import Sex as Sex  # the data model's sex is the one identity numbers encode

FORMAT_VERSION = "1.0"


class FidType(StrEnum):
    """The kind of identity number the export says it carries (``fid/@type``)."""

    FNR = "FNR"
    DNR = "DNR"
    HNR = "HNR"
    FHN = "FHN"


class CodeSystem(StrEnum):
    ICPC2 = "ICPC-2"
    ICD10 = "ICD-10"


# The 17 function variables, in the order of the IPLOS documentation. The values are the XML names.
FUNCTION_VARIABLES: tuple[str, ...] = (
    "sosialDeltakelse",
    "beslutningerDagligliv",
    "ivaretaEgenHelse",
    "alminneligHusarbeid",
    "skaffeVarerOgTjenester",
    "personligHygiene",
    "avOgPakledning",
    "spise",
    "lageMat",
    "bevegeSegInnendors",
    "bevegeSegUtendors",
    "toalett",
    "styreAtferd",
    "hukommelse",
    "kommunikasjon",
    "syn",
    "horsel",
)

# 1 no problems ... 5 full need, 9 not relevant.
VALID_SCORES: frozenset[int] = frozenset({1, 2, 3, 4, 5, 9})

# Volven 9151 service codes and their Norwegian names.
SERVICE_TYPES: dict[int, str] = {
    1: "praktisk bistand - daglige gjøremål",
    2: "praktisk bistand - opplæring",
    3: "brukerstyrt personlig assistanse",
    4: "dagaktivitetstilbud",
    5: "matombringing",
    6: "trygghetsalarm",
    7: "avlastning utenfor institusjon",
    8: "avlastning i institusjon",
    9: "støttekontakt",
    11: "omsorgsstønad",
    14: "tvang PU - planlagte tiltak",
    15: "helsetjenester i hjemmet",
    17: "dagopphold i institusjon",
    18: "tidsbegrenset opphold - utredning/behandling",
    19: "tidsbegrenset opphold - habilitering/rehabilitering",
    20: "tidsbegrenset opphold - annet",
    21: "langtidsopphold",
    22: "nattopphold",
    23: "tvang PU - nødsituasjoner",
    24: "helsehjelp med tvang",
    25: "kommunal øyeblikkelig hjelp døgnopphold",
    26: "GPS",
    27: "elektronisk medisineringsstøtte",
    28: "digitalt tilsyn",
    29: "bolig kommunen disponerer",
}


@dataclass(frozen=True, slots=True)
class ExportHeader:
    """``meldingshode``: who sent the export, for which year."""

    melding_guid: str
    format_version: str
    navn_epj: str
    leverandor: str
    versjon_epj: str
    rapporteringsaar: int
    kommune_nr: str


@dataclass(frozen=True, slots=True)
class FunctionScore:
    variable: str
    score: int
    date: dt.date


@dataclass(frozen=True, slots=True)
class Diagnosis:
    system: CodeSystem
    code: str


@dataclass(frozen=True, slots=True)
class Service:
    tjeneste_id: str
    tjeneste_type: int
    decision_date: dt.date | None
    start_date: dt.date
    end_date: dt.date | None
    hours_per_week: float | None
    org_nr: str | None


@dataclass(frozen=True, slots=True)
class PersonRecord:
    """One person as the export holds it, identity number included. Never leaves the gateway whole."""

    bruker_nr: str
    fid: str = field(repr=False)
    fid_type: FidType
    function_scores: tuple[FunctionScore, ...]
    diagnoses: tuple[Diagnosis, ...]
    services: tuple[Service, ...]


@dataclass(frozen=True, slots=True)
class PayloadRecord:
    """One person as the registry receives it: no identity number, no ``brukerNr``; a random reference."""

    ref: str
    birth_year: int | None
    sex: Sex | None
    fid_type: FidType
    function_scores: tuple[FunctionScore, ...]
    diagnoses: tuple[Diagnosis, ...]
    services: tuple[Service, ...]
