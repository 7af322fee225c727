"""Streaming serialisation of an export (header + persons) to XML that validates against the XSD.

The writer builds each person's markup as one string and writes it in chunks, so it never holds more than
a few hundred persons: the generator can produce a national-size file in constant memory. It used lxml's
incremental writer (``etree.xmlfile``) before, one element context per field; that cost more than drawing
the persons. The bytes are the same as lxml wrote them (the generator's output is pinned): the default
namespace declared once on the root, ``<a></a>`` for an empty element, lxml's escaping (``_text``,
``_attribute``) and its refusal of characters XML cannot hold.

Each person starts on its own line, and so do its services, refusals, complaints and coercion decisions, so the
line numbers in an ``ExportInvalid`` point somewhere useful when a generated file is edited by hand for a test.

The writer writes what the record holds, in the header's ``formatVersjon``. It refuses to write a field that
the declared version does not have (a 1.1 field in a "1.0" export) rather than produce a file the reader
refuses; optional values that are None, and empty lists, are left out.
"""

from __future__ import annotations

import contextlib
import decimal
import math
import os
import re
from collections.abc import Iterable
from types import TracebackType
from typing import BinaryIO

from shared.iplos.model import (
    FUNCTION_VARIABLES,
    CodeSystem,
    Coercion,
    Complaint,
    ExportHeader,
    FidType,
    PersonBackground,
    PersonRecord,
    Refusal,
    Service,
)
from shared.iplos.schema import EXPORT_NAMESPACE, FORMAT_VERSIONS

__all__ = ["ExportTarget", "ExportWriter", "format_hours", "write_export"]

ExportTarget = str | os.PathLike[str] | BinaryIO

# Persons per write: a few hundred kilobytes, so that memory stays flat and writes stay few.
_PERSONS_PER_CHUNK = 256
_NO_BACKGROUND = PersonBackground()

# lxml's escaping: in text &, <, > and CR; in an attribute value also the quote and the whitespace that
# attribute-value normalisation would turn into spaces.
_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_ATTRIBUTE_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\r": "&#13;", "\n": "&#10;", "\t": "&#9;"}
)
# Characters XML 1.0 cannot hold (lxml refuses them), and every character that needs a closer look: one search
# decides whether a value can be written as it is, which almost every value can.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_SPECIAL = re.compile('[&<>"\r\n\t\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]')


def _checked(value: str) -> str:
    if _NOT_XML.search(value) is not None:
        raise ValueError("All strings must be XML compatible: Unicode or ASCII, no NULL bytes or control characters")
    return value


def _text(value: str) -> str:
    """Element text as lxml writes it."""
    if _SPECIAL.search(value) is None:
        return value
    return _checked(value).translate(_TEXT_ESCAPES)


def _attribute(value: str) -> str:
    """An attribute value (between double quotes) as lxml writes it."""
    if _SPECIAL.search(value) is None:
        return value
    return _checked(value).translate(_ATTRIBUTE_ESCAPES)


def format_hours(hours: float) -> str:
    """``xs:decimal`` text for hours per week: positional notation (``repr`` may say ``1e-05``, which is not
    a decimal), and the shortest text that reads back as the same float."""
    text = repr(float(hours))
    if "e" not in text and "n" not in text:
        return text  # already positional ("inf" and "nan" have an n): what the Decimal below would give
    if not math.isfinite(hours):
        raise ValueError("hours per week must be a finite number")
    return format(decimal.Decimal(text), "f")


def _leaf(tag: str, text: str) -> str:
    return f"<{tag}>{_text(text)}</{tag}>"


def _header_markup(header: ExportHeader) -> str:
    lines = [
        "<?xml version='1.0' encoding='UTF-8'?>\n",
        f'<iplosMelding xmlns="{_attribute(EXPORT_NAMESPACE)}" formatVersjon="{_attribute(header.format_version)}">',
        "\n  <meldingshode>",
        "\n    " + _leaf("meldingGUID", header.melding_guid),
        "\n    <epj>"
        + _leaf("navnEPJ", header.navn_epj)
        + _leaf("leverandor", header.leverandor)
        + _leaf("versjonEPJ", header.versjon_epj)
        + "</epj>",
        "\n    " + _leaf("rapporteringsaar", str(header.rapporteringsaar)),
        "\n    " + _leaf("kommuneNr", header.kommune_nr),
    ]
    if header.bydel_nr is not None:
        lines.append("\n    " + _leaf("bydelNr", header.bydel_nr))
    contact = header.kontaktperson
    if contact is not None:
        lines.append("\n    <kontaktperson>" + _leaf("navn", contact.navn))
        if contact.telefon is not None:
            lines.append(_leaf("telefon", contact.telefon))
        if contact.epost is not None:
            lines.append(_leaf("epost", contact.epost))
        lines.append("</kontaktperson>")
    lines.append("\n  </meldingshode>\n  <personer>")
    return "".join(lines)


def _background_markup(background: PersonBackground) -> str:
    """``<bakgrunn>`` with its children in schema order; "" when nothing is recorded."""
    parts = []
    for tag, value in (
        ("bolig", background.housing),
        ("husstand", background.household),
        ("privatHjelp", background.unpaid_help),
        ("tilrettelagtKommunikasjon", background.assisted_communication),
        ("dodsdato", background.death_date),
        ("vurdertAvLege", background.assessed_by_doctor),
        ("vurdertAvTannhelse", background.assessed_by_dentist),
        ("individuellPlan", background.individual_plan),
    ):
        if value is None:
            continue
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, int):
            text = str(value)
        else:
            text = value.isoformat()
        parts.append(f"<{tag}>{text}</{tag}>")
    return "<bakgrunn>" + "".join(parts) + "</bakgrunn>" if parts else ""


def _service_markup(service: Service) -> str:
    parts = [f'<tjeneste tjenesteID="{_attribute(service.tjeneste_id)}" tjenesteType="{service.tjeneste_type}"']
    if service.event_type != "N":
        parts.append(f' hendelse="{_attribute(service.event_type)}"')  # absent means N
    parts.append(">")
    if service.application_date is not None:
        parts.append(f"<soknadsdato>{service.application_date.isoformat()}</soknadsdato>")
    if service.decision_date is not None:
        parts.append(f"<vedtaksdato>{service.decision_date.isoformat()}</vedtaksdato>")
    parts.append(f"<startdato>{service.start_date.isoformat()}</startdato>")
    if service.end_date is not None:
        parts.append(f"<sluttdato>{service.end_date.isoformat()}</sluttdato>")
    if service.hours_per_week is not None:
        parts.append(f"<timerPerUke>{format_hours(service.hours_per_week)}</timerPerUke>")
    if service.org_nr is not None:
        parts.append(f"<orgNr>{_text(service.org_nr)}</orgNr>")
    parts.append("</tjeneste>")
    return "".join(parts)


def _refusal_markup(refusal: Refusal) -> str:
    application = refusal.application_date
    return (
        f'<avslagsvedtak tjenesteType="{refusal.tjeneste_type}">'
        + ("" if application is None else f"<soknadsdato>{application.isoformat()}</soknadsdato>")
        + f"<vedtaksdato>{refusal.decision_date.isoformat()}</vedtaksdato></avslagsvedtak>"
    )


def _complaint_markup(complaint: Complaint) -> str:
    outcome = complaint.outcome
    return (
        f'<klage tjenesteType="{complaint.tjeneste_type}"><klagedato>{complaint.complaint_date.isoformat()}</klagedato>'
        + ("" if outcome is None else _leaf("utfall", outcome))
        + "</klage>"
    )


def _coercion_markup(coercion: Coercion) -> str:
    end = coercion.end_date
    return (
        f'<tvangsvedtak vedtakID="{_attribute(coercion.vedtak_id)}" hjemmel="{_attribute(coercion.legal_basis)}">'
        f"<vedtaksdato>{coercion.decision_date.isoformat()}</vedtaksdato>"
        f"<startdato>{coercion.start_date.isoformat()}</startdato>"
        + ("" if end is None else f"<sluttdato>{end.isoformat()}</sluttdato>")
        + "</tvangsvedtak>"
    )


# Markup for the values every person repeats, made once: the 17 variables' score elements up to the score,
# the identity number types and the code systems. Other values are looked at one by one.
_SCORE_PREFIXES = {variable: f'<vurdering variabel="{variable}" skaar="' for variable in FUNCTION_VARIABLES}
_FID_TYPES = {str(kind): _attribute(str(kind)) for kind in FidType}
_CODE_SYSTEMS = {str(system): _attribute(str(system)) for system in CodeSystem}


def _container(tag: str, items: list[str]) -> str:
    """A list element with one child per line."""
    return f"\n      <{tag}>\n        " + "\n        ".join(items) + f"\n      </{tag}>"


def _person_markup(person: PersonRecord) -> str:
    fid_type = str(person.fid_type)
    parts = [
        f"\n    <person>\n      <brukerNr>{_text(person.bruker_nr)}</brukerNr>"
        f'\n      <fid type="{_FID_TYPES.get(fid_type) or _attribute(fid_type)}">{_text(person.fid)}</fid>'
    ]
    background = _background_markup(person.background)
    if background:
        parts.append("\n      " + background)
    if person.function_scores:
        parts.append("\n      <funksjon>")
        # The scores of one assessment share its date: format it once.
        last_date, last_text = None, ""
        for score in person.function_scores:
            if score.date != last_date:
                last_date, last_text = score.date, score.date.isoformat()
            prefix = (
                _SCORE_PREFIXES.get(score.variable) or f'<vurdering variabel="{_attribute(score.variable)}" skaar="'
            )
            parts.append(f'{prefix}{score.score}" dato="{last_text}"></vurdering>')
        parts.append("</funksjon>")
    if person.diagnoses:
        parts.append("\n      <diagnoser>")
        for diagnosis in person.diagnoses:
            system = str(diagnosis.system)
            parts.append(
                f'<diagnose kodeverk="{_CODE_SYSTEMS.get(system) or _attribute(system)}" '
                f'kode="{_attribute(diagnosis.code)}"></diagnose>'
            )
        parts.append("</diagnoser>")
    # A container is left out when it would be empty (most persons have no refusal, complaint or coercion).
    if person.services:
        parts.append(_container("tjenester", [_service_markup(s) for s in person.services]))
    if person.refusals:
        parts.append(_container("avslag", [_refusal_markup(r) for r in person.refusals]))
    if person.complaints:
        parts.append(_container("klager", [_complaint_markup(c) for c in person.complaints]))
    if person.coercion:
        parts.append(_container("tvang", [_coercion_markup(c) for c in person.coercion]))
    parts.append("\n    </person>")
    return "".join(parts)


def _check_1_0(person: PersonRecord) -> None:
    if (
        person.background != _NO_BACKGROUND
        or person.refusals
        or person.complaints
        or person.coercion
        or any(s.application_date is not None or s.event_type != "N" for s in person.services)
    ):
        raise ValueError("the person has fields that need formatVersjon 1.1")


class ExportWriter:
    """Write one export incrementally::

        with ExportWriter(out, header) as writer:
            for person in persons:
                writer.write(person)

    The closing tags are written when the ``with`` block ends without an exception; after an exception the
    output is an unfinished (and so invalid) document. A path is opened (and closed) by the writer.
    """

    def __init__(self, out: ExportTarget, header: ExportHeader) -> None:
        if header.format_version not in FORMAT_VERSIONS:
            raise ValueError("unsupported formatVersjon for the export")
        if header.format_version == "1.0" and (header.bydel_nr is not None or header.kontaktperson is not None):
            raise ValueError("bydelNr and kontaktperson need formatVersjon 1.1")
        self._v10 = header.format_version == "1.0"
        self._out = out
        self._header = header
        self._stack = contextlib.ExitStack()
        self._target: BinaryIO | None = None
        self._pending: list[str] = []
        self.persons_written = 0

    def __enter__(self) -> ExportWriter:
        with self._stack as stack:
            target: BinaryIO
            if isinstance(self._out, str | os.PathLike):
                target = stack.enter_context(open(self._out, "wb"))
            else:
                target = self._out
            self._pending.append(_header_markup(self._header))
            self._stack = stack.pop_all()  # the file stays open until __exit__
        self._target = target
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        target, self._target = self._target, None
        if target is not None:
            if exc_type is None:
                self._pending.append("\n  </personer>\n</iplosMelding>")
            self._flush(target)
        self._stack.__exit__(exc_type, exc, traceback)  # closes a file the writer opened

    def _flush(self, target: BinaryIO) -> None:
        target.write("".join(self._pending).encode())
        self._pending.clear()

    def write(self, person: PersonRecord) -> None:
        target = self._target
        if target is None:
            raise RuntimeError("ExportWriter.write outside its with block")
        if self._v10:
            _check_1_0(person)
        pending = self._pending
        pending.append(_person_markup(person))
        self.persons_written += 1
        if len(pending) >= _PERSONS_PER_CHUNK:
            self._flush(target)


def write_export(out: ExportTarget, header: ExportHeader, persons: Iterable[PersonRecord]) -> int:
    """Write a whole export from an iterable (consumed lazily); returns the number of persons written."""
    with ExportWriter(out, header) as writer:
        for person in persons:
            writer.write(person)
        return writer.persons_written
