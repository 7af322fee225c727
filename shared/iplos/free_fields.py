"""The free-form values of an export that travel to the registry, each shaped so that it cannot carry an identity
number.

The registry must never learn an identity number (docs/threat-model.md 3.1). The payload drops ``fid`` and
``brukerNr``; every other value it carries is a date, a number, a closed code or a fixed form (``kommuneNr``,
``bydelNr``, ``orgNr``, ``meldingGUID``), except these, which the export's schema lets the care-record system fill
freely (``FREE_FIELDS``):

* a diagnosis code is held to its code system's form: ICPC-2 a letter and two digits (``K86``), ICD-10 a letter,
  two digits and optionally one or two more characters after an optional dot (``F03``, ``I63.9``, ``G301``). The
  schema's lexical form alone admits ten digits, a whole identity number;
* text and ids (``tjenesteID``, ``vedtakID``, the EPJ's name, supplier and version, the contact person's name and
  e-mail address) hold no run of nine digits or more, read past anything that is not a letter ("010180 12345",
  "010180-12345", "0.1.0.1.8.0"): the two check digits of a fødselsnummer follow from its first nine, so nine
  digits name a person. Any Unicode decimal digit counts (a full-width "１" is a digit too);
* the contact person's telephone number is a Norwegian one: at most eight digits after an optional ``+47`` or
  ``0047``.

The export schema (iplos-export-1.xsd) is not narrowed for this, as narrowing is a major version of the format:
the reader refuses such an export (the whole file, schema-tier, as it refuses a 1.1 element in a 1.0 document), so
the gateway and ``iplos validate`` say the same thing, and the registry screens what it decodes once more, as
defence in depth (``record_fault``, ``header_fault``).

What this cannot stop (docs/threat-model.md 3.2): a number spelled in another alphabet (letters for digits), its
digits split by letters, or spread over several values (dates, scores, hours, ``orgNr``, the message GUID).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Final, Protocol

from shared.iplos.model import ExportHeader

__all__ = [
    "FREE_FIELDS",
    "MAX_DIGIT_RUN",
    "diagnosis_code_fits",
    "header_fault",
    "record_fault",
    "telefon_fits",
    "text_fits",
]

#: The most digits a free text or id may hold in a row: nine would name a person (both check digits follow).
MAX_DIGIT_RUN: Final = 8

#: Every free-form field of the export that reaches the registry, by its place in the export.
FREE_FIELDS: Final = (
    "meldingshode/epj/navnEPJ",
    "meldingshode/epj/leverandor",
    "meldingshode/epj/versjonEPJ",
    "meldingshode/kontaktperson/navn",
    "meldingshode/kontaktperson/telefon",
    "meldingshode/kontaktperson/epost",
    "diagnose/@kode",
    "tjeneste/@tjenesteID",
    "tvangsvedtak/@vedtakID",
)

# A digit, then MAX_DIGIT_RUN more, with nothing but non-alphanumeric characters (spaces, punctuation, "_")
# between them. The separator class and \d are disjoint, so the search is linear in the text.
_DIGIT_RUN = re.compile(r"\d(?:[\W_]*\d){" + str(MAX_DIGIT_RUN) + "}")
_ASCII_SEPARATORS: Final = bytes(b for b in range(128) if not chr(b).isalnum())
_ASCII_RUN = re.compile(rb"[0-9]{" + str(MAX_DIGIT_RUN + 1).encode() + rb"}")
_CODE_FORMS: Final = {
    "ICPC-2": re.compile(r"[A-Z][0-9]{2}"),
    "ICD-10": re.compile(r"[A-Z][0-9]{2}(?:\.?[0-9A-Z]{1,2})?"),
}
_NOT_A_DIGIT = re.compile(r"[^0-9]")
_NORWEGIAN_PREFIX = re.compile(r"\s*(?:\+\s*47|0047)")
_TELEFON_DIGITS: Final = 8


def text_fits(text: str) -> bool:
    """True unless ``text`` holds more than ``MAX_DIGIT_RUN`` digits in a row (read past separators)."""
    if text.isascii():
        # The gateway's fast path reads an id per service: with the separators deleted (bytes.translate, in C), a
        # run is plain digits in a row, a tenth of the time of the general pattern. Same answer for ASCII text.
        return _ASCII_RUN.search(text.encode("ascii").translate(None, _ASCII_SEPARATORS)) is None
    # Compatibility forms first: superscript, circled or full-width digits read as the digits they show.
    return _DIGIT_RUN.search(unicodedata.normalize("NFKC", text)) is None


def diagnosis_code_fits(system: str, code: str) -> bool:
    """True if ``code`` has the form of a code of ``system`` (``ICPC-2`` or ``ICD-10``)."""
    form = _CODE_FORMS.get(system)
    return form is not None and form.fullmatch(code) is not None


def telefon_fits(telefon: str) -> bool:
    """True if ``telefon`` is at most eight digits after an optional ``+47`` or ``0047``."""
    prefix = _NORWEGIAN_PREFIX.match(telefon)
    rest = telefon[prefix.end() :] if prefix else telefon
    return len(_NOT_A_DIGIT.sub("", rest)) <= _TELEFON_DIGITS


class _Diagnosis(Protocol):
    @property
    def system(self) -> str: ...
    @property
    def code(self) -> str: ...


class _Service(Protocol):
    @property
    def tjeneste_id(self) -> str: ...


class _Coercion(Protocol):
    @property
    def vedtak_id(self) -> str: ...


class _Record(Protocol):
    """What a ``PersonRecord`` and a ``PayloadRecord`` both have."""

    @property
    def diagnoses(self) -> Iterable[_Diagnosis]: ...
    @property
    def services(self) -> Iterable[_Service]: ...
    @property
    def coercion(self) -> Iterable[_Coercion]: ...


def header_fault(header: ExportHeader) -> str | None:
    """The first free field of ``header`` (its ``FREE_FIELDS`` name) whose value could carry an identity number."""
    texts = [
        ("meldingshode/epj/navnEPJ", header.navn_epj),
        ("meldingshode/epj/leverandor", header.leverandor),
        ("meldingshode/epj/versjonEPJ", header.versjon_epj),
    ]
    contact = header.kontaktperson
    if contact is not None:
        texts.append(("meldingshode/kontaktperson/navn", contact.navn))
        if contact.epost is not None:
            texts.append(("meldingshode/kontaktperson/epost", contact.epost))
        if contact.telefon is not None and not telefon_fits(contact.telefon):
            return "meldingshode/kontaktperson/telefon"
    for field, text in texts:
        if not text_fits(text):
            return field
    return None


def record_fault(record: _Record) -> str | None:
    """The first free field of ``record`` (its ``FREE_FIELDS`` name) whose value could carry an identity number."""
    for diagnosis in record.diagnoses:
        if not diagnosis_code_fits(str(diagnosis.system), diagnosis.code):
            return "diagnose/@kode"
    for service in record.services:
        if not text_fits(service.tjeneste_id):
            return "tjeneste/@tjenesteID"
    for coercion in record.coercion:
        if not text_fits(coercion.vedtak_id):
            return "tvangsvedtak/@vedtakID"
    return None
