"""``check_export``: every reason an export would be refused, not only the first, each explained (``_explain``).

The reader (``_reader``) stops at the first chunk with an error, which is right for the gateway's sealing pass
(nothing more is read of a file that is refused anyway) but leaves municipal IT fixing a file ten errors at a time.
This check reads the whole file once, in the same bounded memory: the document is parsed without the schema, and
each ``<person>`` is validated in place against the same XSD (``schema.fragment_errors``: the schema with
``person`` and ``meldingshode`` declared global), which gives exactly the errors a validation of the whole document
gives for that person, with the file's line numbers, then the person is dropped. What is left at the end (the root,
its header, an empty ``<personer>``, anything that does not belong there) is validated as a whole. So the total is
the total, and the first ``shown`` problems are listed in document order.

``iplos validate`` (offline: no keys, no service) and the gateway's ``schema-invalid`` answer both come from here,
so the two say the same about the same file. A file that is not well-formed XML cannot be read past its first such
error: the check then lists what it found up to there and says it is incomplete.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from lxml import etree

from shared.iplos.model import ExportHeader
from shared.iplos.reader._convert import CouldCarryIdentity, NewerThanDeclared, convert_header
from shared.iplos.reader._elements import HEADER, PERSON, ROOT, local_name, source_line
from shared.iplos.reader._errors import ExportInvalid, refuse
from shared.iplos.reader._explain import (
    ExportProblem,
    Place,
    explain,
    locate,
    person_bruker_nr,
    place_of,
)
from shared.iplos.reader._lines import LineConverter
from shared.iplos.reader._parser import check_no_dtd, logged_errors, stream_parser
from shared.iplos.reader._redaction import syntax_problem
from shared.iplos.reader._source import DEFAULT_MAX_PERSON_BYTES, GuardedSource, TooMuchWithoutAPerson
from shared.iplos.schema import EXPORT_NAMESPACE, fragment_errors, tree_error_entries

SHOWN_PROBLEMS = 100
"""How many problems an answer lists (the gateway's and ``iplos validate``'s), with the total beside them."""

# The reader's own refusals (the prolog scan, a DOCTYPE, a truncated document), in Norwegian too.
_REFUSALS_NB = {
    "the export must be UTF-8 encoded (UTF-16 and UTF-32 are not accepted)": (
        "eksporten må være kodet i UTF-8 (UTF-16 og UTF-32 godtas ikke)"
    ),
    "the export must be UTF-8 encoded (the declared encoding is not accepted)": (
        "eksporten må være kodet i UTF-8 (tegnkodingen den oppgir, godtas ikke)"
    ),
    "a DOCTYPE declaration is not allowed": "en DOCTYPE-deklarasjon er ikke tillatt",
    "the prolog before the root element is too long": "innledningen før rotelementet er for lang",
    "the document does not start with XML markup": "dokumentet begynner ikke med XML",
    "the document ends before its root element is closed": "dokumentet slutter før rotelementet er lukket",
}


@dataclass(frozen=True)
class ExportCheck:
    """What ``check_export`` found. ``total`` counts every problem found, ``problems`` lists the first ``shown`` in
    document order; ``complete`` is False when the file could not be read to its end (not well-formed XML, a
    refusal before the root, a size limit), so problems after that point are not counted."""

    header: ExportHeader | None
    persons: int
    total: int
    problems: tuple[ExportProblem, ...]
    complete: bool

    @property
    def valid(self) -> bool:
        return self.complete and self.total == 0

    @property
    def more(self) -> int:
        """How many problems were found beyond those listed."""
        return self.total - len(self.problems)

    def as_json(self) -> dict[str, Any]:
        """``iplos validate --json``: the members the gateway's ``schema-invalid`` answer has, under its names."""
        return {
            "valid": self.valid,
            "persons": self.persons,
            "error_count": self.total,
            "errors_shown": len(self.problems),
            "complete": self.complete,
            "errors": [problem.as_json() for problem in self.problems],
        }


@dataclass
class _Found:
    """The problems found so far: the first ``shown`` kept, all counted."""

    shown: int
    kept: list[ExportProblem] = field(default_factory=list)
    total: int = 0

    def add(self, problem: ExportProblem) -> None:
        self.total += 1
        if len(self.kept) < self.shown:
            self.kept.append(problem)


def plain_problem(line: int, rule: str, message: str, message_nb: str) -> ExportProblem:
    """A problem about the file as a whole (not an element): its rule and sentences are its whole message."""
    return Place(line, "", "", "", 0, None, in_header=False).problem(rule, message, message_nb, message)


def _refusal(exc: ExportInvalid) -> ExportProblem:
    issue = exc.issues[0]
    return plain_problem(issue.line, "refused", issue.message, _REFUSALS_NB.get(issue.message, issue.message))


def _syntax(code: int, line: int, column: int) -> ExportProblem:
    detail = syntax_problem(code)
    at = f", column {column}" if column > 0 else ""
    at_nb = f", kolonne {column}" if column > 0 else ""
    what = f" ({detail})" if detail else ""
    return plain_problem(
        max(line, 0),
        "not-well-formed",
        f"the file is not well-formed XML at line {line}{at}{what}; nothing after this point was checked",
        f"filen er ikke velformet XML på linje {line}{at_nb}{what}; resten av filen er ikke kontrollert",
    )


class _Check:
    def __init__(self, raw: BinaryIO, shown: int, max_person_bytes: int) -> None:
        self.found = _Found(max(1, shown))
        self.guard = GuardedSource(raw, max(1, max_person_bytes))
        self.header: ExportHeader | None = None
        self.header_element: etree._Element | None = None
        self.root: etree._Element | None = None
        self.persons = 0
        self.complete = True
        self.lines: LineConverter | None = None
        self.tail: list[ExportProblem] = []

    def run(self) -> ExportCheck:
        try:
            self.guard.scan_prolog()
        except ExportInvalid as exc:
            return self._result([_refusal(exc)], complete=False)
        context = stream_parser(self.guard, validate=False)
        try:
            for event, element in self._events(context):
                self._on(event, element)
        except ExportInvalid as exc:
            self.tail.append(_refusal(exc))
            self.complete = False
        except TooMuchWithoutAPerson:
            self.tail.append(self._too_large())
            self.complete = False
        except etree.XMLSyntaxError as error:
            self._syntax_errors(context, error)
            self.complete = False
        else:
            self._syntax_errors(context, None)
        return self._result(self.tail, complete=self.complete)

    def _events(self, context: Any) -> Iterator[tuple[str, etree._Element]]:
        root_closed = False
        for event, element in context:
            if self.root is None:
                self.root = element.getroottree().getroot()
                check_no_dtd(element)
            self.guard.mark = self.guard.fed
            if event == "end" and element.tag == ROOT:
                root_closed = True
            yield event, element
        if not root_closed:
            # lxml has been seen to end a broken parse without an error: a root that never closed is incomplete.
            raise refuse(0, "the document ends before its root element is closed")

    def _on(self, event: str, element: etree._Element) -> None:
        if event == "start":
            return
        if element.tag == HEADER:
            self._header(element)
        elif element.tag == PERSON:
            self._person(element)
        elif element.tag == ROOT:
            self._root(element)

    def _format_version(self) -> str:
        return self.root.get("formatVersjon", "") if self.root is not None else ""

    def _header(self, header: etree._Element) -> None:
        self.header_element = header
        problems = self._validated(header, base=None, prefix="", person=0, bruker_nr=None, in_header=True)
        if problems:
            return
        try:
            self.header = convert_header(header, self._format_version())
        except NewerThanDeclared as error:
            self.found.add(self._too_new(error, base=None, prefix="", person=0, bruker_nr=None, in_header=True))
        except CouldCarryIdentity as error:
            self.found.add(self._could_carry(error, base=None, prefix="", person=0, bruker_nr=None, in_header=True))
        except (ValueError, KeyError):
            self.found.add(plain_problem(source_line(header), "unconvertible", *_UNCONVERTIBLE))

    def _person(self, person: etree._Element) -> None:
        self.persons += 1
        parent = person.getparent()
        for stray in list(person.itersiblings(preceding=True)):
            self._stray(stray)
        prefix = f"iplosMelding/personer/person[{self.persons}]"
        bruker_nr = person_bruker_nr(person)
        problems = self._validated(person, base=person, prefix=prefix, person=self.persons, bruker_nr=bruker_nr)
        if not problems:
            if self.lines is None:
                self.lines = LineConverter(self._format_version())
            try:
                self.lines.person(person)
            except NewerThanDeclared as error:
                self.found.add(
                    self._too_new(error, base=person, prefix=prefix, person=self.persons, bruker_nr=bruker_nr)
                )
            except CouldCarryIdentity as error:
                self.found.add(
                    self._could_carry(error, base=person, prefix=prefix, person=self.persons, bruker_nr=bruker_nr)
                )
            except (ValueError, KeyError, TypeError):
                self.found.add(plain_problem(source_line(person), "unconvertible", *_UNCONVERTIBLE))
        # Dropped at once: memory stays flat whatever the file's size.
        person.clear()
        if parent is not None:
            parent.remove(person)

    def _stray(self, element: etree._Element) -> None:
        """An element among the persons that is not a person: what libxml2 says of it, without keeping it."""
        name = local_name(element.tag) if isinstance(element.tag, str) else ""
        message = (
            f"Element '{{{EXPORT_NAMESPACE}}}{name}': This element is not expected. "
            f"Expected is ( {{{EXPORT_NAMESPACE}}}person )."
        )
        place = place_of(element, message, base=None, prefix="", person=0, bruker_nr=None, in_header=False)
        self.found.add(explain("SCHEMAV_ELEMENT_CONTENT", message, element, place))
        parent = element.getparent()
        if parent is not None:
            parent.remove(element)

    def _root(self, root: etree._Element) -> None:
        personer = root.find(f"{{{EXPORT_NAMESPACE}}}personer")
        if personer is not None:
            for stray in list(personer):
                if isinstance(stray.tag, str):
                    self._stray(stray)
        header = self.header_element
        for type_name, message, path, _line in tree_error_entries(root):
            node = locate(root, path)
            if header is not None and (node is header or header in node.iterancestors()):
                continue  # already told, with the header's own validation
            place = place_of(node, message, base=None, prefix="", person=0, bruker_nr=None, in_header=False)
            self.tail.append(explain(type_name, message, node, place))

    def _validated(
        self,
        element: etree._Element,
        *,
        base: etree._Element | None,
        prefix: str,
        person: int,
        bruker_nr: str | None,
        in_header: bool = False,
    ) -> list[ExportProblem]:
        problems = []
        for type_name, message, path in fragment_errors(element):
            node = locate(element, path)
            place = place_of(
                node, message, base=base, prefix=prefix, person=person, bruker_nr=bruker_nr, in_header=in_header
            )
            problem = explain(type_name, message, node, place)
            self.found.add(problem)
            problems.append(problem)
        return problems

    def _too_new(
        self,
        error: NewerThanDeclared,
        *,
        base: etree._Element | None,
        prefix: str,
        person: int,
        bruker_nr: str | None,
        in_header: bool = False,
    ) -> ExportProblem:
        attribute = error.name[1:] if error.name.startswith("@") else ""
        place = place_of(
            error.element,
            attribute=attribute,
            base=base,
            prefix=prefix,
            person=person,
            bruker_nr=bruker_nr,
            in_header=in_header,
        )
        what, what_nb = place.subject()
        return place.problem(
            "newer-than-declared",
            f"{what} is new in format version 1.1, but the file says formatVersjon 1.0",
            f"{what_nb} er nytt i formatversjon 1.1, men filen sier formatVersjon 1.0",
            f"'{error.name}' is new in format version 1.1, but the document says formatVersjon 1.0",
        )

    def _could_carry(
        self,
        error: CouldCarryIdentity,
        *,
        base: etree._Element | None,
        prefix: str,
        person: int,
        bruker_nr: str | None,
        in_header: bool = False,
    ) -> ExportProblem:
        """A free-form value that could carry an identity number: where it is and why, never the value."""
        place = place_of(
            error.element,
            attribute=error.attribute,
            base=base,
            prefix=prefix,
            person=person,
            bruker_nr=bruker_nr,
            in_header=in_header,
        )
        what, what_nb = place.subject()
        reason, reason_nb = error.reason()
        return place.problem(
            "diagnosis-code-form" if error.is_code else "could-carry-identity-number",
            f"{what} {reason}",
            f"{what_nb} {reason_nb}",
            f"{error.field}: {reason}",
        )

    def _too_large(self) -> ExportProblem:
        limit = self.guard.max_gap
        return plain_problem(
            0,
            "limit",
            f"more than {limit} bytes of XML without the start or end of a person: one person is larger than the "
            "gateway reads, or the file is not well-formed XML; nothing after this point was checked",
            f"mer enn {limit} byte XML uten at en person begynner eller slutter: én person er større enn "
            "gatewayen leser, eller filen er ikke velformet XML; resten av filen er ikke kontrollert",
        )

    def _syntax_errors(self, context: Any, error: etree.XMLSyntaxError | None) -> None:
        """Well-formedness (and namespace) errors: those libxml2 logged without stopping, then the one it stopped
        at. Only their codes and positions are used: their texts quote the document."""
        seen: set[tuple[int, int]] = set()
        for entry in logged_errors(context.error_log):
            if (entry.line, entry.column) in seen:
                continue
            seen.add((entry.line, entry.column))
            self.tail.append(_syntax(entry.type, entry.line, entry.column))
        if error is not None:
            line, column = error.position
            line = line or error.lineno or 0
            if (line, column) not in seen:
                code = getattr(error, "code", 0)
                self.tail.append(_syntax(code if isinstance(code, int) else 0, line, column))

    def _result(self, tail: list[ExportProblem], *, complete: bool) -> ExportCheck:
        self.found.total += len(tail)
        listed = sorted([*self.found.kept, *tail], key=lambda p: (p.line == 0, p.line))[: self.found.shown]
        return ExportCheck(self.header, self.persons, self.found.total, tuple(listed), complete)


_UNCONVERTIBLE = ("a value could not be read", "en verdi kunne ikke leses")


def check_export(
    source: str | os.PathLike[str] | BinaryIO,
    *,
    shown: int = SHOWN_PROBLEMS,
    max_person_bytes: int = DEFAULT_MAX_PERSON_BYTES,
) -> ExportCheck:
    """Every problem of the export at ``source`` (a path or a binary file, read from where it stands)."""
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as raw:
            return _Check(raw, shown, max_person_bytes).run()
    return _Check(source, shown, max_person_bytes).run()
