"""A streaming, validating, hardened reader for IPLOS exports.

``read_export`` returns an ``ExportReader``: the export's header is available as soon as the reader is
constructed, and iterating it yields one ``PersonRecord`` per ``<person>`` (or, through ``lines()``, the gateway's
fast path, one ``PersonLine`` per person: its identity and its payload record's JSON text, written straight from
the element, byte for byte what ``encode_record(to_payload(record, ...))`` gives). The XML is never held whole:
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
text per libxml2 error code, with its line and column. See ``_redaction``.

Modules, in reading order: ``_reader`` (the reader and its error reporting), ``_source`` (the guarded source and
its prolog scan), ``_parser`` (lxml's parser settings), ``_convert`` (elements to the model), ``_lines`` (elements
to payload record lines), ``_redaction``
(messages without the export's text), ``_errors`` and ``_elements``.
"""

from shared.iplos.reader._check import SHOWN_PROBLEMS, ExportCheck, check_export, plain_problem
from shared.iplos.reader._errors import ExportInvalid, ExportLimitExceeded, SchemaIssue
from shared.iplos.reader._explain import ExportProblem
from shared.iplos.reader._reader import ExportReader, ExportSource, read_export, validate_export
from shared.iplos.reader._source import DEFAULT_MAX_PERSON_BYTES

__all__ = [
    "DEFAULT_MAX_PERSON_BYTES",
    "SHOWN_PROBLEMS",
    "ExportCheck",
    "ExportInvalid",
    "ExportLimitExceeded",
    "ExportProblem",
    "ExportReader",
    "ExportSource",
    "SchemaIssue",
    "check_export",
    "plain_problem",
    "read_export",
    "validate_export",
]
