"""The gateway's fast path: a validated ``<person>`` element straight to its ``iplos-payload/2`` record line.

``Converter.person`` builds a ``PersonRecord`` (a dozen frozen dataclasses per person), which the gateway then
turned into a ``PayloadRecord`` and ``encode_record`` into JSON: three passes over every value, half the gateway's
time beyond the parse. ``LineConverter`` makes one pass over the element's children and writes the JSON text of
each part directly, so no value is built as an object only to be serialised again. The offline reader (tests,
controls, the test kit) still gets ``PersonRecord``s from ``Converter``; both paths give the same bytes, which
``tests/shared/test_iplos_reader_lines.py`` checks on generated exports with every optional element.

What the bytes must be: exactly ``encode_record(to_payload(Converter(v).person(element), ref, birth_year, sex))``,
so every value goes through the same Python conversion as ``Converter`` (``int``, ``float``,
``date.fromisoformat``, the closed vocabularies) and is written as ``json.dumps`` writes it (compact separators,
sorted keys, ``ensure_ascii=False``: strings through ``json``'s own C escaper). The same malformed value raises
the same exception (``ValueError``, ``KeyError``, ``TypeError``, ``NewerThanDeclared``), which the reader turns
into the same refusal.

Repeating parts (a diagnosis, a date, a small integer, a function variable) are written once and their text
shared, in per-reader caches bounded like ``Converter``'s.
"""

from __future__ import annotations

import datetime as dt
import math
from json.encoder import encode_basestring  # the C escaper json.dumps uses (ensure_ascii=False)
from typing import Final, cast

from lxml import etree

from shared.fnr import Sex
from shared.iplos.free_fields import diagnosis_code_fits, text_fits
from shared.iplos.model import (
    COERCION_BASES,
    COMPLAINT_OUTCOMES,
    EVENT_TYPES,
    FUNCTION_VARIABLES,
    CodeSystem,
    FidType,
)
from shared.iplos.reader._convert import CouldCarryIdentity, NewerThanDeclared
from shared.iplos.reader._elements import (
    AVSLAG,
    BAKGRUNN,
    BOLIG,
    BRUKER_NR,
    DIAGNOSER,
    DODSDATO,
    FID,
    FUNKSJON,
    HUSSTAND,
    KLAGEDATO,
    KLAGER,
    KOMMUNIKASJON,
    LEGE,
    ORG_NR,
    PLAN,
    PRIVAT_HJELP,
    SLUTTDATO,
    SOKNADSDATO,
    STARTDATO,
    TANNHELSE,
    TIMER,
    TJENESTER,
    TVANG,
    UTFALL,
    VEDTAKSDATO,
    local_name,
)
from shared.iplos.schema import NEW_IN_1_1

_escape = encode_basestring

_FID_TYPES: dict[str | None, FidType] = {t.value: t for t in FidType}
# Closed vocabularies, already as JSON text; absent hendelse is an original report ("N").
_EVENT_TYPES: dict[str | None, str] = {code: _escape(code) for code in EVENT_TYPES}
_EVENT_TYPES[None] = _escape("N")
_COERCION_BASES: dict[str | None, str] = {code: _escape(code) for code in COERCION_BASES}
_COMPLAINT_OUTCOMES: dict[str | None, str] = {code: _escape(code) for code in COMPLAINT_OUTCOMES}
# xs:boolean, after whitespace collapsing.
_BOOLEANS = {"true": "true", "1": "true", "false": "false", "0": "false"}
_SEXES: dict[Sex | None, str] = {None: "null", Sex.MALE: _escape(str(Sex.MALE)), Sex.FEMALE: _escape(str(Sex.FEMALE))}
# The function variables the XSD allows, as JSON text (any other name is escaped as it comes).
_VARIABLES: dict[str, str] = {name: _escape(name) for name in FUNCTION_VARIABLES}
_NULL: Final = "null"
_EMPTY: Final = "[]"
_NO_BACKGROUND: Final = "[null,null,null,null,null,null,null,null]"


def _text(element: etree._Element) -> str:
    return element.text or ""


def _boolean(text: str | None) -> str:
    return _BOOLEANS[(text or "").strip()]


def _date(text: str | None) -> str:
    if text is None:
        raise ValueError("missing date")
    # As Converter: the XSD restricts dates to YYYY-MM-DD, xs:date collapses whitespace.
    return '"' + dt.date.fromisoformat(text.strip()).isoformat() + '"'


class PersonLine:
    """One person as the gateway needs it: the identity (``bruker_nr``, ``fid``, ``fid_type``) and the JSON text of
    every part of its payload record but the four the gateway adds (``line``)."""

    __slots__ = ("a", "b", "bruker_nr", "d", "f", "fid", "fid_type", "kl", "t", "tv")

    def __init__(
        self,
        bruker_nr: str,
        fid: str,
        fid_type: FidType,
        a: str,
        b: str,
        d: str,
        f: str,
        kl: str,
        t: str,
        tv: str,
    ) -> None:
        self.bruker_nr = bruker_nr
        self.fid = fid
        self.fid_type = fid_type
        self.a, self.b, self.d, self.f, self.kl, self.t, self.tv = a, b, d, f, kl, t, tv

    def line(self, ref: str, birth_year: int | None, sex: Sex | None) -> bytes:
        """The record line (with its ``\\n``), as ``encode_record(to_payload(person, ref, birth_year, sex))``."""
        if birth_year is None:
            fa = _NULL
        elif type(birth_year) is int:
            fa = str(birth_year)
        else:
            raise TypeError("birth_year must be an int")
        return (
            f'{{"a":{self.a},"b":{self.b},"d":{self.d},"f":{self.f},"fa":{fa},"ft":{_escape(str(self.fid_type))},'
            f'"k":{_SEXES[sex]},"kl":{self.kl},"ref":{_escape(ref)},"t":{self.t},"tv":{self.tv}}}\n'
        ).encode()


class LineConverter:
    """Turns validated ``<person>`` elements into ``PersonLine``s (see the module docstring). One per reader."""

    _LIMIT = 1 << 16

    def __init__(self, format_version: str) -> None:
        self._v10 = format_version == "1.0"
        self._dates: dict[str | None, str] = {}
        self._ints: dict[str | None, str] = {}
        self._diagnoses: dict[tuple[str | None, str | None], str] = {}

    def _cached(self, cache: dict[str | None, str], text: str | None, value: str) -> str:
        if len(cache) >= self._LIMIT:
            cache.clear()
        cache[text] = value
        return value

    def date(self, text: str | None) -> str:
        value = self._dates.get(text)
        return value if value is not None else self._cached(self._dates, text, _date(text))

    def integer(self, text: str | None) -> str:
        value = self._ints.get(text)
        # int(None) is the TypeError Converter raises for a missing value.
        return value if value is not None else self._cached(self._ints, text, str(int(text)))  # type: ignore[arg-type]

    def scores(self, element: etree._Element) -> str:
        """A ``<funksjon>``'s scores. Nearly always written with the attributes in the XSD's order, so their values
        come in one call per score and are looked up in three small tables (variables, digits, dates), which stay
        in the processor's cache where a table of every score seen would not.

        The order is not asked for (that costs a call per score): the three value spaces tell. The first value must
        be a variable's name (``_VARIABLES[...]``, which no digit or date is); then either the digit comes second
        and the date third, or ``int()`` of the date raises (no date text is ever in the table of integers, which
        only holds texts ``int()`` took). Any exception, and so any other order or a missing attribute, falls back
        to reading the scores by name, which raises what ``Converter`` raises for a broken score."""
        # lxml gives str values (its stubs also allow bytes).
        values = cast("list[list[str]]", [v.values() for v in element])
        dates, date, integers, integer = self._dates, self.date, self._ints, self.integer
        try:
            return (
                "["
                + ",".join(
                    [
                        f"[{_VARIABLES[variable]},{integers.get(score) or integer(score)},"
                        f"{dates.get(day) or date(day)}]"
                        for variable, score, day in values
                    ]
                )
                + "]"
            )
        except (KeyError, ValueError, TypeError):
            return "[" + ",".join([self.score(v) for v in element]) + "]"

    def score(self, element: etree._Element) -> str:
        variable, score, date = element.get("variabel"), element.get("skaar"), element.get("dato")
        if variable is None or score is None:
            raise ValueError("missing attribute")
        return f"[{_VARIABLES.get(variable) or _escape(variable)},{self.integer(score)},{self.date(date)}]"

    def diagnosis(self, element: etree._Element) -> str:
        key = (element.get("kodeverk"), element.get("kode"))
        value = self._diagnoses.get(key)
        if value is None:
            system, code = key
            if system is None or code is None:
                raise ValueError("missing attribute")
            value = f"[{_escape(str(CodeSystem(system)))},{_escape(code)}]"
            if not diagnosis_code_fits(system, code):
                raise CouldCarryIdentity(element, "diagnose/@kode", "kode")
            if len(self._diagnoses) >= self._LIMIT:
                self._diagnoses.clear()
            self._diagnoses[key] = value
        return value

    def service(self, element: etree._Element) -> str:
        dates, date = self._dates, self.date
        application = decision = start = end = hours = org_nr = _NULL
        started = False
        for child in element:
            tag = child.tag
            if tag == STARTDATO:
                text = child.text
                start = dates.get(text) or date(text)
                started = True
            elif tag == VEDTAKSDATO:
                text = child.text
                decision = dates.get(text) or date(text)
            elif tag == SLUTTDATO:
                text = child.text
                end = dates.get(text) or date(text)
            elif tag == TIMER:
                number = float(_text(child))
                if not math.isfinite(number):
                    raise ValueError("hours per week must be finite")
                hours = repr(number)
            elif tag == ORG_NR:
                org_nr = _escape(_text(child))
            elif tag == SOKNADSDATO:
                if self._v10:
                    raise NewerThanDeclared(child, "soknadsdato")
                text = child.text
                application = dates.get(text) or date(text)
        if not started:
            raise ValueError("missing start date")
        get = element.get
        tjeneste_id, tjeneste_type, event = get("tjenesteID"), get("tjenesteType"), get("hendelse")
        if tjeneste_id is None or tjeneste_type is None:
            raise ValueError("missing attribute")
        if event is not None and self._v10:
            raise NewerThanDeclared(element, "hendelse")
        if not text_fits(tjeneste_id):
            raise CouldCarryIdentity(element, "tjeneste/@tjenesteID", "tjenesteID")
        return (
            f"[{_escape(tjeneste_id)},{self.integer(tjeneste_type)},{_EVENT_TYPES[event]},{application},{decision},"
            f"{start},{end},{hours},{org_nr}]"
        )

    def background(self, element: etree._Element) -> str:
        date, integer = self.date, self.integer
        housing = household = unpaid_help = communication = death = doctor = dentist = plan = _NULL
        for child in element:
            tag, text = child.tag, child.text
            if tag == BOLIG:
                housing = integer(text)
            elif tag == HUSSTAND:
                household = integer(text)
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
        return f"[{housing},{household},{unpaid_help},{communication},{death},{doctor},{dentist},{plan}]"

    def _service_type(self, element: etree._Element) -> str:
        value = element.get("tjenesteType")
        if value is None:
            raise ValueError("missing attribute")
        return self.integer(value)

    def refusal(self, element: etree._Element) -> str:
        application = _NULL
        decision: str | None = None
        for child in element:
            if child.tag == VEDTAKSDATO:
                decision = self.date(child.text)
            elif child.tag == SOKNADSDATO:
                application = self.date(child.text)
        if decision is None:
            raise ValueError("missing decision date")
        return f"[{self._service_type(element)},{application},{decision}]"

    def complaint(self, element: etree._Element) -> str:
        complaint_date: str | None = None
        outcome = _NULL
        for child in element:
            if child.tag == KLAGEDATO:
                complaint_date = self.date(child.text)
            elif child.tag == UTFALL:
                outcome = _COMPLAINT_OUTCOMES[child.text]
        if complaint_date is None:
            raise ValueError("missing complaint date")
        return f"[{self._service_type(element)},{complaint_date},{outcome}]"

    def coercion(self, element: etree._Element) -> str:
        decision: str | None = None
        start: str | None = None
        end = _NULL
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
        vedtak_id = element.get("vedtakID")
        if vedtak_id is None:
            raise ValueError("missing attribute")
        if not text_fits(vedtak_id):
            raise CouldCarryIdentity(element, "tvangsvedtak/@vedtakID", "vedtakID")
        return f"[{_escape(vedtak_id)},{basis},{decision},{start},{end}]"

    def person(self, element: etree._Element) -> PersonLine:
        bruker_nr = fid = ""
        fid_type = FidType.FNR
        scores = diagnoses = services = refusals = complaints = coercion = _EMPTY
        background = _NO_BACKGROUND
        for child in element:
            tag = child.tag
            if tag == FUNKSJON:
                scores = self.scores(child)
            elif tag == TJENESTER:
                service = self.service
                services = "[" + ",".join([service(c) for c in child]) + "]"
            elif tag == BRUKER_NR:
                bruker_nr = _text(child)
            elif tag == FID:
                fid = _text(child)
                fid_type = _FID_TYPES[child.get("type")]
            elif tag == DIAGNOSER:
                diagnosis = self.diagnosis
                diagnoses = "[" + ",".join([diagnosis(c) for c in child]) + "]"
            else:
                if self._v10 and isinstance(tag, str) and local_name(tag) in NEW_IN_1_1:
                    raise NewerThanDeclared(child, local_name(tag))
                if tag == BAKGRUNN:
                    background = self.background(child)
                elif tag == AVSLAG:
                    refusals = "[" + ",".join(map(self.refusal, child)) + "]"
                elif tag == KLAGER:
                    complaints = "[" + ",".join(map(self.complaint, child)) + "]"
                elif tag == TVANG:
                    coercion = "[" + ",".join(map(self.coercion, child)) + "]"
        return PersonLine(
            bruker_nr, fid, fid_type, refusals, background, diagnoses, scores, complaints, services, coercion
        )
