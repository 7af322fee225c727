"""A streaming, validating, hardened reader for IPLOS exports.

``read_export`` returns an ``ExportReader``: the export's header is available as soon as the reader is
constructed, and iterating it yields one ``PersonRecord`` per ``<person>``. The XML is never held whole:
lxml's ``iterparse`` builds one person at a time and each is removed from the tree once it has been
converted, so memory stays flat whatever the file size (a full tree of a 100 MB export takes about 1.2 GB).

Validation happens while parsing: the XSD is handed to ``iterparse`` as ``schema=``, so libxml2 validates the
SAX stream as it builds the tree. Two libxml2 behaviours shape the code:

* Streaming validation records errors in the parser's error log but only raises at the very end of the
  document. The reader therefore looks at the log before handing out every event, and the source wrapper
  looks again before every chunk it feeds, so an invalid file is refused at the chunk where it goes wrong,
  not after reading the rest of it, and an invalid person is never yielded.
* Errors from streaming validation carry no line number (libxml2 only has one when it validates a tree).
  When the log shows an error, the not-yet-consumed part of the tree (the header, plus the persons of the
  chunk in hand) is validated again as a tree, which yields the same messages with line numbers; they are
  matched to the streaming errors by message. This costs nothing on the valid path.

Format versions: the XSD validates 1.0 and 1.1 documents alike (1.1 only added optional elements and
attributes), and a 1.0 document reads as a 1.1 one without the new parts (``PersonBackground()``, no refusals,
event type ``N``). XSD 1.0 cannot tie content to ``formatVersjon``, so the converter refuses a 1.1 element or
attribute (``schema.NEW_IN_1_1``) in a document that says "1.0", as a schema-tier error with its line.

Memory stays flat on any input, valid or not: libxml2's push parser keeps every byte it cannot parse yet (a
``<`` that never meets its ``>``, an attribute value that never closes) and the tree keeps the person being built,
so the reader refuses to feed more than ``max_person_bytes`` (default 8 MiB) between one person's start or end
and the next (the header counts as one): ``ExportLimitExceeded``, naming the limit, the open person's line and
its ``brukerNr`` where they are known. A person whose encoded record fits the registry's 1 MiB line limit is
about a third of that in XML. The check costs one comparison per chunk read.

A schema error rejects the whole file: the caller must not act on yielded persons before iteration has
finished without an ``ExportInvalid``. (Persons are yielded as they are read so that the gateway can split
and pseudonymise in one pass; it commits only after the last one.)

XML safety (see the design notes): no DOCTYPE is accepted anywhere before the root element. The prolog is
scanned byte by byte before lxml sees it, so a DOCTYPE (internal subset, entity declarations, billion laughs,
XXE) never reaches libxml2 at all; as defence in depth the parser also runs with ``no_network=True,
load_dtd=False, huge_tree=False``, and the parsed document is checked for a DTD. The byte scan is only sound
for ASCII-compatible encodings, so the XML declaration may only name UTF-8, ASCII or the Latin-1 family
(UTF-16 and UTF-7 could hide ``<!DOCTYPE`` from a byte scan).

``resolve_entities`` is lxml's default ``"internal"``, not ``False`` as the design notes ask, deliberately:
with ``schema=`` and ``resolve_entities=False``, lxml 6.1.3 / libxml2 2.14 lose well-formedness errors, so a
truncated export, a stray ``&`` or garbage after the root element parse *without any error*. ``"internal"``
never loads an external entity (lxml >= 6.1), and there is no internal entity it could expand, since no
DOCTYPE gets through. The reader also refuses a document whose root element never closed, whatever lxml says.

Error messages never carry text from the export (the gateway returns them to the municipality): libxml2
quotes offending values (an identity number that fails the pattern, say), so every quoted string that is not
vocabulary of the XSD itself is replaced; an element or attribute name the XSD does not declare is reported
as "[unknown element]" / "[unknown attribute]"; and a well-formedness error, whose libxml2 text quotes the raw
document (the rest of an unterminated CDATA section, the names of a tag mismatch), is described by a fixed
text per libxml2 error code, with its line and column. See "message redaction" below.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, BinaryIO, Protocol, cast

from lxml import etree

from shared.errors import IplosError
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
from shared.iplos.schema import (
    EXPORT_NAMESPACE,
    NEW_IN_1_1,
    export_schema,
    export_schema_bytes,
    q,
    schema_vocabulary,
    tree_errors,
)

__all__ = [
    "DEFAULT_MAX_PERSON_BYTES",
    "ExportInvalid",
    "ExportLimitExceeded",
    "ExportReader",
    "ExportSource",
    "SchemaIssue",
    "read_export",
    "validate_export",
]

ExportSource = str | os.PathLike[str] | BinaryIO

# The prolog scan reads up to this much before lxml sees a byte; a longer prolog is refused.
_MAX_PROLOG = 64 * 1024
_DEFAULT_MAX_ISSUES = 10
# How much XML may be fed between one person's start or end and the next (see the module docstring).
DEFAULT_MAX_PERSON_BYTES = 8 * 1024 * 1024

# Clark names, computed once: tag comparison is the inner loop of the reader.
_ROOT = q("iplosMelding")
_HEADER = q("meldingshode")
_PERSON = q("person")
_GUID = q("meldingGUID")
_EPJ = q("epj")
_NAVN_EPJ = q("navnEPJ")
_LEVERANDOR = q("leverandor")
_VERSJON_EPJ = q("versjonEPJ")
_AAR = q("rapporteringsaar")
_KOMMUNE = q("kommuneNr")
_BYDEL = q("bydelNr")
_KONTAKTPERSON = q("kontaktperson")
_NAVN = q("navn")
_TELEFON = q("telefon")
_EPOST = q("epost")
_BRUKER_NR = q("brukerNr")
_FID = q("fid")
_BAKGRUNN = q("bakgrunn")
_FUNKSJON = q("funksjon")
_DIAGNOSER = q("diagnoser")
_TJENESTER = q("tjenester")
_AVSLAG = q("avslag")
_KLAGER = q("klager")
_TVANG = q("tvang")
_SOKNADSDATO = q("soknadsdato")
_VEDTAKSDATO = q("vedtaksdato")
_STARTDATO = q("startdato")
_SLUTTDATO = q("sluttdato")
_TIMER = q("timerPerUke")
_ORG_NR = q("orgNr")
_BOLIG = q("bolig")
_HUSSTAND = q("husstand")
_PRIVAT_HJELP = q("privatHjelp")
_KOMMUNIKASJON = q("tilrettelagtKommunikasjon")
_DODSDATO = q("dodsdato")
_LEGE = q("vurdertAvLege")
_TANNHELSE = q("vurdertAvTannhelse")
_PLAN = q("individuellPlan")
_KLAGEDATO = q("klagedato")
_UTFALL = q("utfall")

# Closed vocabularies, looked up rather than converted: the values are the model's own (shared) strings.
_FID_TYPES: dict[str | None, FidType] = {t.value: t for t in FidType}
_EVENT_TYPES: dict[str | None, str] = {code: code for code in EVENT_TYPES}
_EVENT_TYPES[None] = "N"  # absent: an original report
_COERCION_BASES: dict[str | None, str] = {code: code for code in COERCION_BASES}
_COMPLAINT_OUTCOMES: dict[str | None, str] = {code: code for code in COMPLAINT_OUTCOMES}
# xs:boolean, after whitespace collapsing.
_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}
_NO_BACKGROUND = PersonBackground()

# Encodings whose bytes for '<', '!', '?', '-' and ASCII letters are the ASCII bytes, so the prolog scan sees
# every markup byte. Compared case-insensitively, without '-'/'_'.
_ASCII_COMPATIBLE = frozenset({"utf8", "usascii", "ascii", "iso88591", "latin1", "iso885915", "windows1252"})
_ENCODING_DECL = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._\-]{1,40})["']""")
_WHITESPACE = b" \t\r\n"


# ---------------------------------------------------------------------------------------------- errors


@dataclass(frozen=True, slots=True)
class SchemaIssue:
    """One reason an export was refused.

    ``line`` is 1-based (0 when libxml2 could not tell); ``element`` is the local name of the element the
    error is about ("" for well-formedness errors, which are about the text, not an element); ``message``
    names the rule that failed, with values from the export removed.
    """

    line: int
    element: str
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "line ?"
        return f"{where}, <{self.element}>: {self.message}" if self.element else f"{where}: {self.message}"


class ExportInvalid(IplosError, ValueError):
    """The export is not a valid IPLOS export (not well-formed, a DOCTYPE, or not valid against the XSD).

    The whole file is refused. ``issues`` holds the first errors in document order.
    """

    def __init__(self, issues: Sequence[SchemaIssue]) -> None:
        self.issues: list[SchemaIssue] = list(issues) or [SchemaIssue(0, "", "the export is invalid")]
        more = f" (and {len(self.issues) - 1} more)" if len(self.issues) > 1 else ""
        super().__init__(f"invalid IPLOS export: {self.issues[0]}{more}")


class ExportLimitExceeded(ExportInvalid):
    """The export is larger than a limit allows somewhere (one person too large, say): refused as a whole.

    ``limit`` names the limit, ``maximum`` is its value; ``line`` (0: unknown) and ``bruker_nr`` (None:
    unknown) point at the person where they are known. ``bruker_nr`` is the export's own text, so it is kept
    out of the message: the caller decides whether to show it (it could be an identity number by mistake).
    """

    def __init__(
        self,
        limit: str,
        maximum: int,
        message: str,
        *,
        line: int = 0,
        element: str = "",
        bruker_nr: str | None = None,
    ) -> None:
        super().__init__([SchemaIssue(line, element, message)])
        self.limit = limit
        self.maximum = maximum
        self.line = line
        self.bruker_nr = bruker_nr


def _refuse(line: int, message: str, element: str = "") -> ExportInvalid:
    return ExportInvalid([SchemaIssue(line, element, message)])


# ------------------------------------------------------------------------------------ message redaction
#
# Nothing a libxml2 message quotes from the document may reach a SchemaIssue: an identity number can sit in
# any value, and also in an element or attribute name, a namespace URI, an entity name, a processing
# instruction's target or a comment. So:
#
# * Well-formedness errors (every domain but schema validation) quote raw document text ("CData section not
#   finished\n<the next 80 bytes>", "Opening and ending tag mismatch: fid line 5 and <name>"): none of their
#   text is used. The message is a fixed text chosen by libxml2's error code, with the line and column.
# * Schema-validation messages have a fixed shape, "Element '<name>'[, attribute '<name>']: <body>". Names
#   that are not element or attribute names of the XSD become placeholders, in the element field and in the
#   body; every quoted string in the body that is not XSD vocabulary becomes "[value]"; a message whose
#   prefix does not have that shape is replaced as a whole.
# * Last, any run of six or more digits left in a message is replaced (belt and braces: no fixed text of
#   the schema or of libxml2 has one).

_UNKNOWN_ELEMENT = "[unknown element]"
_UNKNOWN_ATTRIBUTE = "[unknown attribute]"
_REDACTED = "[value]"
_NOT_WELL_FORMED = "the document is not well-formed XML"
_NOT_SCHEMA_VALID = "the document is not valid against the export schema"

_ELEMENT_PREFIX = re.compile(
    r"^Element '(?:\{(?P<ns>[^{}']*)\})?(?P<local>[^{}'\s]+)'"
    r"(?:, attribute '(?:\{(?P<attr_ns>[^{}']*)\})?(?P<attr>[^{}'\s]+)')?: "
)
# The offending value is the first quoted string of the body, either at its start or after "The value ";
# the fixed text after it always starts with " is " or " has ". The match is greedy, so a value that itself
# contains quotes is still swallowed whole.
_VALUE_SPAN = re.compile(r"^((?:\[facet '[A-Za-z]+'\] )?(?:The value )?)'.*'(?= (?:is|has) )", re.DOTALL)
_QUOTED = re.compile(r"'([^'\n]*)'|\"([^\"\n]*)\"")
_RAW_BYTES = re.compile(r"Bytes: (?:0x[0-9A-Fa-f]{2}\s*)+")
_DIGIT_RUN = re.compile(r"[0-9]{6,}")
# Stand-ins for the names of the prefix while the body's quoted strings are redacted (a libxml2 message is a
# C string: it never holds a NUL).
_ELEMENT_MARK = "\0E\0"
_ATTRIBUTE_MARK = "\0A\0"

# Attributes of the XML and XML Schema instance namespaces, which a document may carry on any element and
# libxml2 names in Clark notation. Shown with their usual prefix.
_XML_NAMESPACE = "http://www.w3.org/XML/1998/namespace"
_XSI_NAMESPACE = "http://www.w3.org/2001/XMLSchema-instance"
_FOREIGN_ATTRIBUTES: dict[str, tuple[str, frozenset[str]]] = {
    _XML_NAMESPACE: ("xml", frozenset({"lang", "space", "base", "id"})),
    _XSI_NAMESPACE: ("xsi", frozenset({"type", "nil", "schemaLocation", "noNamespaceSchemaLocation"})),
}

# libxml2's well-formedness error codes (lxml.etree.ErrorTypes, which lxml-stubs do not declare), each with a
# fixed description. Looked up by name so that a name an older lxml lacks is skipped, not an ImportError.
_ERROR_TYPES: Any = cast(Any, etree).ErrorTypes
_SYNTAX_PROBLEM_NAMES: dict[str, str] = {
    "ERR_DOCUMENT_START": "no root element",
    "ERR_DOCUMENT_EMPTY": "no root element",
    "ERR_DOCUMENT_END": "content after the end of the root element",
    "ERR_EXTRA_CONTENT": "content after the end of the root element",
    "ERR_NOT_WELL_BALANCED": "start and end tags do not balance",
    "ERR_TAG_NAME_MISMATCH": "tag mismatch: an end tag does not match its start tag",
    "ERR_TAG_NOT_FINISHED": "an element is not closed",
    "ERR_LTSLASH_REQUIRED": "an end tag is missing",
    "ERR_GT_REQUIRED": "a tag is not closed with '>'",
    "ERR_LT_REQUIRED": "'<' expected",
    "ERR_NAME_REQUIRED": "a name is missing or invalid after '<' or '&'",
    "ERR_NAME_TOO_LONG": "a name is too long",
    "ERR_SPACE_REQUIRED": "a required space is missing",
    "ERR_ATTRIBUTE_NOT_STARTED": "an attribute value is not quoted",
    "ERR_ATTRIBUTE_NOT_FINISHED": "an attribute value is not closed",
    "ERR_ATTRIBUTE_WITHOUT_VALUE": "an attribute has no value",
    "ERR_ATTRIBUTE_REDEFINED": "an attribute appears twice on one element",
    "ERR_LT_IN_ATTRIBUTE": "'<' in an attribute value",
    "ERR_STRING_NOT_STARTED": "a quoted string is not started",
    "ERR_STRING_NOT_CLOSED": "a quoted string is not closed",
    "ERR_INVALID_CHAR": "a character that XML does not allow, or an invalid character reference",
    "ERR_INVALID_CHARREF": "an invalid character reference",
    "ERR_INVALID_DEC_CHARREF": "an invalid character reference",
    "ERR_INVALID_HEX_CHARREF": "an invalid character reference",
    "ERR_CHARREF_AT_EOF": "an invalid character reference",
    "ERR_CHARREF_IN_PROLOG": "an invalid character reference",
    "ERR_CHARREF_IN_EPILOG": "an invalid character reference",
    "ERR_ENTITYREF_NO_NAME": "an entity reference without a name",
    "ERR_ENTITYREF_SEMICOL_MISSING": "an entity reference without ';'",
    "ERR_ENTITYREF_AT_EOF": "an entity reference at the end of the document",
    "ERR_UNDECLARED_ENTITY": "a reference to an undefined entity",
    "WAR_UNDECLARED_ENTITY": "a reference to an undefined entity",
    "ERR_UNPARSED_ENTITY": "a reference to an undefined entity",
    "ERR_ENTITY_LOOP": "a recursive entity reference",
    "ERR_COMMENT_NOT_FINISHED": "a comment is not closed",
    "ERR_HYPHEN_IN_COMMENT": "'--' inside a comment",
    "ERR_PI_NOT_STARTED": "a processing instruction without a valid target",
    "ERR_PI_NOT_FINISHED": "a processing instruction is not closed",
    "ERR_RESERVED_XML_NAME": "a reserved name, or an XML declaration that is not at the start of the document",
    "ERR_CDATA_NOT_FINISHED": "a CDATA section is not closed",
    "ERR_MISPLACED_CDATA_END": "']]>' in text",
    "ERR_XMLDECL_NOT_STARTED": "a malformed XML declaration",
    "ERR_XMLDECL_NOT_FINISHED": "a malformed XML declaration",
    "ERR_VERSION_MISSING": "the XML declaration has no version",
    "ERR_UNKNOWN_VERSION": "an unsupported XML version",
    "ERR_ENCODING_NAME": "an invalid encoding name",
    "ERR_UNKNOWN_ENCODING": "an unsupported encoding",
    "ERR_UNSUPPORTED_ENCODING": "an unsupported encoding",
    "ERR_INVALID_ENCODING": "bytes that are not valid in the document's encoding",
    "WAR_NS_URI": "an invalid namespace URI",
    "WAR_NS_URI_RELATIVE": "a relative namespace URI",
    "NS_ERR_XML_NAMESPACE": "a misused reserved namespace prefix",
    "NS_ERR_UNDEFINED_NAMESPACE": "an undeclared namespace prefix",
    "NS_ERR_QNAME": "a malformed qualified name",
    "NS_ERR_ATTRIBUTE_REDEFINED": "an attribute appears twice on one element",
    "NS_ERR_EMPTY": "an empty namespace name",
    "NS_ERR_COLON": "a malformed qualified name",
}
# "No matching global declaration available for the validation root": always about the root element.
_NO_ROOT_DECLARATION: int = getattr(_ERROR_TYPES, "SCHEMAV_CVC_ELT_1", -1)
_SYNTAX_PROBLEMS: dict[int, str] = {
    code: text
    for name, text in _SYNTAX_PROBLEM_NAMES.items()
    if isinstance(code := getattr(_ERROR_TYPES, name, None), int)
}


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1]


@functools.cache
def _schema_names() -> tuple[frozenset[str], frozenset[str]]:
    """The element names and the attribute names the XSD declares."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    schema = etree.fromstring(export_schema_bytes(), parser)
    xs = "{http://www.w3.org/2001/XMLSchema}"
    elements = frozenset(str(e.get("name")) for e in schema.iter(f"{xs}element") if e.get("name"))
    attributes = frozenset(str(a.get("name")) for a in schema.iter(f"{xs}attribute") if a.get("name"))
    return elements, attributes


def _element_name(local: str) -> str:
    return local if local in _schema_names()[0] else _UNKNOWN_ELEMENT


def _attribute_name(namespace: str | None, local: str) -> str:
    if namespace is None:
        return local if local in _schema_names()[1] else _UNKNOWN_ATTRIBUTE
    prefix, known = _FOREIGN_ATTRIBUTES.get(namespace, ("", frozenset()))
    return f"{prefix}:{local}" if local in known else _UNKNOWN_ATTRIBUTE


def _scrub(message: str) -> str:
    return _DIGIT_RUN.sub(_REDACTED, message)


def _redact(body: str) -> str:
    """Replace every quoted string that is not XSD vocabulary, and any echoed raw bytes."""
    vocabulary = schema_vocabulary()
    body = _VALUE_SPAN.sub(lambda m: m.group(1) + _REDACTED, body, count=1)
    body = _RAW_BYTES.sub("Bytes: " + _REDACTED, body)

    def keep_vocabulary(match: re.Match[str]) -> str:
        quoted = match.group(1) if match.group(1) is not None else match.group(2)
        return match.group(0) if quoted in vocabulary else _REDACTED

    body = _QUOTED.sub(keep_vocabulary, body)
    if body.count("'") % 2:
        # An unbalanced quote means a value with quotes in it escaped the patterns above: say less.
        body = re.sub(r"'[^']*'?", _REDACTED, body)
    return body.replace(f"{{{EXPORT_NAMESPACE}}}", "").strip()


def _describe(message: str) -> tuple[str, str, str]:
    """(the element's local name as libxml2 gave it, the element as reported, the redacted message) for
    one schema-validation message. The first is for matching elements of the tree only, never reported."""
    message = message.strip()
    match = _ELEMENT_PREFIX.match(message)
    if match is None:
        return "", "", _NOT_SCHEMA_VALID
    local = match.group("local")
    element = _element_name(local)
    body = message[match.end() :]
    # The prefix's names, quoted again in the body ("The attribute 'x' is not allowed."), become marks that
    # survive the redaction of quoted strings, then the reported names.
    namespace = match.group("ns")
    body = body.replace(f"'{local}'" if namespace is None else f"'{{{namespace}}}{local}'", _ELEMENT_MARK)
    attribute = ""
    if match.group("attr") is not None:
        attr_ns = match.group("attr_ns")
        raw = match.group("attr") if attr_ns is None else f"{{{attr_ns}}}{match.group('attr')}"
        body = body.replace(f"'{raw}'", _ATTRIBUTE_MARK)
        attribute = _attribute_name(attr_ns, match.group("attr"))
    body = _redact(body).replace(_ELEMENT_MARK, f"'{element}'").replace(_ATTRIBUTE_MARK, f"'{attribute}'")
    if attribute:
        body = f"attribute '{attribute}': {body}"
    return local, element, _scrub(body)


def _syntax_issue(code: int, line: int, column: int) -> SchemaIssue:
    """A well-formedness error, from libxml2's error code and position only (its text quotes the document)."""
    problem = _SYNTAX_PROBLEMS.get(code)
    message = f"{_NOT_WELL_FORMED} ({problem})" if problem else _NOT_WELL_FORMED
    if column > 0:
        message += f" at column {column}"
    return SchemaIssue(max(line, 0), "", message)


# ----------------------------------------------------------------------------------- lxml typing shims


class _LogEntry(Protocol):
    line: int
    column: int
    level: int
    domain_name: str
    type: int
    message: str


class _ErrorLog(Protocol):
    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[_LogEntry]: ...

    def filter_from_errors(self) -> _ErrorLog: ...


class _IterParse(Protocol):
    """The part of ``lxml.etree.iterparse`` used here (lxml-stubs does not describe iterparse)."""

    @property
    def error_log(self) -> _ErrorLog: ...

    def __next__(self) -> tuple[str, etree._Element]: ...

    def __iter__(self) -> Iterator[tuple[str, etree._Element]]: ...


def _errors(log: _ErrorLog) -> list[_LogEntry]:
    # Warnings (e.g. about namespace URIs) are not reasons to refuse a file; errors and fatal errors are.
    return list(log.filter_from_errors()) if len(log) else []


# --------------------------------------------------------------------------------------- source guard


class _StopFeeding(Exception):
    """Raised from the source's ``read`` to stop lxml feeding more data once an error is known."""


class _TooMuchWithoutAPerson(Exception):
    """Raised from the source's ``read`` once ``max_gap`` bytes went in without a person's start or end."""


_READ_SIZE = 64 * 1024


class _GuardedSource:
    """The file-like object lxml reads from.

    It scans the prolog before lxml sees a byte (refusing a DOCTYPE), hands the scanned bytes back to lxml
    unchanged, and refuses to feed another chunk once the parser's error log holds an error, so a broken
    file is not read to its end (nor a tree of it built: an invalid file may have no elements for the reader
    to clear). It also refuses to feed more than ``max_gap`` bytes past ``mark`` (which the reader moves on
    at every event), so what libxml2 buffers and what the tree holds stay bounded whatever the input.
    """

    def __init__(self, raw: BinaryIO, max_gap: int = DEFAULT_MAX_PERSON_BYTES) -> None:
        self._raw = raw
        self._pending = b""
        self.root_line = 0
        self.stop_if: Callable[[], bool] | None = None
        self.max_gap = max_gap
        self.fed = 0
        self.mark = 0

    def scan_prolog(self) -> None:
        buffer = b""
        while len(buffer) < _MAX_PROLOG:
            data = self._raw.read(_MAX_PROLOG - len(buffer))
            if not data:
                break
            if not isinstance(data, bytes):
                raise TypeError("the export source must be opened in binary mode")
            buffer += data
        self._pending = buffer

        if buffer[:2] in (b"\xfe\xff", b"\xff\xfe") or b"\x00" in buffer[:4]:
            raise _refuse(1, "the export must be UTF-8 encoded (UTF-16 and UTF-32 are not accepted)")
        position = 3 if buffer.startswith(b"\xef\xbb\xbf") else 0
        while True:
            while position < len(buffer) and buffer[position] in _WHITESPACE:
                position += 1
            if buffer.startswith(b"<?", position):
                end = buffer.find(b"?>", position + 2)
                if end < 0:
                    position = len(buffer)  # unterminated: too long (below) or truncated (lxml says so)
                    break
                declaration = buffer[position : end + 2]
                if declaration.startswith(b"<?xml") and declaration[5:6] in (b" ", b"\t", b"\r", b"\n"):
                    self._check_encoding(declaration)
                position = end + 2
            elif buffer.startswith(b"<!--", position):
                end = buffer.find(b"-->", position + 4)
                if end < 0:
                    position = len(buffer)
                    break
                position = end + 3
            elif buffer.startswith(b"<!", position):
                # <!DOCTYPE (or any other declaration: none is legal before the root but the DOCTYPE).
                raise _refuse(buffer.count(b"\n", 0, position) + 1, "a DOCTYPE declaration is not allowed")
            else:
                break
        if position >= len(buffer) and len(buffer) >= _MAX_PROLOG:
            raise _refuse(buffer.count(b"\n") + 1, "the prolog before the root element is too long")
        if position < len(buffer) and buffer[position] != ord("<"):
            # Not markup in an ASCII-compatible encoding (EBCDIC, say, which the scan could not read).
            raise _refuse(buffer.count(b"\n", 0, position) + 1, "the document does not start with XML markup")
        self.root_line = buffer.count(b"\n", 0, position) + 1

    @staticmethod
    def _check_encoding(declaration: bytes) -> None:
        match = _ENCODING_DECL.search(declaration)
        if match is None:
            return  # no encoding declared: UTF-8
        name = match.group(1).decode("ascii").lower().replace("-", "").replace("_", "")
        if name not in _ASCII_COMPATIBLE:
            raise _refuse(1, "the export must be UTF-8 encoded (the declared encoding is not accepted)")

    def read(self, size: int = -1) -> bytes:
        if self.stop_if is not None and self.stop_if():
            raise _StopFeeding
        if self.fed - self.mark > self.max_gap:
            raise _TooMuchWithoutAPerson
        if size < 0:
            size = _READ_SIZE  # never the whole rest of the file at once
        if self._pending:
            data, self._pending = self._pending[:size], self._pending[size:]
        else:
            data = self._raw.read(size)
        self.fed += len(data)
        return data


# ----------------------------------------------------------------------------------------- conversion


def _line(element: etree._Element) -> int:
    line: object = element.sourceline  # lxml-stubs leave it untyped
    return line if isinstance(line, int) else 0


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


class _NewerThanDeclared(Exception):
    """An element (or attribute) of format 1.1 in a document that says formatVersjon="1.0"."""

    def __init__(self, element: etree._Element, name: str) -> None:
        super().__init__(name)
        self.element = element
        self.name = name


def _too_new(element: etree._Element, name: str) -> ExportInvalid:
    return _refuse(
        _line(element),
        f"'{name}' is new in format version 1.1, but the document says formatVersjon 1.0",
        _local(element.tag) if isinstance(element.tag, str) else "",
    )


def _header(element: etree._Element, format_version: str) -> ExportHeader:
    fields: dict[str, str] = {}
    contact: Contact | None = None
    for child in element:
        tag = child.tag
        if tag == _EPJ:
            for part in child:
                fields[part.tag] = _text(part)
        elif tag == _KONTAKTPERSON:
            parts = {part.tag: _text(part) for part in child}
            contact = Contact(navn=parts[_NAVN], telefon=parts.get(_TELEFON), epost=parts.get(_EPOST))
        else:
            fields[child.tag] = _text(child)
        if format_version == "1.0" and tag in (_BYDEL, _KONTAKTPERSON):
            raise _NewerThanDeclared(child, _local(tag))
    return ExportHeader(
        melding_guid=fields[_GUID],
        format_version=format_version,
        navn_epj=fields[_NAVN_EPJ],
        leverandor=fields[_LEVERANDOR],
        versjon_epj=fields[_VERSJON_EPJ],
        rapporteringsaar=int(fields[_AAR]),
        kommune_nr=fields[_KOMMUNE],
        bydel_nr=fields.get(_BYDEL),
        kontaktperson=contact,
    )


class _Converter:
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
            if tag == _STARTDATO:
                text = child.text
                start = dates.get(text) or date(text)
            elif tag == _VEDTAKSDATO:
                text = child.text
                decision = dates.get(text) or date(text)
            elif tag == _SLUTTDATO:
                text = child.text
                end = dates.get(text) or date(text)
            elif tag == _TIMER:
                hours = float(_text(child))
            elif tag == _ORG_NR:
                org_nr = _text(child)
            elif tag == _SOKNADSDATO:
                if self._v10:
                    raise _NewerThanDeclared(child, "soknadsdato")
                text = child.text
                application = dates.get(text) or date(text)
        if start is None:
            raise ValueError("missing start date")
        get = element.get
        tjeneste_id, tjeneste_type, event = get("tjenesteID"), get("tjenesteType"), get("hendelse")
        if tjeneste_id is None or tjeneste_type is None:
            raise ValueError("missing attribute")
        if event is not None and self._v10:
            raise _NewerThanDeclared(element, "hendelse")
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
            if tag == _BOLIG:
                housing = int(cast(str, text))
            elif tag == _HUSSTAND:
                household = int(cast(str, text))
            elif tag == _PRIVAT_HJELP:
                unpaid_help = _boolean(text)
            elif tag == _KOMMUNIKASJON:
                communication = _boolean(text)
            elif tag == _DODSDATO:
                death = date(text)
            elif tag == _LEGE:
                doctor = date(text)
            elif tag == _TANNHELSE:
                dentist = date(text)
            elif tag == _PLAN:
                plan = _boolean(text)
        return PersonBackground(housing, household, unpaid_help, communication, death, doctor, dentist, plan)

    def refusal(self, element: etree._Element) -> Refusal:
        application: dt.date | None = None
        decision: dt.date | None = None
        for child in element:
            if child.tag == _VEDTAKSDATO:
                decision = self.date(child.text)
            elif child.tag == _SOKNADSDATO:
                application = self.date(child.text)
        if decision is None:
            raise ValueError("missing decision date")
        return Refusal(int(_attr(element, "tjenesteType")), application, decision)

    def complaint(self, element: etree._Element) -> Complaint:
        complaint_date: dt.date | None = None
        outcome: str | None = None
        for child in element:
            if child.tag == _KLAGEDATO:
                complaint_date = self.date(child.text)
            elif child.tag == _UTFALL:
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
            if tag == _VEDTAKSDATO:
                decision = self.date(child.text)
            elif tag == _STARTDATO:
                start = self.date(child.text)
            elif tag == _SLUTTDATO:
                end = self.date(child.text)
        if decision is None or start is None:
            raise ValueError("missing date")
        basis = _COERCION_BASES[element.get("hjemmel")]
        return Coercion(_attr(element, "vedtakID"), basis, decision, start, end)

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
            if tag == _FUNKSJON:
                cached, new = self._scores.get, self.new_score
                scores = tuple([cached(tuple(v.values())) or new(v) for v in child])
            elif tag == _TJENESTER:
                service = self.service
                services = tuple([service(c) for c in child])
            elif tag == _BRUKER_NR:
                bruker_nr = _text(child)
            elif tag == _FID:
                fid = _text(child)
                fid_type = _FID_TYPES[child.get("type")]
            elif tag == _DIAGNOSER:
                diagnosis = self.diagnosis
                diagnoses = tuple([diagnosis(c) for c in child])
            else:
                if self._v10 and isinstance(tag, str) and _local(tag) in NEW_IN_1_1:
                    raise _NewerThanDeclared(child, _local(tag))
                if tag == _BAKGRUNN:
                    background = self.background(child)
                elif tag == _AVSLAG:
                    refusals = tuple(map(self.refusal, child))
                elif tag == _KLAGER:
                    complaints = tuple(map(self.complaint, child))
                elif tag == _TVANG:
                    coercion = tuple(map(self.coercion, child))
        return PersonRecord(
            bruker_nr, fid, fid_type, scores, diagnoses, services, background, refusals, complaints, coercion
        )


# ---------------------------------------------------------------------------------------------- reader


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
            self._guard = _GuardedSource(self._raw, max(1, max_person_bytes))
            self._guard.scan_prolog()
            self._context = _iterparse(self._guard)
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
        if self._started:
            raise RuntimeError("an ExportReader can be iterated only once")
        self._started = True
        return self._persons()

    def _persons(self) -> Iterator[PersonRecord]:
        convert = _Converter(self.header.format_version).person
        for _event, element in self._events:
            if element.tag != _PERSON:
                continue
            try:
                record = convert(element)
            except _NewerThanDeclared as error:
                raise _too_new(error.element, error.name) from None
            except (ValueError, KeyError, TypeError):
                raise _refuse(_line(element), "a value could not be converted", "person") from None
            self.line = _line(element)
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
            _check_no_dtd(element)
            if element.tag != _HEADER:
                break  # a person or the root's end before the header: the schema log says why
            root = element.getparent()
            format_version = root.get("formatVersjon", "") if root is not None else ""
            try:
                # The header stays in the tree (it is small), so that error localisation can validate the
                # tree later without a spurious "missing meldingshode".
                return _header(element, format_version)
            except _NewerThanDeclared as error:
                raise _too_new(error.element, error.name) from None
            except (ValueError, KeyError):
                raise _refuse(_line(element), "a value could not be converted", "meldingshode") from None
        raise self._invalid() if self._has_errors() else _refuse(0, "the export has no meldingshode")

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
                    raise _refuse(0, "the document ends before its root element is closed") from None
                return
            except _StopFeeding:
                raise self._invalid() from None
            except _TooMuchWithoutAPerson:
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
                if element.tag == _PERSON:
                    self._open_person = element
                continue
            if element.tag == _PERSON:
                self._open_person = None
            elif element.tag == _ROOT:
                self._root_closed = True
            yield event, element

    def _has_errors(self) -> bool:
        return bool(_errors(self._context.error_log))

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
            line = _line(self._root) if self._root is not None else self._guard.root_line
            return ExportLimitExceeded("person-xml-bytes", limit, message, line=line)
        children = list(person)
        # brukerNr comes first; it is complete (and was validated) once the next child has started.
        bruker_nr = children[0].text if len(children) > 1 and children[0].tag == _BRUKER_NR else None
        return ExportLimitExceeded(
            "person-xml-bytes", limit, message, line=_line(person), element="person", bruker_nr=bruker_nr
        )

    # -- error reporting

    def _invalid(self, error: etree.XMLSyntaxError | None = None) -> ExportInvalid:
        # Errors from the parser's own log (lxml's exception log also holds earlier parses' errors).
        entries = _errors(self._context.error_log)
        schema_entries = [e for e in entries if e.domain_name == "SCHEMASV"]
        located = self._locate([e.message for e in schema_entries if not e.line])
        issues: list[SchemaIssue] = []
        for entry in entries:
            if entry.domain_name != "SCHEMASV":
                # A well-formedness (or namespace, or encoding) error that libxml2 logged without stopping.
                issues.append(_syntax_issue(entry.type, entry.line, entry.column))
                continue
            name, element, message = _describe(entry.message)
            line = entry.line
            if not line:
                candidates = located.get(entry.message)
                if candidates:
                    line = candidates.pop(0)
                elif self._root is None and (name or entry.type == _NO_ROOT_DECLARATION):
                    line = self._guard.root_line  # no element was built: the error is about the root
                elif self._root is not None and (name == _local(self._root.tag) or entry.type == _NO_ROOT_DECLARATION):
                    line = _line(self._root) or self._guard.root_line
            issues.append(SchemaIssue(line, element, message))
        if error is not None and not issues:
            # A well-formedness error: it reaches only the exception. Its text quotes the document, so only
            # its code and position are used.
            code = getattr(error, "code", 0)  # lxml-stubs do not declare it
            line, column = error.position
            issues.append(_syntax_issue(code if isinstance(code, int) else 0, line or error.lineno or 0, column))
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


def _iterparse(source: _GuardedSource) -> _IterParse:
    # lxml-stubs has no declaration of iterparse; the Protocol above types the part used here.
    iterparse: Callable[..., _IterParse] = etree.iterparse
    return iterparse(
        source,
        # Events only for these tags (the filter runs in C): the header, each person, and the root (its end:
        # the document was complete). Everything else is built silently, then cleared with its person. The
        # start events only mark progress (the person limit) and are not handed on.
        events=("start", "end"),
        tag=(_ROOT, _HEADER, _PERSON),
        schema=export_schema(),
        # Not False, although the design notes ask for it: with a schema, lxml 6.1 then drops
        # well-formedness errors, and a truncated document parses as valid. "internal" (lxml's default)
        # never loads external entities, and no internal entity can exist: the prolog scan refuses any
        # DOCTYPE before libxml2 sees a byte, and _check_no_dtd checks again.
        resolve_entities="internal",
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        attribute_defaults=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )


def _check_no_dtd(element: etree._Element) -> None:
    # Defence in depth: the prolog scan has already refused any DOCTYPE before lxml saw a byte.
    tree = element.getroottree()
    if tree.docinfo.internalDTD is not None or tree.docinfo.externalDTD is not None:
        raise _refuse(_line(tree.getroot()), "a DOCTYPE declaration is not allowed")


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
