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

FORMAT_VERSION = "1.1"  # the version the writer produces; the reader accepts 1.0 and 1.1 (schema.FORMAT_VERSIONS)


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


# Code lists of the person background (the export's own lists, modelled on the IPLOS variables).
HOUSING_TYPES: dict[int, str] = {
    1: "ordinær bolig",
    2: "omsorgsbolig / tilrettelagt bolig",
    3: "bolig i institusjon",
    4: "uten fast bolig",
    9: "uoppgitt",
}
HOUSEHOLD_TYPES: dict[int, str] = {
    1: "bor alene",
    2: "bor med ektefelle / samboer",
    3: "bor med foreldre",
    4: "bor med andre",
    9: "uoppgitt",
}
# Volven 7316: what a service line does to earlier reports of the same service.
EVENT_TYPES: dict[str, str] = {
    "N": "original",
    "M": "korreksjon - erstatter",
    "T": "korreksjon - tillegg",
    "C": "annullering",
}
# Legal basis of a coercion decision.
COERCION_BASES: dict[str, str] = {
    "HOL9": "helse- og omsorgstjenesteloven kap. 9 (personer med utviklingshemning)",
    "PBRL4A": "pasient- og brukerrettighetsloven kap. 4A (helsehjelp med tvang)",
}
COMPLAINT_OUTCOMES: dict[str, str] = {
    "medhold": "klagen tatt til følge",
    "delvis": "delvis medhold",
    "ikke-medhold": "vedtaket opprettholdt",
    "under-behandling": "ikke avgjort",
}


@dataclass(frozen=True, slots=True)
class Contact:
    """The municipality's contact person for this export (not a service recipient)."""

    navn: str
    telefon: str | None = None
    epost: str | None = None


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
    bydel_nr: str | None = None  # six digits, for municipalities with city districts (Oslo 030101-030117, 030199)
    kontaktperson: Contact | None = None


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
    application_date: dt.date | None = None
    event_type: str = "N"  # EVENT_TYPES


@dataclass(frozen=True, slots=True)
class PersonBackground:
    """The person's situation as the municipality records it. Every field is optional in the export."""

    housing: int | None = None  # HOUSING_TYPES
    household: int | None = None  # HOUSEHOLD_TYPES
    unpaid_help: bool | None = None  # gets unpaid private help (ulønnet privat hjelp)
    assisted_communication: bool | None = None  # needs assisted communication (tolk, ASK)
    death_date: dt.date | None = None
    assessed_by_doctor: dt.date | None = None
    assessed_by_dentist: dt.date | None = None
    individual_plan: bool | None = None  # has an individual plan (individuell plan)


@dataclass(frozen=True, slots=True)
class Refusal:
    """An application that was refused (avslag)."""

    tjeneste_type: int
    application_date: dt.date | None
    decision_date: dt.date


@dataclass(frozen=True, slots=True)
class Complaint:
    """A complaint about a decision (klage)."""

    tjeneste_type: int
    complaint_date: dt.date
    outcome: str | None  # COMPLAINT_OUTCOMES


@dataclass(frozen=True, slots=True)
class Coercion:
    """A decision on coercion (tvangsvedtak)."""

    vedtak_id: str
    legal_basis: str  # COERCION_BASES
    decision_date: dt.date
    start_date: dt.date
    end_date: dt.date | None


@dataclass(frozen=True, slots=True)
class PersonRecord:
    """One person as the export holds it, identity number included. Never leaves the gateway whole."""

    bruker_nr: str
    fid: str = field(repr=False)
    fid_type: FidType
    function_scores: tuple[FunctionScore, ...]
    diagnoses: tuple[Diagnosis, ...]
    services: tuple[Service, ...]
    background: PersonBackground = PersonBackground()
    refusals: tuple[Refusal, ...] = ()
    complaints: tuple[Complaint, ...] = ()
    coercion: tuple[Coercion, ...] = ()


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
    background: PersonBackground = PersonBackground()
    refusals: tuple[Refusal, ...] = ()
    complaints: tuple[Complaint, ...] = ()
    coercion: tuple[Coercion, ...] = ()


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Finding:
    """One logical-control finding. ``ref`` names the record (None: about the whole submission); ``field``
    and ``detail`` say where (e.g. ``tjeneste[2].startdato``), never an identity number."""

    code: str
    ref: str | None
    field: str | None = None
    detail: str | None = None
