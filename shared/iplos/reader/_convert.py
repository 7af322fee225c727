"""From validated elements to the model: the export's header (``convert_header``) and one ``PersonRecord`` per
``<person>`` (``Converter``). A format 1.1 element in a document that says "1.0" is refused here
(``NewerThanDeclared``), since XSD 1.0 cannot tie content to ``formatVersjon``; so is a free-form value that could
carry an identity number to the registry (``CouldCarryIdentity``, shared.iplos.free_fields), since narrowing the
XSD would be a major version."""

from __future__ import annotations

import datetime as dt
from typing import cast

from lxml import etree

from shared.iplos.free_fields import diagnosis_code_fits, telefon_fits, text_fits
from shared.iplos.model import (
    COERCION_BASES,
    COMPLAINT_OUTCOMES,
    EVENT_TYPES,
    CodeSystem,
    Coercion,
    Complaint,
    Contact,
    Diagnosis,
    ExportHeader,
    FidType,
    FunctionScore,
    PersonBackground,
    PersonRecord,
    Refusal,
    Service,
)
from shared.iplos.reader._elements import (
    AAR,
    AVSLAG,
    BAKGRUNN,
    BOLIG,
    BRUKER_NR,
    BYDEL,
    DIAGNOSER,
    DODSDATO,
    EPJ,
    EPOST,
    FID,
    FUNKSJON,
    GUID,
    HUSSTAND,
    KLAGEDATO,
    KLAGER,
    KOMMUNE,
    KOMMUNIKASJON,
    KONTAKTPERSON,
    LEGE,
    LEVERANDOR,
    NAVN,
    NAVN_EPJ,
    ORG_NR,
    PLAN,
    PRIVAT_HJELP,
    SLUTTDATO,
    SOKNADSDATO,
    STARTDATO,
    TANNHELSE,
    TELEFON,
    TIMER,
    TJENESTER,
    TVANG,
    UTFALL,
    VEDTAKSDATO,
    VERSJON_EPJ,
    local_name,
    source_line,
)
from shared.iplos.reader._errors import ExportInvalid, refuse
from shared.iplos.schema import NEW_IN_1_1

# Closed vocabularies, looked up rather than converted: the values are the model's own (shared) strings.
_FID_TYPES: dict[str | None, FidType] = {t.value: t for t in FidType}
_EVENT_TYPES: dict[str | None, str] = {code: code for code in EVENT_TYPES}
_EVENT_TYPES[None] = "N"  # absent: an original report
_COERCION_BASES: dict[str | None, str] = {code: code for code in COERCION_BASES}
_COMPLAINT_OUTCOMES: dict[str | None, str] = {code: code for code in COMPLAINT_OUTCOMES}
# xs:boolean, after whitespace collapsing.
_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}
_NO_BACKGROUND = PersonBackground()


def _text(element: etree._Element) -> str:
    return element.text or ""


def _date(text: str | None) -> dt.date:
    if text is None:
        raise ValueError("missing date")
    # The XSD restricts dates to YYYY-MM-DD; xs:date collapses whitespace, so strip it here as well.
    return dt.date.fromisoformat(text.strip())


def _attr(element: etree._Element, name: str) -> str:
    value = element.get(name)
    if value is None:
        raise ValueError("missing attribute")
    return value


def _boolean(text: str | None) -> bool:
    return _BOOLEANS[(text or "").strip()]


class NewerThanDeclared(Exception):
    """An element (or attribute) of format 1.1 in a document that says formatVersjon="1.0"."""

    def __init__(self, element: etree._Element, name: str) -> None:
        super().__init__(name)
        self.element = element
        self.name = name


def too_new(element: etree._Element, name: str) -> ExportInvalid:
    return refuse(
        source_line(element),
        f"'{name}' is new in format version 1.1, but the document says formatVersjon 1.0",
        local_name(element.tag) if isinstance(element.tag, str) else "",
    )


class CouldCarryIdentity(Exception):
    """A free-form value that could carry an identity number to the registry (shared.iplos.free_fields): ``field``
    is its place (a ``FREE_FIELDS`` name), ``element`` the element it is in or on, ``attribute`` its attribute
    (empty for an element's text)."""

    def __init__(self, element: etree._Element, field: str, attribute: str = "") -> None:
        super().__init__(field)
        self.element = element
        self.field = field
        self.attribute = attribute

    @property
    def is_code(self) -> bool:
        return self.field == "diagnose/@kode"

    def reason(self) -> tuple[str, str]:
        """Why the value is refused, in English and Norwegian (never the value)."""
        if self.is_code:
            return (
                "does not have the form of a diagnosis code of its code system (ICPC-2: a letter and two digits, "
                "e.g. K86; ICD-10: a letter, two digits and at most two more characters, e.g. F03, I63.9)",
                "har ikke formen til en diagnosekode i kodeverket sitt (ICPC-2: en bokstav og to sifre, f.eks. K86; "
                "ICD-10: en bokstav, to sifre og høyst to tegn til, f.eks. F03, I63.9)",
            )
        if self.field.endswith("telefon"):
            return (
                "has more than eight digits besides +47: it could carry an identity number, which must never reach "
                "the registry",
                "har mer enn åtte sifre utenom +47: det kan bære et fødselsnummer, som aldri må nå registeret",
            )
        return (
            "holds nine or more digits in a row (also across spaces and punctuation): it could carry an identity "
            "number, which must never reach the registry",
            "har ni eller flere sifre etter hverandre (også med mellomrom eller tegn mellom): det kan bære et "
            "fødselsnummer, som aldri må nå registeret",
        )


def could_carry_identity(error: CouldCarryIdentity) -> ExportInvalid:
    return refuse(
        source_line(error.element),
        f"{error.field} {error.reason()[0]}",
        local_name(error.element.tag) if isinstance(error.element.tag, str) else "",
    )


_HEADER_TEXTS = {
    NAVN_EPJ: "meldingshode/epj/navnEPJ",
    LEVERANDOR: "meldingshode/epj/leverandor",
    VERSJON_EPJ: "meldingshode/epj/versjonEPJ",
}
_CONTACT_TEXTS = {NAVN: "meldingshode/kontaktperson/navn", EPOST: "meldingshode/kontaktperson/epost"}


def _screen_header_part(part: etree._Element, fields: dict[str, str]) -> None:
    field = fields.get(part.tag)
    if field is not None and not text_fits(_text(part)):
        raise CouldCarryIdentity(part, field)
    if part.tag == TELEFON and not telefon_fits(_text(part)):
        raise CouldCarryIdentity(part, "meldingshode/kontaktperson/telefon")


def convert_header(element: etree._Element, format_version: str) -> ExportHeader:
    fields: dict[str, str] = {}
    contact: Contact | None = None
    for child in element:
        tag = child.tag
        if tag == EPJ:
            for part in child:
                fields[part.tag] = _text(part)
        elif tag == KONTAKTPERSON:
            parts = {part.tag: _text(part) for part in child}
            contact = Contact(navn=parts[NAVN], telefon=parts.get(TELEFON), epost=parts.get(EPOST))
        else:
            fields[child.tag] = _text(child)
        if format_version == "1.0" and tag in (BYDEL, KONTAKTPERSON):
            raise NewerThanDeclared(child, local_name(tag))
        if tag == EPJ:
            for part in child:
                _screen_header_part(part, _HEADER_TEXTS)
        elif tag == KONTAKTPERSON:
            for part in child:
                _screen_header_part(part, _CONTACT_TEXTS)
    return ExportHeader(
        melding_guid=fields[GUID],
        format_version=format_version,
        navn_epj=fields[NAVN_EPJ],
        leverandor=fields[LEVERANDOR],
        versjon_epj=fields[VERSJON_EPJ],
        rapporteringsaar=int(fields[AAR]),
        kommune_nr=fields[KOMMUNE],
        bydel_nr=fields.get(BYDEL),
        kontaktperson=contact,
    )


class Converter:
    """Turns validated ``<person>`` elements into records.

    The element has passed schema validation when it gets here (its errors would have been in the log before
    its end event was handed out), so structure is trusted and only converted: one pass over each element's
    children, a comparison of the tag, and the value. Function scores, diagnoses and dates repeat a lot
    (17 variables x 6 scores x a few hundred assessment dates; a few dozen diagnosis codes), and building a
    frozen dataclass costs more than a dict lookup, so equal values are built once and shared: they are
    immutable. The caches are per reader and bounded. Records are built positionally (the model's field order).
    """

    _LIMIT = 1 << 16

    def __init__(self, format_version: str) -> None:
        # A 1.0 document must not use what 1.1 added (schema.NEW_IN_1_1).
        self._v10 = format_version == "1.0"
        self._dates: dict[str | None, dt.date] = {}
        # Keyed by the attribute values in document order: the schema allows exactly the three attributes,
        # and their value spaces (a variable name, a digit, a date) are disjoint, so the values alone
        # identify the score whatever the attribute order.
        self._scores: dict[tuple[str | bytes, ...], FunctionScore] = {}
        self._diagnoses: dict[tuple[str | None, str | None], Diagnosis] = {}

    def date(self, text: str | None) -> dt.date:
        value = self._dates.get(text)
        if value is None:
            value = _date(text)
            if len(self._dates) >= self._LIMIT:
                self._dates.clear()
            self._dates[text] = value
        return value

    def new_score(self, element: etree._Element) -> FunctionScore:
        variable, score, date = element.get("variabel"), element.get("skaar"), element.get("dato")
        if variable is None or score is None:
            raise ValueError("missing attribute")
        value = FunctionScore(variable, int(score), self.date(date))
        if len(self._scores) >= self._LIMIT:
            self._scores.clear()
        self._scores[tuple(element.values())] = value
        return value

    def diagnosis(self, element: etree._Element) -> Diagnosis:
        key = (element.get("kodeverk"), element.get("kode"))
        value = self._diagnoses.get(key)
        if value is None:
            system, code = key
            if system is None or code is None:
                raise ValueError("missing attribute")
            value = Diagnosis(CodeSystem(system), code)
            if not diagnosis_code_fits(system, code):
                raise CouldCarryIdentity(element, "diagnose/@kode", "kode")
            if len(self._diagnoses) >= self._LIMIT:
                self._diagnoses.clear()
            self._diagnoses[key] = value
        return value

    def service(self, element: etree._Element) -> Service:
        dates, date = self._dates, self.date
        application: dt.date | None = None
        decision: dt.date | None = None
        start: dt.date | None = None
        end: dt.date | None = None
        hours: float | None = None
        org_nr: str | None = None
        for child in element:
            tag = child.tag
            if tag == STARTDATO:
                text = child.text
                start = dates.get(text) or date(text)
            elif tag == VEDTAKSDATO:
                text = child.text
                decision = dates.get(text) or date(text)
            elif tag == SLUTTDATO:
                text = child.text
                end = dates.get(text) or date(text)
            elif tag == TIMER:
                hours = float(_text(child))
            elif tag == ORG_NR:
                org_nr = _text(child)
            elif tag == SOKNADSDATO:
                if self._v10:
                    raise NewerThanDeclared(child, "soknadsdato")
                text = child.text
                application = dates.get(text) or date(text)
        if start is None:
            raise ValueError("missing start date")
        get = element.get
        tjeneste_id, tjeneste_type, event = get("tjenesteID"), get("tjenesteType"), get("hendelse")
        if tjeneste_id is None or tjeneste_type is None:
            raise ValueError("missing attribute")
        if event is not None and self._v10:
            raise NewerThanDeclared(element, "hendelse")
        if not text_fits(tjeneste_id):
            raise CouldCarryIdentity(element, "tjeneste/@tjenesteID", "tjenesteID")
        return Service(
            tjeneste_id, int(tjeneste_type), decision, start, end, hours, org_nr, application, _EVENT_TYPES[event]
        )

    def background(self, element: etree._Element) -> PersonBackground:
        date = self.date
        housing: int | None = None
        household: int | None = None
        unpaid_help: bool | None = None
        communication: bool | None = None
        death: dt.date | None = None
        doctor: dt.date | None = None
        dentist: dt.date | None = None
        plan: bool | None = None
        for child in element:
            tag, text = child.tag, child.text
            if tag == BOLIG:
                housing = int(cast(str, text))
            elif tag == HUSSTAND:
                household = int(cast(str, text))
            elif tag == PRIVAT_HJELP:
                unpaid_help = _boolean(text)
            elif tag == KOMMUNIKASJON:
                communication = _boolean(text)
            elif tag == DODSDATO:
                death = date(text)
            elif tag == LEGE:
                doctor = date(text)
            elif tag == TANNHELSE:
                dentist = date(text)
            elif tag == PLAN:
                plan = _boolean(text)
        return PersonBackground(housing, household, unpaid_help, communication, death, doctor, dentist, plan)

    def refusal(self, element: etree._Element) -> Refusal:
        application: dt.date | None = None
        decision: dt.date | None = None
        for child in element:
            if child.tag == VEDTAKSDATO:
                decision = self.date(child.text)
            elif child.tag == SOKNADSDATO:
                application = self.date(child.text)
        if decision is None:
            raise ValueError("missing decision date")
        return Refusal(int(_attr(element, "tjenesteType")), application, decision)

    def complaint(self, element: etree._Element) -> Complaint:
        complaint_date: dt.date | None = None
        outcome: str | None = None
        for child in element:
            if child.tag == KLAGEDATO:
                complaint_date = self.date(child.text)
            elif child.tag == UTFALL:
                outcome = _COMPLAINT_OUTCOMES[child.text]
        if complaint_date is None:
            raise ValueError("missing complaint date")
        return Complaint(int(_attr(element, "tjenesteType")), complaint_date, outcome)

    def coercion(self, element: etree._Element) -> Coercion:
        decision: dt.date | None = None
        start: dt.date | None = None
        end: dt.date | None = None
        for child in element:
            tag = child.tag
            if tag == VEDTAKSDATO:
                decision = self.date(child.text)
            elif tag == STARTDATO:
                start = self.date(child.text)
            elif tag == SLUTTDATO:
                end = self.date(child.text)
        if decision is None or start is None:
            raise ValueError("missing date")
        basis = _COERCION_BASES[element.get("hjemmel")]
        vedtak_id = _attr(element, "vedtakID")
        if not text_fits(vedtak_id):
            raise CouldCarryIdentity(element, "tvangsvedtak/@vedtakID", "vedtakID")
        return Coercion(vedtak_id, basis, decision, start, end)

    def person(self, element: etree._Element) -> PersonRecord:
        bruker_nr = fid = ""
        fid_type = FidType.FNR
        scores: tuple[FunctionScore, ...] = ()
        diagnoses: tuple[Diagnosis, ...] = ()
        services: tuple[Service, ...] = ()
        background = _NO_BACKGROUND
        refusals: tuple[Refusal, ...] = ()
        complaints: tuple[Complaint, ...] = ()
        coercion: tuple[Coercion, ...] = ()
        for child in element:
            tag = child.tag
            if tag == FUNKSJON:
                cached, new = self._scores.get, self.new_score
                scores = tuple([cached(tuple(v.values())) or new(v) for v in child])
            elif tag == TJENESTER:
                service = self.service
                services = tuple([service(c) for c in child])
            elif tag == BRUKER_NR:
                bruker_nr = _text(child)
            elif tag == FID:
                fid = _text(child)
                fid_type = _FID_TYPES[child.get("type")]
            elif tag == DIAGNOSER:
                diagnosis = self.diagnosis
                diagnoses = tuple([diagnosis(c) for c in child])
            else:
                if self._v10 and isinstance(tag, str) and local_name(tag) in NEW_IN_1_1:
                    raise NewerThanDeclared(child, local_name(tag))
                if tag == BAKGRUNN:
                    background = self.background(child)
                elif tag == AVSLAG:
                    refusals = tuple(map(self.refusal, child))
                elif tag == KLAGER:
                    complaints = tuple(map(self.complaint, child))
                elif tag == TVANG:
                    coercion = tuple(map(self.coercion, child))
        return PersonRecord(
            bruker_nr, fid, fid_type, scores, diagnoses, services, background, refusals, complaints, coercion
        )
