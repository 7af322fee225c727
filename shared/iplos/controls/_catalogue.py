"""The catalogue: every logical control with its stable code, severity, title and rule (in Norwegian, as the
municipality reads them). Codes are stable forever once published (the package docstring says how)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from shared.iplos.controls._reference import (
    DISTRICT_MUNICIPALITIES,
    HOURLY_SERVICES,
    LONG_TERM_STAY,
    MAX_AGE,
    MAX_HOURS_PER_WEEK,
    NO_ORG_NR_SERVICES,
    ORG_WEIGHTS,
)
from shared.iplos.model import HOUSEHOLD_TYPES, HOUSING_TYPES, SERVICE_TYPES, Severity


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
    #: ``payload``: judged on what the municipality sent (``ControlRunner``); ``register``: judged against the
    #: population register's extracts of the year, at the registry, whenever the register or the submission arrives;
    #: ``business``: judged against the registry's copy of Enhetsregisteret, when the submission is stored and
    #: whenever a new copy is loaded.
    source: Literal["payload", "register", "business"] = "payload"
    #: False for a finding only the registry's operators see: one that would tell a municipality something about a
    #: number it chose that it may not know (the control report leaves it out, counts included).
    municipality_sees: bool = True


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
NOT_RESIDENT = "K032"
SERVICE_AFTER_REGISTER_DEATH = "K033"
DIFFERS_FROM_REGISTER = "K034"
UNKNOWN_TO_REGISTER = "K035"
UNIT_NOT_IN_REGISTER = "K036"
UNIT_DELETED = "K037"
UNIT_NOT_CARE = "K038"
UNIT_ELSEWHERE = "K039"
NEVER_RESIDENT = "K040"

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
        f"{', '.join(map(str, ORG_WEIGHTS))}). Kontrolleres for tjenestetyper som skal ha organisasjonsnummer.",
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
    # The register controls (issue 14): judged against the population register's extract of the reporting
    # municipality and year, which the register sends through the same TPF, so the join is on pseudonyms. What a
    # municipality learns of a number it chose is only what it may know of its own residents.
    Control(
        NOT_RESIDENT,
        _E,
        "Personen bodde ikke i kommunen i rapporteringsåret",
        "Ifølge folkeregisteret skal personen ha hatt bosted i kommunen på minst én dag i rapporteringsåret: "
        "identitetsnummeret (eller et tidligere eller senere nummer for samme person) skal finnes i registerets "
        "uttrekk for kommunen og året. Kontrolleres når uttrekket er mottatt, også for en innsending mottatt før "
        "det. Rapporten sier ikke om personen bodde i en annen kommune eller er ukjent for registeret.",
        "record",
        "register",
    ),
    Control(
        SERVICE_AFTER_REGISTER_DEATH,
        _E,
        "Tjeneste etter dødsdato i folkeregisteret",
        "For en person som bodde i kommunen i rapporteringsåret og som ifølge folkeregisteret er død, skal ingen "
        "tjeneste starte etter dødsdatoen, vare ut over den (sluttdato etter dødsdatoen) eller mangle sluttdato. "
        "Hver slik tjeneste rapporteres.",
        "record",
        "register",
    ),
    Control(
        DIFFERS_FROM_REGISTER,
        _W,
        "Kjønn eller fødselsår avviker fra folkeregisteret",
        "For en person som bodde i kommunen i rapporteringsåret skal kjønn og fødselsår som identitetsnummeret "
        "angir, være de samme som i folkeregisteret (når begge er kjent). Et avvik tyder på feil nummer i "
        "fagsystemet eller en feil i registeret.",
        "record",
        "register",
    ),
    Control(
        UNKNOWN_TO_REGISTER,
        _E,
        "Personen er ukjent i folkeregisteret",
        "Identitetsnummeret finnes ikke i noe av folkeregisterets uttrekk for rapporteringsåret. Avgjøres først "
        "når registeret har sendt uttrekk for alle kommunene det året. Bare for registerets egne operatører: "
        f"kommunen ser {NOT_RESIDENT}, som ikke sier om nummeret hører til noen i landet.",
        "record",
        "register",
        municipality_sees=False,
    ),
    # The business register controls (issue 15): the organisation number of the unit that performed a service,
    # judged against the registry's copy of Enhetsregisteret (main units and sub-units, docs/business-register.md).
    # Public data about the municipality's own units: the municipality sees every finding.
    Control(
        UNIT_NOT_IN_REGISTER,
        _E,
        "Organisasjonsnummeret finnes ikke i Enhetsregisteret",
        "Organisasjonsnummeret til enheten som utførte tjenesten (gyldig etter kontrollsifferet) skal finnes i "
        "Enhetsregisteret, som hovedenhet eller underenhet. Kontrolleres når registeret har både hovedenheter og "
        "underenheter, også for innsendinger mottatt før det.",
        "record",
        "business",
    ),
    Control(
        UNIT_DELETED,
        _E,
        "Enheten er slettet i Enhetsregisteret før tjenesteperioden var over",
        "Enheten som utførte tjenesten skal finnes i Enhetsregisteret hele den delen av tjenesteperioden som faller i "
        "rapporteringsåret: slettedatoen (for en underenhet nedleggelsesdatoen) skal være etter tjenestens "
        "sluttdato, eller etter årets slutt for en tjeneste uten sluttdato. En enhet som er borte fra registeret "
        "uten oppgitt dato, regnes som slettet senest den dagen registeret ble lest inn uten den.",
        "record",
        "business",
    ),
    Control(
        UNIT_NOT_CARE,
        _E,
        "Enheten driver ikke helse- eller omsorgstjenester",
        "Næringskoden (naeringskode1) til enheten som utførte tjenesten skal være en helse- eller omsorgstjeneste: "
        "næring 86 (helsetjenester), 87 (pleie- og omsorgstjenester i institusjon), 88 (sosiale omsorgstjenester "
        "uten botilbud) eller 84.12 (offentlig administrasjon av helse- og sosialtjenester, som tildelingskontor). "
        "En enhet uten næringskode kontrolleres ikke.",
        "record",
        "business",
    ),
    Control(
        UNIT_ELSEWHERE,
        _W,
        "Enheten ligger i en annen kommune",
        "Enheten som utførte tjenesten ligger ifølge Enhetsregisteret (beliggenhetsadressen til en underenhet, "
        "forretningsadressen til en hovedenhet) i en annen kommune enn den som rapporterer. Kjøpte plasser i en "
        "annen kommune er vanlige, men et feil organisasjonsnummer er det også. Kommunenummer fra før 2024 "
        "sammenlignes med dagens.",
        "record",
        "business",
    ),
    # Issue 17, the chosen-number oracle: a municipality can have the TPF pseudonymise any number, and an insider
    # with the registry's database can then find that person's records from every other municipality. A number
    # the register knows for a person who never lived in the reporting municipality is what such a probe looks
    # like: flagged for the registry's operators, never told to the municipality (which sees K032).
    Control(
        NEVER_RESIDENT,
        _W,
        "Personen har aldri bodd i kommunen",
        "Identitetsnummeret finnes i folkeregisterets uttrekk, men ingen av personens bostedsperioder, i noe år "
        "registeret har sendt uttrekk for, er i kommunen som rapporterer. Et tegn på et feil nummer, eller på at "
        "noen prøver et valgt nummer for å få det pseudonymisert. Kontrolleres når innsendingen lagres og igjen "
        "når et uttrekk som nevner nummeret kommer. Bare for registerets egne operatører: kommunen ser "
        f"{NOT_RESIDENT}.",
        "record",
        "register",
        municipality_sees=False,
    ),
)

#: The codes of the register controls, each judged again whenever the register's extract changes.
REGISTER_CODES: frozenset[str] = frozenset(c.code for c in CATALOGUE if c.source == "register")
#: The codes of the business register controls, each judged again whenever a copy of Enhetsregisteret is loaded.
BUSINESS_CODES: frozenset[str] = frozenset(c.code for c in CATALOGUE if c.source == "business")
#: The codes a municipality never sees in its control report.
REGISTRY_ONLY_CODES: frozenset[str] = frozenset(c.code for c in CATALOGUE if not c.municipality_sees)

_BY_CODE: dict[str, Control] = {c.code: c for c in CATALOGUE}
if len(_BY_CODE) != len(CATALOGUE):  # pragma: no cover - a programming error, caught at import
    raise RuntimeError("duplicate control code in CATALOGUE")


def control(code: str) -> Control:
    """The control with that code; KeyError if there is none."""
    return _BY_CODE[code]
