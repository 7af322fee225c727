"""``ExportReader``: the export's header at construction, then one validated ``PersonRecord`` per ``<person>``,
with every failure an ``ExportInvalid`` that says where (the package docstring tells how)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import BinaryIO, TypeVar

from lxml import etree

from shared.iplos.model import ExportHeader, PersonRecord
from shared.iplos.reader._convert import (
    Converter,
    CouldCarryIdentity,
    NewerThanDeclared,
    convert_header,
    could_carry_identity,
    too_new,
)
from shared.iplos.reader._elements import BRUKER_NR, HEADER, PERSON, ROOT, local_name, source_line
from shared.iplos.reader._errors import ExportInvalid, ExportLimitExceeded, SchemaIssue, refuse
from shared.iplos.reader._lines import LineConverter, PersonLine
from shared.iplos.reader._parser import check_no_dtd, logged_errors, stream_parser
from shared.iplos.reader._redaction import NO_ROOT_DECLARATION, describe, syntax_issue
from shared.iplos.reader._source import DEFAULT_MAX_PERSON_BYTES, GuardedSource, StopFeeding, TooMuchWithoutAPerson
from shared.iplos.schema import tree_errors

ExportSource = str | os.PathLike[str] | BinaryIO
_Person = TypeVar("_Person", PersonRecord, PersonLine)

_DEFAULT_MAX_ISSUES = 10


class ExportReader:
    """A validating stream of the persons in one export.

    Use as a context manager (it closes a file it opened itself) and iterate once::

        with read_export(path) as export:
            header = export.header
            for person in export:
                ...

    ``header`` is read when the reader is constructed. ``persons_read`` counts the persons yielded so far, and
    ``line`` is the line where the last one yielded starts; ``finished`` is True once the whole document has
    been read and found valid. Every failure, at construction or during iteration, raises ``ExportInvalid``
    (``ExportLimitExceeded`` for more than ``max_person_bytes`` of XML without a person's start or end).
    """

    header: ExportHeader

    def __init__(
        self,
        source: ExportSource,
        *,
        max_issues: int = _DEFAULT_MAX_ISSUES,
        max_person_bytes: int = DEFAULT_MAX_PERSON_BYTES,
    ) -> None:
        self._max_issues = max(1, max_issues)
        self._path: str | os.PathLike[str] | None = None
        self._raw: BinaryIO
        if isinstance(source, str | os.PathLike):
            self._path = source
            self._raw = open(source, "rb")  # noqa: SIM115 - closed by close()
        else:
            self._raw = source
        self._root: etree._Element | None = None
        self._open_person: etree._Element | None = None
        self._started = False
        self._root_closed = False
        self._finished = False
        self.persons_read = 0
        self.line = 0
        try:
            self._guard = GuardedSource(self._raw, max(1, max_person_bytes))
            self._guard.scan_prolog()
            self._context = stream_parser(self._guard)
            self._guard.stop_if = self._has_errors
            self._events = self._checked_events()
            self.header = self._read_header()
        except BaseException:
            self.close()
            raise

    # -- context manager / lifecycle

    def __enter__(self) -> ExportReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._path is not None:
            self._raw.close()

    @property
    def finished(self) -> bool:
        """True once every person has been read and the whole document has been found valid."""
        return self._finished

    # -- iteration

    def __iter__(self) -> Iterator[PersonRecord]:
        self._start()
        return self._persons(Converter(self.header.format_version).person)

    def lines(self) -> Iterator[PersonLine]:
        """Iterate as ``PersonLine``s instead of ``PersonRecord``s: each person's identity and its payload record's
        JSON text, written straight from the element (the gateway's fast path, ``_lines``). The same validation,
        limits and refusals as iterating the reader; either may be used, once."""
        self._start()
        return self._persons(LineConverter(self.header.format_version).person)

    def _start(self) -> None:
        if self._started:
            raise RuntimeError("an ExportReader can be iterated only once")
        self._started = True

    def _persons(self, convert: Callable[[etree._Element], _Person]) -> Iterator[_Person]:
        for _event, element in self._events:
            if element.tag != PERSON:
                continue
            try:
                record = convert(element)
            except NewerThanDeclared as error:
                raise too_new(error.element, error.name) from None
            except CouldCarryIdentity as error:
                raise could_carry_identity(error) from None
            except (ValueError, KeyError, TypeError):
                raise refuse(source_line(element), "a value could not be converted", "person") from None
            self.line = source_line(element)
            # Drop the converted person from the tree: memory stays flat however many persons follow.
            element.clear()
            parent = element.getparent()
            if parent is not None:
                parent.remove(element)
            self.persons_read += 1
            yield record
        self._finished = True

    def _read_header(self) -> ExportHeader:
        for _event, element in self._events:
            # The first event: the prolog is behind the parser, so a DTD would be known by now.
            check_no_dtd(element)
            if element.tag != HEADER:
                break  # a person or the root's end before the header: the schema log says why
            root = element.getparent()
            format_version = root.get("formatVersjon", "") if root is not None else ""
            try:
                # The header stays in the tree (it is small), so that error localisation can validate the
                # tree later without a spurious "missing meldingshode".
                return convert_header(element, format_version)
            except NewerThanDeclared as error:
                raise too_new(error.element, error.name) from None
            except CouldCarryIdentity as error:
                raise could_carry_identity(error) from None
            except (ValueError, KeyError):
                raise refuse(source_line(element), "a value could not be converted", "meldingshode") from None
        raise self._invalid() if self._has_errors() else refuse(0, "the export has no meldingshode")

    def _checked_events(self) -> Iterator[tuple[str, etree._Element]]:
        context = self._context
        while True:
            try:
                event, element = next(context)
            except StopIteration:
                if self._has_errors():
                    raise self._invalid() from None
                if not self._root_closed:
                    # Belt and braces: lxml has been seen to end a broken parse without an error (with a
                    # schema and resolve_entities=False); a document whose root never closed is incomplete.
                    raise refuse(0, "the document ends before its root element is closed") from None
                return
            except StopFeeding:
                raise self._invalid() from None
            except TooMuchWithoutAPerson:
                raise self._too_large() from None
            except etree.XMLSyntaxError as error:
                raise self._invalid(error) from None
            if self._root is None:
                self._root = element.getroottree().getroot()
            # Errors are logged while a chunk is parsed, before its events are handed out: looking here
            # means no event of an invalid element is ever acted on.
            if len(context.error_log) and self._has_errors():
                raise self._invalid()
            # Each start or end of a person (or of the header, or the root) starts the count afresh.
            self._guard.mark = self._guard.fed
            if event == "start":
                # Only noted (which person is open, for a limit's message); callers see end events.
                if element.tag == PERSON:
                    self._open_person = element
                continue
            if element.tag == PERSON:
                self._open_person = None
            elif element.tag == ROOT:
                self._root_closed = True
            yield event, element

    def _has_errors(self) -> bool:
        return bool(logged_errors(self._context.error_log))

    def _too_large(self) -> ExportLimitExceeded:
        """More than ``max_person_bytes`` fed without a person's start or end: where, as far as is known."""
        limit = self._guard.max_gap
        person = self._open_person
        message = (
            f"more than {limit} bytes of XML without the start or end of a person: a person larger than that "
            "cannot be sent on (its record may be at most 1 MiB once encoded), or the document is not "
            "well-formed XML"
        )
        if person is None:
            line = source_line(self._root) if self._root is not None else self._guard.root_line
            return ExportLimitExceeded("person-xml-bytes", limit, message, line=line)
        children = list(person)
        # brukerNr comes first; it is complete (and was validated) once the next child has started.
        bruker_nr = children[0].text if len(children) > 1 and children[0].tag == BRUKER_NR else None
        return ExportLimitExceeded(
            "person-xml-bytes", limit, message, line=source_line(person), element="person", bruker_nr=bruker_nr
        )

    # -- error reporting

    def _invalid(self, error: etree.XMLSyntaxError | None = None) -> ExportInvalid:
        # Errors from the parser's own log (lxml's exception log also holds earlier parses' errors).
        entries = logged_errors(self._context.error_log)
        schema_entries = [e for e in entries if e.domain_name == "SCHEMASV"]
        located = self._locate([e.message for e in schema_entries if not e.line])
        issues: list[SchemaIssue] = []
        for entry in entries:
            if entry.domain_name != "SCHEMASV":
                # A well-formedness (or namespace, or encoding) error that libxml2 logged without stopping.
                issues.append(syntax_issue(entry.type, entry.line, entry.column))
                continue
            name, element, message = describe(entry.message)
            line = entry.line
            if not line:
                candidates = located.get(entry.message)
                if candidates:
                    line = candidates.pop(0)
                elif self._root is None and (name or entry.type == NO_ROOT_DECLARATION):
                    line = self._guard.root_line  # no element was built: the error is about the root
                elif self._root is not None and (
                    name == local_name(self._root.tag) or entry.type == NO_ROOT_DECLARATION
                ):
                    line = source_line(self._root) or self._guard.root_line
            issues.append(SchemaIssue(line, element, message))
        if error is not None and not issues:
            # A well-formedness error: it reaches only the exception. Its text quotes the document, so only
            # its code and position are used.
            code = getattr(error, "code", 0)  # lxml-stubs do not declare it
            line, column = error.position
            issues.append(syntax_issue(code if isinstance(code, int) else 0, line or error.lineno or 0, column))
        issues.sort(key=lambda issue: (issue.line == 0, issue.line))  # document order, unknown lines last
        return ExportInvalid(issues[: self._max_issues])

    def _locate(self, messages: list[str]) -> dict[str, list[int]]:
        """Line numbers for streaming-validation messages, by validating the tree that is still in memory.

        The tree holds the root, the header and the persons not yet handed out, which includes the element
        of every error in the log (its end event cannot have been consumed: the log is checked before every
        event). The tree may end in half-parsed elements, whose spurious "missing child" errors come last in
        document order and so match only after the real ones.
        """
        if not messages or self._root is None:
            return {}
        wanted = set(messages)
        located: dict[str, list[int]] = {}
        for message, line in tree_errors(self._root):
            if message in wanted and line:
                located.setdefault(message, []).append(line)
        return located


def read_export(
    source: ExportSource, *, max_issues: int = _DEFAULT_MAX_ISSUES, max_person_bytes: int = DEFAULT_MAX_PERSON_BYTES
) -> ExportReader:
    """Open an export for streaming reading; see ``ExportReader``. Raises ``ExportInvalid``."""
    return ExportReader(source, max_issues=max_issues, max_person_bytes=max_person_bytes)


def validate_export(source: ExportSource) -> tuple[ExportHeader, int]:
    """Read a whole export without keeping it: its header and the number of persons. Raises
    ``ExportInvalid``."""
    with read_export(source) as reader:
        count = sum(1 for _ in reader)
        return reader.header, count
