"""Streaming serialisation of an export (header + persons) to XML that validates against the XSD.

Uses lxml's incremental writer (``etree.xmlfile``), one element context at a time, so a writer never holds
more than the person it is writing: the generator can produce a national-size file in constant memory.
Nested ``xf.element`` contexts (rather than building each person as a tree and writing it) keep the default
namespace declared once on the root: a separately built subtree would redeclare it on every person.

Each person starts on its own line, and so do its services, refusals, complaints and coercion decisions, so the
line numbers in an ``ExportInvalid`` point somewhere useful when a generated file is edited by hand for a test.

The writer writes what the record holds, in the header's ``formatVersjon``. It refuses to write a field that
the declared version does not have (a 1.1 field in a "1.0" export) rather than produce a file the reader
refuses; optional values that are None, and empty lists, are left out.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import math
import os
from collections.abc import Callable, Iterable, Sequence
from types import TracebackType
from typing import BinaryIO, Protocol, TypeVar, cast

from lxml import etree

from shared.iplos.model import (
    Coercion,
    Complaint,
    ExportHeader,
    PersonBackground,
    PersonRecord,
    Refusal,
    Service,
)
from shared.iplos.schema import EXPORT_NAMESPACE, FORMAT_VERSIONS, q

_T = TypeVar("_T")

__all__ = ["ExportTarget", "ExportWriter", "format_hours", "write_export"]

ExportTarget = str | os.PathLike[str] | BinaryIO

_ROOT = q("iplosMelding")
_PERSON = q("person")
_BRUKER_NR = q("brukerNr")
_FID = q("fid")
_FUNKSJON = q("funksjon")
_VURDERING = q("vurdering")
_DIAGNOSER = q("diagnoser")
_DIAGNOSE = q("diagnose")
_TJENESTER = q("tjenester")
_TJENESTE = q("tjeneste")
_VEDTAKSDATO = q("vedtaksdato")
_STARTDATO = q("startdato")
_SLUTTDATO = q("sluttdato")
_TIMER = q("timerPerUke")
_ORG_NR = q("orgNr")
_SOKNADSDATO = q("soknadsdato")
_BAKGRUNN = q("bakgrunn")
_AVSLAG = q("avslag")
_AVSLAGSVEDTAK = q("avslagsvedtak")
_KLAGER = q("klager")
_KLAGE = q("klage")
_KLAGEDATO = q("klagedato")
_UTFALL = q("utfall")
_TVANG = q("tvang")
_TVANGSVEDTAK = q("tvangsvedtak")
# bakgrunn's children in schema order, with the PersonBackground field each one writes.
_BACKGROUND_FIELDS: tuple[tuple[str, str], ...] = (
    (q("bolig"), "housing"),
    (q("husstand"), "household"),
    (q("privatHjelp"), "unpaid_help"),
    (q("tilrettelagtKommunikasjon"), "assisted_communication"),
    (q("dodsdato"), "death_date"),
    (q("vurdertAvLege"), "assessed_by_doctor"),
    (q("vurdertAvTannhelse"), "assessed_by_dentist"),
    (q("individuellPlan"), "individual_plan"),
)
_NO_BACKGROUND = PersonBackground()


class _XmlFile(Protocol):
    """The part of lxml's incremental writer used here (lxml-stubs does not describe ``xmlfile``)."""

    def write_declaration(self) -> None: ...

    def element(
        self, tag: str, attrib: dict[str, str] | None = None, nsmap: dict[str | None, str] | None = None
    ) -> contextlib.AbstractContextManager[None]: ...

    def write(self, *content: str) -> None: ...

    def flush(self) -> None: ...


def format_hours(hours: float) -> str:
    """``xs:decimal`` text for hours per week: positional notation (``repr`` may say ``1e-05``, which is not
    a decimal), and the shortest text that reads back as the same float."""
    if not math.isfinite(hours):
        raise ValueError("hours per week must be a finite number")
    return format(decimal.Decimal(repr(float(hours))), "f")


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
        self._xf: _XmlFile | None = None
        self._personer: contextlib.AbstractContextManager[None] | None = None
        self.persons_written = 0

    def __enter__(self) -> ExportWriter:
        stack = self._stack
        try:
            if isinstance(self._out, str | os.PathLike):
                target: BinaryIO = stack.enter_context(open(self._out, "wb"))
            else:
                target = self._out
            xmlfile = etree.xmlfile  # untyped in lxml-stubs: _XmlFile describes it
            xf = cast(_XmlFile, stack.enter_context(xmlfile(target, encoding="UTF-8")))
            xf.write_declaration()  # ends with a newline
            stack.enter_context(
                xf.element(_ROOT, {"formatVersjon": self._header.format_version}, nsmap={None: EXPORT_NAMESPACE})
            )
            self._write_header(xf, self._header)
            xf.write("\n  ")
            # Entered outside the stack so that __exit__ can put a newline between </personer> and the root.
            personer = xf.element(q("personer"))
            personer.__enter__()
            self._personer = personer
        except BaseException as error:
            # Unwind with the error, so that lxml does not try to finish an empty document.
            stack.__exit__(type(error), error, error.__traceback__)
            raise
        self._xf = xf
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        personer, self._personer = self._personer, None
        if personer is not None:
            if exc_type is None and self._xf is not None:
                self._xf.write("\n  ")
            personer.__exit__(exc_type, exc, traceback)
            if exc_type is None and self._xf is not None:
                self._xf.write("\n")
        self._xf = None
        # Unwinding the stack closes </iplosMelding>, then the xmlfile, then a file the writer opened.
        self._stack.__exit__(exc_type, exc, traceback)

    @staticmethod
    def _write_header(xf: _XmlFile, header: ExportHeader) -> None:
        def leaf(tag: str, text: str, indent: str) -> None:
            xf.write(indent)
            with xf.element(q(tag)):
                xf.write(text)

        xf.write("\n  ")
        with xf.element(q("meldingshode")):
            leaf("meldingGUID", header.melding_guid, "\n    ")
            xf.write("\n    ")
            with xf.element(q("epj")):
                leaf("navnEPJ", header.navn_epj, "")
                leaf("leverandor", header.leverandor, "")
                leaf("versjonEPJ", header.versjon_epj, "")
            leaf("rapporteringsaar", str(header.rapporteringsaar), "\n    ")
            leaf("kommuneNr", header.kommune_nr, "\n    ")
            if header.bydel_nr is not None:
                leaf("bydelNr", header.bydel_nr, "\n    ")
            contact = header.kontaktperson
            if contact is not None:
                xf.write("\n    ")
                with xf.element(q("kontaktperson")):
                    leaf("navn", contact.navn, "")
                    if contact.telefon is not None:
                        leaf("telefon", contact.telefon, "")
                    if contact.epost is not None:
                        leaf("epost", contact.epost, "")
            xf.write("\n  ")

    def write(self, person: PersonRecord) -> None:
        xf = self._xf
        if xf is None:
            raise RuntimeError("ExportWriter.write outside its with block")
        if self._v10:
            self._check_1_0(person)
        element = xf.element
        xf.write("\n    ")
        with element(_PERSON):
            xf.write("\n      ")
            with element(_BRUKER_NR):
                xf.write(person.bruker_nr)
            xf.write("\n      ")
            with element(_FID, {"type": str(person.fid_type)}):
                xf.write(person.fid)
            if person.background != _NO_BACKGROUND:
                xf.write("\n      ")
                self._write_background(xf, person.background)
            if person.function_scores:
                xf.write("\n      ")
                with element(_FUNKSJON):
                    for score in person.function_scores:
                        attributes = {
                            "variabel": score.variable,
                            "skaar": str(score.score),
                            "dato": score.date.isoformat(),
                        }
                        with element(_VURDERING, attributes):
                            pass
            if person.diagnoses:
                xf.write("\n      ")
                with element(_DIAGNOSER):
                    for diagnosis in person.diagnoses:
                        with element(_DIAGNOSE, {"kodeverk": str(diagnosis.system), "kode": diagnosis.code}):
                            pass
            self._write_list(xf, _TJENESTER, person.services, self._write_service)
            self._write_list(xf, _AVSLAG, person.refusals, self._write_refusal)
            self._write_list(xf, _KLAGER, person.complaints, self._write_complaint)
            self._write_list(xf, _TVANG, person.coercion, self._write_coercion)
            xf.write("\n    ")
        self.persons_written += 1

    @staticmethod
    def _write_list(xf: _XmlFile, tag: str, items: Sequence[_T], write_one: Callable[[_XmlFile, _T], None]) -> None:
        """A container element with one child per item, left out when there are none."""
        if not items:
            return
        xf.write("\n      ")
        with xf.element(tag):
            for item in items:
                xf.write("\n        ")
                write_one(xf, item)
            xf.write("\n      ")

    @staticmethod
    def _check_1_0(person: PersonRecord) -> None:
        if (
            person.background != _NO_BACKGROUND
            or person.refusals
            or person.complaints
            or person.coercion
            or any(s.application_date is not None or s.event_type != "N" for s in person.services)
        ):
            raise ValueError("the person has fields that need formatVersjon 1.1")

    @staticmethod
    def _write_background(xf: _XmlFile, background: PersonBackground) -> None:
        with xf.element(_BAKGRUNN):
            for tag, name in _BACKGROUND_FIELDS:
                value: object = getattr(background, name)
                if value is None:
                    continue
                with xf.element(tag):
                    if isinstance(value, bool):
                        xf.write("true" if value else "false")
                    elif isinstance(value, int):
                        xf.write(str(value))
                    else:
                        xf.write(cast(dt.date, value).isoformat())

    @staticmethod
    def _write_refusal(xf: _XmlFile, refusal: Refusal) -> None:
        with xf.element(_AVSLAGSVEDTAK, {"tjenesteType": str(refusal.tjeneste_type)}):
            if refusal.application_date is not None:
                with xf.element(_SOKNADSDATO):
                    xf.write(refusal.application_date.isoformat())
            with xf.element(_VEDTAKSDATO):
                xf.write(refusal.decision_date.isoformat())

    @staticmethod
    def _write_complaint(xf: _XmlFile, complaint: Complaint) -> None:
        with xf.element(_KLAGE, {"tjenesteType": str(complaint.tjeneste_type)}):
            with xf.element(_KLAGEDATO):
                xf.write(complaint.complaint_date.isoformat())
            if complaint.outcome is not None:
                with xf.element(_UTFALL):
                    xf.write(complaint.outcome)

    @staticmethod
    def _write_coercion(xf: _XmlFile, coercion: Coercion) -> None:
        with xf.element(_TVANGSVEDTAK, {"vedtakID": coercion.vedtak_id, "hjemmel": coercion.legal_basis}):
            with xf.element(_VEDTAKSDATO):
                xf.write(coercion.decision_date.isoformat())
            with xf.element(_STARTDATO):
                xf.write(coercion.start_date.isoformat())
            if coercion.end_date is not None:
                with xf.element(_SLUTTDATO):
                    xf.write(coercion.end_date.isoformat())

    @staticmethod
    def _write_service(xf: _XmlFile, service: Service) -> None:
        element = xf.element
        attributes = {"tjenesteID": service.tjeneste_id, "tjenesteType": str(service.tjeneste_type)}
        if service.event_type != "N":
            attributes["hendelse"] = service.event_type  # absent means N
        with element(_TJENESTE, attributes):
            if service.application_date is not None:
                with element(_SOKNADSDATO):
                    xf.write(service.application_date.isoformat())
            if service.decision_date is not None:
                with element(_VEDTAKSDATO):
                    xf.write(service.decision_date.isoformat())
            with element(_STARTDATO):
                xf.write(service.start_date.isoformat())
            if service.end_date is not None:
                with element(_SLUTTDATO):
                    xf.write(service.end_date.isoformat())
            if service.hours_per_week is not None:
                with element(_TIMER):
                    xf.write(format_hours(service.hours_per_week))
            if service.org_nr is not None:
                with element(_ORG_NR):
                    xf.write(service.org_nr)


def write_export(out: ExportTarget, header: ExportHeader, persons: Iterable[PersonRecord]) -> int:
    """Write a whole export from an iterable (consumed lazily); returns the number of persons written."""
    with ExportWriter(out, header) as writer:
        for person in persons:
            writer.write(person)
        return writer.persons_written
