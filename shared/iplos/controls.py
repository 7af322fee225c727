"""The registry's logical controls: a catalogue with stable codes, and a streaming runner.

Two tiers, as the national registries work: a schema error rejects the whole submission (the gateway catches
it before sealing); everything here is a *content* finding, stored per record with the record, which is kept.

* ``CATALOGUE`` lists every control: a stable code (``K001`` ...), a severity, a one-line title and the rule.
  **Codes are stable forever once published**: a withdrawn control keeps its code reserved,
  a new control gets the next free number, nothing is ever renumbered. Titles and rules are in Norwegian
  (bokmål), because the municipality's staff read them in their control report; ``docs/controls.md`` is
  generated from this module (``python -m shared.iplos.controls > docs/controls.md``) and a test keeps it equal.
* ``ControlRunner`` runs the controls while the registry streams records into its database: one
  ``submission_findings()`` for the message header, then ``check()`` once per record in submission order. It
  keeps only what the cross-record rules need (the pseudonyms seen, and each ``tjenesteID`` seen with its first
  decision date), never the records.

Closed vocabularies (the event type of a service line, Volven 7316; the legal basis of a coercion decision; the
outcome of a complaint) are schema-tier: the export's XSD enumerates them and the payload codec refuses any other
value, so the registry never sees one and there is no control for them. Open code lists (service, housing and
household codes; scores) are only bounded by the schema and judged here.

A ``Finding`` names the record by its reference (``ref``; None for the submission) and locates the fault with
``field`` (e.g. ``tjenester[2].startdato``, 1-based) and a short ``detail`` that may quote payload values (the
report is sealed for the municipality alone) but never an identity number or a pseudonym.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal, Protocol

from shared.iplos.model import (
    HOUSEHOLD_TYPES,
    HOUSING_TYPES,
    SERVICE_TYPES,
    VALID_SCORES,
    ExportHeader,
    Finding,
    PayloadRecord,
    Service,
    Severity,
)
from shared.iplos.municipalities import NoMunicipalityList, successors_2024, valid_municipalities

__all__ = [
    "CATALOGUE",
    "DISTRICT_MUNICIPALITIES",
    "EARLIEST_DATE",
    "HOURLY_SERVICES",
    "IDENTITY_OK",
    "LONG_TERM_STAY",
    "MAX_AGE",
    "MAX_HOURS_PER_WEEK",
    "NO_ORG_NR_SERVICES",
    "Control",
    "ControlRunner",
    "control",
    "org_nr_is_valid",
    "render_markdown",
]

# ----------------------------------------------------------------------------------------- reference values

# Services measured in hours per week of direct user time: 1 and 2 praktisk bistand, 3 BPA, 7 avlastning utenfor
# institusjon, 9 støttekontakt, 11 omsorgsstønad, 15 helsetjenester i hjemmet. (The generator uses the same set.)
HOURLY_SERVICES: frozenset[int] = frozenset({1, 2, 3, 7, 9, 11, 15})
# No performing unit is reported for 26 GPS and 29 bolig kommunen disponerer.
NO_ORG_NR_SERVICES: frozenset[int] = frozenset({26, 29})
LONG_TERM_STAY = 21
MAX_HOURS_PER_WEEK = 168.0
EARLIEST_DATE = dt.date(1900, 1, 1)
MAX_AGE = 125
# The identity status of a record whose identity number the TPF accepted (anything else is its refusal rule).
IDENTITY_OK = "ok"

# Municipalities divided into city districts (SSB's bydelsinndeling): a bydelNr is six digits, the municipality
# number and a two-digit district. Oslo's districts are 01-17 and 99 "uoppgitt" (IPLOS_DATA.md); for the others
# only the prefix and a district 01-99 are checked.
DISTRICT_MUNICIPALITIES: frozenset[str] = frozenset({"0301", "1103", "4601", "5001"})
_OSLO_DISTRICTS: frozenset[str] = frozenset({f"0301{n:02d}" for n in range(1, 18)} | {"030199"})

_ORG_WEIGHTS = (3, 2, 7, 6, 5, 4, 3, 2)
_STATUS_CODE = re.compile(r"[a-z]{1,20}(?:-[a-z]{1,20}){0,3}")  # a rule name, never digits


def org_nr_is_valid(number: str) -> bool:
    """True for nine ASCII digits whose last digit is the mod-11 check digit (weights 3,2,7,6,5,4,3,2) of the
    first eight; a prefix whose check digit would be 10 gives no valid number."""
    if len(number) != 9 or not (number.isascii() and number.isdigit()):
        return False
    remainder = sum(w * int(d) for w, d in zip(_ORG_WEIGHTS, number, strict=False)) % 11
    check = 0 if remainder == 0 else 11 - remainder
    return check != 10 and int(number[8]) == check


def _codes(table: dict[int, str] | dict[str, str]) -> str:
    return ", ".join(f"{key} ({value})" for key, value in table.items())


def _numbers(values: frozenset[int]) -> str:
    return ", ".join(str(v) for v in sorted(values))


# ---------------------------------------------------------------------------------------------- catalogue


@dataclass(frozen=True, slots=True)
class Control:
    """One logical control. ``code`` is stable forever; ``title`` is one line, ``rule`` the precise rule."""

    code: str
    severity: Severity
    title: str
    rule: str
    scope: Literal["record", "submission"]


# The codes, named for the code that raises and the fault injector that provokes them.
MUNICIPALITY_INVALID = "K001"
MUNICIPALITY_NOT_SIGNER = "K002"
DISTRICT_NOT_EXPECTED = "K003"
DISTRICT_MISMATCH = "K004"
IDENTITY_REFUSED = "K005"
DUPLICATE_PERSON = "K006"
BIRTH_YEAR_IMPLAUSIBLE = "K007"
DATE_BEFORE_1900 = "K008"
DEATH_AFTER_YEAR = "K009"
HOUSING_UNKNOWN = "K010"
HOUSEHOLD_UNKNOWN = "K011"
ASSESSMENT_AFTER_YEAR = "K012"
SCORE_INVALID = "K013"
SCORE_REPEATED = "K014"
SERVICE_TYPE_UNKNOWN = "K015"
START_AFTER_END = "K016"
OUTSIDE_YEAR = "K017"
DECISION_AFTER_START = "K018"
DECISION_BEFORE_APPLICATION = "K019"
HOURS_OUT_OF_RANGE = "K020"
HOURS_MISSING = "K021"
HOURS_NOT_APPLICABLE = "K022"
ORG_NR_MISSING = "K023"
ORG_NR_INVALID = "K024"
ORG_NR_NOT_APPLICABLE = "K025"
LONG_TERM_OVERLAP = "K026"
SERVICE_AFTER_DEATH = "K027"
DUPLICATE_SERVICE_ID = "K028"
CONFLICTING_DECISIONS = "K029"
REFUSAL_OR_COMPLAINT_AFTER_YEAR = "K030"
COERCION_START_AFTER_END = "K031"

_E, _W = Severity.ERROR, Severity.WARNING
_HOURLY = _numbers(HOURLY_SERVICES)

CATALOGUE: tuple[Control, ...] = (
    Control(
        MUNICIPALITY_INVALID,
        _E,
        "kommuneNr er ikke gyldig i rapporteringsåret",
        "kommuneNr i meldingshodet skal finnes i SSBs kommuneliste (klassifikasjon 131) for rapporteringsåret: "
        "listen for 2020–2023 gjelder årene 2020–2023, listen fra 2024 gjelder 2024 og senere. For år før 2020 "
        "har registeret ingen liste, og kommuneNr kan ikke godkjennes.",
        "submission",
    ),
    Control(
        MUNICIPALITY_NOT_SIGNER,
        _E,
        "kommuneNr er ikke kommunen som sendte inn",
        "kommuneNr i meldingshodet skal være kommunen som signerte innsendingen. For rapporteringsår til og med "
        "2023 godtas også signatur fra kommunens nummer etter 1.1.2024 (SSBs overgangstabell; 1507 Ålesund "
        "fortsetter som 1508 Ålesund og 1580 Haram).",
        "submission",
    ),
    Control(
        DISTRICT_NOT_EXPECTED,
        _E,
        "bydelNr for en kommune uten bydeler",
        f"bydelNr skal bare oppgis for kommuner som er delt i bydeler: {', '.join(sorted(DISTRICT_MUNICIPALITIES))}.",
        "submission",
    ),
    Control(
        DISTRICT_MISMATCH,
        _E,
        "bydelNr hører ikke til kommunen",
        "bydelNr skal være seks sifre: kommuneNr fulgt av et bydelsnummer 01–99. For Oslo (0301) skal det være "
        "030101–030117 eller 030199 (uoppgitt).",
        "submission",
    ),
    Control(
        IDENTITY_REFUSED,
        _E,
        "Identitetsnummeret ble avvist",
        "Tiltrodd pseudonymforvalter (TPF) godtok ikke identitetsnummeret (feil lengde, ikke bare sifre, feil "
        "kontrollsiffer, ugyldig dato eller individnummer). Posten har derfor ikke noe pseudonym, og personen "
        "kan ikke telles eller kobles. detail oppgir TPFs avvisningsregel.",
        "record",
    ),
    Control(
        DUPLICATE_PERSON,
        _E,
        "Samme person forekommer flere ganger",
        "Hver person (samme identitetsnummer, dvs. samme pseudonym) skal bare ha én post per innsending. Den "
        "andre og hver senere post for samme person rapporteres; den første ikke.",
        "record",
    ),
    Control(
        BIRTH_YEAR_IMPLAUSIBLE,
        _E,
        "Usannsynlig fødselsår",
        f"Fødselsåret (avledet av identitetsnummeret) skal ikke være etter rapporteringsåret, og alderen "
        f"(rapporteringsår minus fødselsår) skal være under {MAX_AGE}. Poster uten fødselsår kontrolleres ikke.",
        "record",
    ),
    Control(
        DATE_BEFORE_1900,
        _E,
        "Dato før 1900",
        "Ingen dato i posten (funksjonsvurderinger, tjenester, bakgrunn, avslag, klager og tvangsvedtak) skal "
        "være før 1900-01-01. Hver slik dato rapporteres for seg.",
        "record",
    ),
    Control(
        DEATH_AFTER_YEAR,
        _W,
        "Dødsdato etter rapporteringsåret",
        "Dødsdato skal ikke være etter 31. desember i rapporteringsåret.",
        "record",
    ),
    Control(
        HOUSING_UNKNOWN,
        _E,
        "Ukjent boligkode",
        f"Bolig skal, når den er oppgitt, være en av kodene {_codes(HOUSING_TYPES)}.",
        "record",
    ),
    Control(
        HOUSEHOLD_UNKNOWN,
        _E,
        "Ukjent husstandskode",
        f"Husstand skal, når den er oppgitt, være en av kodene {_codes(HOUSEHOLD_TYPES)}.",
        "record",
    ),
    Control(
        ASSESSMENT_AFTER_YEAR,
        _W,
        "Vurderingsdato etter rapporteringsåret",
        "Datoen for en funksjonsvurdering, og datoene for vurdering av lege og av tannhelsepersonell, skal ikke "
        "være etter 31. desember i rapporteringsåret.",
        "record",
    ),
    Control(
        SCORE_INVALID,
        _E,
        "Ugyldig funksjonsskår",
        "Hver funksjonsskår skal være 1, 2, 3, 4, 5 eller 9 (1 ingen problemer ... 5 fullt bistandsbehov, "
        "9 ikke relevant).",
        "record",
    ),
    Control(
        SCORE_REPEATED,
        _W,
        "Funksjonsvariabel vurdert flere ganger",
        "Hver funksjonsvariabel skal ha høyst én skår per person. Den andre og hver senere skår for samme "
        "variabel rapporteres.",
        "record",
    ),
    Control(
        SERVICE_TYPE_UNKNOWN,
        _E,
        "Ukjent tjenestetype",
        "Tjenestetypen til en tjeneste, et avslag eller en klage skal finnes i Volven 9151. Reglene som "
        f"avhenger av tjenestetypen ({HOURS_OUT_OF_RANGE}–{ORG_NR_NOT_APPLICABLE} og {LONG_TERM_OVERLAP}) "
        "kjøres ikke for en ukjent type.",
        "record",
    ),
    Control(
        START_AFTER_END,
        _E,
        "Startdato etter sluttdato",
        "En tjenestes startdato skal ikke være etter sluttdatoen (når sluttdato er oppgitt).",
        "record",
    ),
    Control(
        OUTSIDE_YEAR,
        _E,
        "Tjenesten ligger utenfor rapporteringsåret",
        "En tjeneste skal overlappe rapporteringsåret: startdato senest 31. desember og sluttdato (når den er "
        "oppgitt) tidligst 1. januar i rapporteringsåret.",
        "record",
    ),
    Control(
        DECISION_AFTER_START,
        _E,
        "Vedtaksdato etter startdato",
        "En tjenestes vedtaksdato skal ikke være etter startdatoen (når vedtaksdato er oppgitt).",
        "record",
    ),
    Control(
        DECISION_BEFORE_APPLICATION,
        _E,
        "Vedtaksdato før søknadsdato",
        "Vedtaksdato skal ikke være før søknadsdato, for tjenester og for avslag (når begge er oppgitt).",
        "record",
    ),
    Control(
        HOURS_OUT_OF_RANGE,
        _E,
        "Timer per uke utenfor 0–168",
        f"For timebaserte tjenester ({_HOURLY}) skal timer per uke være over 0 og høyst "
        f"{MAX_HOURS_PER_WEEK:g} (direkte brukertid; en uke har {MAX_HOURS_PER_WEEK:g} timer).",
        "record",
    ),
    Control(
        HOURS_MISSING,
        _E,
        "Timer per uke mangler",
        f"Timebaserte tjenester ({_HOURLY}) skal ha timer per uke.",
        "record",
    ),
    Control(
        HOURS_NOT_APPLICABLE,
        _W,
        "Timer per uke for en tjeneste som ikke måles i timer",
        f"Bare timebaserte tjenester ({_HOURLY}) skal ha timer per uke; for andre kjente tjenestetyper brukes "
        "ikke verdien.",
        "record",
    ),
    Control(
        ORG_NR_MISSING,
        _E,
        "Organisasjonsnummer mangler",
        "Alle kjente tjenestetyper unntatt "
        f"{' og '.join(f'{c} ({SERVICE_TYPES[c]})' for c in sorted(NO_ORG_NR_SERVICES))} skal ha "
        "organisasjonsnummeret til enheten som utfører tjenesten.",
        "record",
    ),
    Control(
        ORG_NR_INVALID,
        _E,
        "Ugyldig organisasjonsnummer",
        "Organisasjonsnummeret skal være ni sifre med gyldig kontrollsiffer (modulus 11 med vektene "
        f"{', '.join(map(str, _ORG_WEIGHTS))}). Kontrolleres for tjenestetyper som skal ha organisasjonsnummer.",
        "record",
    ),
    Control(
        ORG_NR_NOT_APPLICABLE,
        _W,
        "Organisasjonsnummer for GPS eller bolig",
        f"Tjenestetype {' og '.join(str(c) for c in sorted(NO_ORG_NR_SERVICES))} skal ikke ha "
        "organisasjonsnummer (verdien brukes ikke og kontrolleres ikke).",
        "record",
    ),
    Control(
        LONG_TERM_OVERLAP,
        _E,
        "Overlappende langtidsopphold",
        f"En person skal ikke ha to langtidsopphold ({LONG_TERM_STAY}) som overlapper i tid (begge datoer "
        "regnes med; uten sluttdato varer oppholdet fortsatt). Hvert opphold som overlapper et tidligere "
        "opphold i posten, rapporteres.",
        "record",
    ),
    Control(
        SERVICE_AFTER_DEATH,
        _E,
        "Tjeneste startet etter dødsdato",
        "Ingen tjeneste skal ha startdato etter personens dødsdato.",
        "record",
    ),
    Control(
        DUPLICATE_SERVICE_ID,
        _E,
        "Duplisert tjenesteID",
        "En tjenesteID skal bare forekomme én gang i en innsending (i samme eller en annen post). En senere "
        "forekomst rapporteres når den har samme vedtaksdato som den første forekomsten, eller når en av dem "
        f"mangler vedtaksdato. Ulike vedtaksdatoer er {CONFLICTING_DECISIONS}, ikke {DUPLICATE_SERVICE_ID}.",
        "record",
    ),
    Control(
        CONFLICTING_DECISIONS,
        _E,
        "Flere vedtak med ulik dato for samme tjeneste",
        "En senere forekomst av en tjenesteID rapporteres her når både den og den første forekomsten i "
        "innsendingen har vedtaksdato, og datoene er ulike.",
        "record",
    ),
    Control(
        REFUSAL_OR_COMPLAINT_AFTER_YEAR,
        _E,
        "Avslag eller klage etter rapporteringsåret",
        "Vedtaksdatoen for et avslag og datoen for en klage skal ikke være etter 31. desember i rapporteringsåret.",
        "record",
    ),
    Control(
        COERCION_START_AFTER_END,
        _E,
        "Tvangsvedtak med startdato etter sluttdato",
        "Et tvangsvedtaks startdato skal ikke være etter sluttdatoen (når sluttdato er oppgitt).",
        "record",
    ),
)

_BY_CODE: dict[str, Control] = {c.code: c for c in CATALOGUE}
if len(_BY_CODE) != len(CATALOGUE):  # pragma: no cover - a programming error, caught at import
    raise RuntimeError("duplicate control code in CATALOGUE")


def control(code: str) -> Control:
    """The control with that code; KeyError if there is none."""
    return _BY_CODE[code]


# ------------------------------------------------------------------------------------------------ runner


def _short(value: str, limit: int = 40) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _sid(service: Service) -> str:
    return f"tjenesteID {_short(service.tjeneste_id)}"


class _Add(Protocol):
    """The signature of ``check``'s local ``add``."""

    def __call__(self, code: str, field: str | None, detail: str | None = None) -> None: ...


def _overlaps(a: Service, b: Service) -> bool:
    # Inclusive dates; an open end lasts for ever.
    a_before_b_ends = b.end_date is None or a.start_date <= b.end_date
    b_before_a_ends = a.end_date is None or b.start_date <= a.end_date
    return a_before_b_ends and b_before_a_ends


class ControlRunner:
    """Runs the catalogue over one submission, streaming.

    ``header`` is the submission's message header and ``signer_municipality`` the municipality whose
    signature the registry verified. Call ``submission_findings()`` once, and ``check()`` once per record in
    submission order: the cross-record rules (``K006`` duplicate person, ``K029``/``K030`` repeated tjenesteID)
    report the second and later occurrences. Memory grows with the number of distinct pseudonyms and
    tjenesteIDs, not with the records.
    """

    def __init__(self, header: ExportHeader, *, signer_municipality: str) -> None:
        self._header = header
        self._signer = signer_municipality
        self._year = header.rapporteringsaar
        self._year_start = dt.date(self._year, 1, 1)
        self._year_end = dt.date(self._year, 12, 31)
        self._pseudonyms: set[bytes] = set()
        self._decisions: dict[str, dt.date | None] = {}  # tjenesteID -> decision date of its first occurrence

    # ----------------------------------------------------------------------------------- submission

    def submission_findings(self) -> list[Finding]:
        """The header-level findings: municipality valid for the year and equal to the signer, bydelNr."""
        header = self._header
        kommune = header.kommune_nr
        findings: list[Finding] = []
        try:
            valid = kommune in valid_municipalities(self._year)
        except NoMunicipalityList:
            findings.append(Finding(MUNICIPALITY_INVALID, None, "kommuneNr", f"ingen kommuneliste for {self._year}"))
        else:
            if not valid:
                findings.append(
                    Finding(MUNICIPALITY_INVALID, None, "kommuneNr", f"{_short(kommune)} finnes ikke i {self._year}")
                )
        if kommune != self._signer and not (self._year <= 2023 and self._signer in successors_2024(kommune)):
            findings.append(
                Finding(
                    MUNICIPALITY_NOT_SIGNER,
                    None,
                    "kommuneNr",
                    f"kommuneNr {_short(kommune)}, signert av {_short(self._signer)}",
                )
            )
        district = header.bydel_nr
        if district is not None:
            if kommune not in DISTRICT_MUNICIPALITIES:
                findings.append(
                    Finding(DISTRICT_NOT_EXPECTED, None, "bydelNr", f"bydelNr {_short(district)} for {_short(kommune)}")
                )
            elif not self._district_belongs(district, kommune):
                findings.append(
                    Finding(DISTRICT_MISMATCH, None, "bydelNr", f"bydelNr {_short(district)} for {kommune}")
                )
        return findings

    @staticmethod
    def _district_belongs(district: str, kommune: str) -> bool:
        if len(district) != 6 or not (district.isascii() and district.isdigit()):
            return False
        if kommune == "0301":
            return district in _OSLO_DISTRICTS
        return district[:4] == kommune and district[4:] != "00"

    # ----------------------------------------------------------------------------------------- record

    def check(self, record: PayloadRecord, pseudonym: bytes | None, identity_status: str) -> list[Finding]:
        """The findings for one record, in a stable order. ``pseudonym`` is None exactly when the TPF refused
        the identity number, and ``identity_status`` is then its refusal rule (``"ok"`` otherwise)."""
        if (pseudonym is None) == (identity_status == IDENTITY_OK):
            raise ValueError("pseudonym and identity status disagree")
        ref = record.ref
        out: list[Finding] = []

        def add(code: str, field: str | None, detail: str | None = None) -> None:
            out.append(Finding(code, ref, field, detail))

        # Identity.
        if pseudonym is None:
            status = identity_status if _STATUS_CODE.fullmatch(identity_status) else "ukjent"
            add(IDENTITY_REFUSED, "fid", f"avvist: {status}")
        elif pseudonym in self._pseudonyms:
            add(DUPLICATE_PERSON, "fid")
        else:
            self._pseudonyms.add(pseudonym)
        if record.birth_year is not None and (
            record.birth_year > self._year or self._year - record.birth_year >= MAX_AGE
        ):
            add(BIRTH_YEAR_IMPLAUSIBLE, "fodselsaar", f"født {record.birth_year}")

        # Every date before 1900.
        for field, date in _dates(record):
            if date < EARLIEST_DATE:
                add(DATE_BEFORE_1900, field, date.isoformat())

        # Background.
        background = record.background
        if background.death_date is not None and background.death_date > self._year_end:
            add(DEATH_AFTER_YEAR, "bakgrunn.dodsdato", background.death_date.isoformat())
        if background.housing is not None and background.housing not in HOUSING_TYPES:
            add(HOUSING_UNKNOWN, "bakgrunn.bolig", f"kode {background.housing}")
        if background.household is not None and background.household not in HOUSEHOLD_TYPES:
            add(HOUSEHOLD_UNKNOWN, "bakgrunn.husstand", f"kode {background.household}")
        for field, assessed in (
            ("bakgrunn.vurdertAvLege", background.assessed_by_doctor),
            ("bakgrunn.vurdertAvTannhelse", background.assessed_by_dentist),
        ):
            if assessed is not None and assessed > self._year_end:
                add(ASSESSMENT_AFTER_YEAR, field, assessed.isoformat())

        # Function scores.
        variables: set[str] = set()
        for i, score in enumerate(record.function_scores, 1):
            if score.score not in VALID_SCORES:
                add(SCORE_INVALID, f"funksjon[{i}].skaar", f"{_short(score.variable)}: {score.score}")
            if score.variable in variables:
                add(SCORE_REPEATED, f"funksjon[{i}].variabel", _short(score.variable))
            variables.add(score.variable)
            if score.date > self._year_end:
                add(ASSESSMENT_AFTER_YEAR, f"funksjon[{i}].dato", f"{_short(score.variable)}: {score.date}")

        # Services.
        for i, service in enumerate(record.services, 1):
            self._check_service(service, f"tjenester[{i}]", add)
        stays = [s for s in record.services if s.tjeneste_type == LONG_TERM_STAY]
        if len(stays) > 1:
            for i, service in enumerate(record.services, 1):
                if service.tjeneste_type != LONG_TERM_STAY:
                    continue
                earlier = record.services[: i - 1]
                if any(e.tjeneste_type == LONG_TERM_STAY and _overlaps(e, service) for e in earlier):
                    add(LONG_TERM_OVERLAP, f"tjenester[{i}]", _sid(service))
        if background.death_date is not None:
            for i, service in enumerate(record.services, 1):
                if service.start_date > background.death_date:
                    add(
                        SERVICE_AFTER_DEATH,
                        f"tjenester[{i}].startdato",
                        f"{_sid(service)}: {service.start_date} > {background.death_date}",
                    )

        # Refusals and complaints.
        for i, refusal in enumerate(record.refusals, 1):
            if refusal.tjeneste_type not in SERVICE_TYPES:
                add(SERVICE_TYPE_UNKNOWN, f"avslag[{i}].tjenesteType", f"type {refusal.tjeneste_type}")
            if refusal.application_date is not None and refusal.decision_date < refusal.application_date:
                add(
                    DECISION_BEFORE_APPLICATION,
                    f"avslag[{i}].vedtaksdato",
                    f"{refusal.decision_date} < {refusal.application_date}",
                )
            if refusal.decision_date > self._year_end:
                add(REFUSAL_OR_COMPLAINT_AFTER_YEAR, f"avslag[{i}].vedtaksdato", refusal.decision_date.isoformat())
        for i, complaint in enumerate(record.complaints, 1):
            if complaint.tjeneste_type not in SERVICE_TYPES:
                add(SERVICE_TYPE_UNKNOWN, f"klager[{i}].tjenesteType", f"type {complaint.tjeneste_type}")
            if complaint.complaint_date > self._year_end:
                add(REFUSAL_OR_COMPLAINT_AFTER_YEAR, f"klager[{i}].klagedato", complaint.complaint_date.isoformat())

        # Coercion.
        for i, coercion in enumerate(record.coercion, 1):
            if coercion.end_date is not None and coercion.start_date > coercion.end_date:
                add(
                    COERCION_START_AFTER_END,
                    f"tvang[{i}].startdato",
                    f"vedtak {_short(coercion.vedtak_id)}: {coercion.start_date} > {coercion.end_date}",
                )
        return out

    def _check_service(self, service: Service, path: str, add: _Add) -> None:
        sid = _sid(service)
        start, end = service.start_date, service.end_date
        if end is not None and start > end:
            add(START_AFTER_END, f"{path}.startdato", f"{sid}: {start} > {end}")
        if start > self._year_end or (end is not None and end < self._year_start):
            add(OUTSIDE_YEAR, f"{path}.startdato", f"{sid}: {start} – {'' if end is None else end}")
        decision = service.decision_date
        if decision is not None and decision > start:
            add(DECISION_AFTER_START, f"{path}.vedtaksdato", f"{sid}: {decision} > {start}")
        if decision is not None and service.application_date is not None and decision < service.application_date:
            add(DECISION_BEFORE_APPLICATION, f"{path}.vedtaksdato", f"{sid}: {decision} < {service.application_date}")

        kind = service.tjeneste_type
        if kind not in SERVICE_TYPES:
            add(SERVICE_TYPE_UNKNOWN, f"{path}.tjenesteType", f"{sid}: type {kind}")
        else:
            hours = service.hours_per_week
            if kind in HOURLY_SERVICES:
                if hours is None:
                    add(HOURS_MISSING, f"{path}.timerPerUke", sid)
                elif not 0 < hours <= MAX_HOURS_PER_WEEK:  # also false for NaN
                    add(HOURS_OUT_OF_RANGE, f"{path}.timerPerUke", f"{sid}: {hours:g}")
            elif hours is not None:
                add(HOURS_NOT_APPLICABLE, f"{path}.timerPerUke", f"{sid}: {hours:g}")
            org = service.org_nr
            if kind in NO_ORG_NR_SERVICES:
                if org is not None:
                    add(ORG_NR_NOT_APPLICABLE, f"{path}.orgNr", sid)
            elif org is None:
                add(ORG_NR_MISSING, f"{path}.orgNr", sid)
            elif not org_nr_is_valid(org):
                add(ORG_NR_INVALID, f"{path}.orgNr", f"{sid}: {_short(org, 12)}")

        # Repeated tjenesteID, across the whole submission.
        if service.tjeneste_id in self._decisions:
            first = self._decisions[service.tjeneste_id]
            if first is not None and decision is not None and first != decision:
                add(CONFLICTING_DECISIONS, f"{path}.vedtaksdato", f"{sid}: {decision}, først {first}")
            else:
                add(DUPLICATE_SERVICE_ID, f"{path}.tjenesteID", sid)
        else:
            self._decisions[service.tjeneste_id] = decision


def _dates(record: PayloadRecord) -> Iterator[tuple[str, dt.date]]:
    """Every date in the record with its field path, in a stable order."""
    for i, score in enumerate(record.function_scores, 1):
        yield f"funksjon[{i}].dato", score.date
    for i, service in enumerate(record.services, 1):
        path = f"tjenester[{i}]"
        for name, value in (
            ("soknadsdato", service.application_date),
            ("vedtaksdato", service.decision_date),
            ("startdato", service.start_date),
            ("sluttdato", service.end_date),
        ):
            if value is not None:
                yield f"{path}.{name}", value
    background = record.background
    for name, value in (
        ("dodsdato", background.death_date),
        ("vurdertAvLege", background.assessed_by_doctor),
        ("vurdertAvTannhelse", background.assessed_by_dentist),
    ):
        if value is not None:
            yield f"bakgrunn.{name}", value
    for i, refusal in enumerate(record.refusals, 1):
        if refusal.application_date is not None:
            yield f"avslag[{i}].soknadsdato", refusal.application_date
        yield f"avslag[{i}].vedtaksdato", refusal.decision_date
    for i, complaint in enumerate(record.complaints, 1):
        yield f"klager[{i}].klagedato", complaint.complaint_date
    for i, coercion in enumerate(record.coercion, 1):
        yield f"tvang[{i}].vedtaksdato", coercion.decision_date
        yield f"tvang[{i}].startdato", coercion.start_date
        if coercion.end_date is not None:
            yield f"tvang[{i}].sluttdato", coercion.end_date


# ------------------------------------------------------------------------------------------ documentation


def render_markdown() -> str:
    """The content of ``docs/controls.md``, generated from ``CATALOGUE``."""
    lines = [
        "# Logical controls (logiske kontroller)",
        "",
        "<!-- Generated from shared/iplos/controls.py by"
        " `.venv/bin/python -m shared.iplos.controls > docs/controls.md`. Do not edit by hand:"
        " tests/shared/test_controls.py fails when this file and the code differ. -->",
        "",
        "The registry runs these controls on every submission and reports the findings to the submitting",
        "municipality, per record reference, in a control report sealed for that municipality. Two tiers: a",
        "schema error rejects the whole submission (the gateway finds it before sealing); the controls below are",
        "content findings, stored with the record, which is kept. An `error` is a value that cannot be right and",
        "must be corrected; a `warning` is a value that is probably wrong or superfluous and should be checked.",
        "",
        "Codes are stable forever: a published code is never renumbered or reused. Titles and rules are in",
        "Norwegian, as the municipality reads them. `submission` controls concern the message header (`ref` is",
        "empty); `record` controls concern one person record. Cross-record controls "
        f"({DUPLICATE_PERSON}, {DUPLICATE_SERVICE_ID}, {CONFLICTING_DECISIONS}) report the",
        "second and later occurrence in submission order.",
        "",
        "Closed vocabularies (the event type of a service line, the legal basis of a coercion decision, the",
        "outcome of a complaint) are enumerated in the export's XSD and in the payload format: a value outside",
        "them is a schema error, so there is no control for them here.",
        "",
        "| Code | Severity | Scope | Title |",
        "|---|---|---|---|",
    ]
    lines += [f"| {c.code} | {c.severity.value} | {c.scope} | {c.title} |" for c in CATALOGUE]
    lines.append("")
    for c in CATALOGUE:
        lines += [f"## {c.code}: {c.title}", "", f"*{c.severity.value}, {c.scope}.* {c.rule}", ""]
    lines += [
        "## Reference data",
        "",
        "Municipality numbers: SSB classification 131, shipped in `shared/iplos/data/`. Inneholder data under",
        "Norsk lisens for offentlige data (NLOD) tilgjengeliggjort av Statistisk sentralbyrå (SSB).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(render_markdown())
