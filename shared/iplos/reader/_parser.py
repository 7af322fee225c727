"""lxml's streaming parser as the reader runs it: the typing lxml-stubs lack, the parser's settings (schema
validation while parsing, no entity or network access), and the check that no DTD got through."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

from lxml import etree

from shared.iplos.reader._elements import HEADER, PERSON, ROOT, source_line
from shared.iplos.reader._errors import refuse
from shared.iplos.reader._source import GuardedSource
from shared.iplos.schema import export_schema


class LogEntry(Protocol):
    line: int
    column: int
    level: int
    domain_name: str
    type: int
    message: str


class ErrorLog(Protocol):
    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[LogEntry]: ...

    def filter_from_errors(self) -> ErrorLog: ...


class IterParse(Protocol):
    """The part of ``lxml.etree.iterparse`` used here (lxml-stubs does not describe iterparse)."""

    @property
    def error_log(self) -> ErrorLog: ...

    def __next__(self) -> tuple[str, etree._Element]: ...

    def __iter__(self) -> Iterator[tuple[str, etree._Element]]: ...


def logged_errors(log: ErrorLog) -> list[LogEntry]:
    # Warnings (e.g. about namespace URIs) are not reasons to refuse a file; errors and fatal errors are.
    return list(log.filter_from_errors()) if len(log) else []


def stream_parser(source: GuardedSource, *, validate: bool = True) -> IterParse:
    """lxml's streaming parser over ``source``; with ``validate``, validating against the export schema as it
    parses (the reader), without it parsing only (``check_export`` validates each person in place instead)."""
    # lxml-stubs has no declaration of iterparse; the Protocol above types the part used here.
    iterparse: Callable[..., IterParse] = etree.iterparse
    return iterparse(
        source,
        # Events only for these tags (the filter runs in C): the header, each person, and the root (its end:
        # the document was complete). Everything else is built silently, then cleared with its person. The
        # start events only mark progress (the person limit) and are not handed on.
        events=("start", "end"),
        tag=(ROOT, HEADER, PERSON),
        schema=export_schema() if validate else None,
        # Not False, although the design notes ask for it: with a schema, lxml 6.1 then drops
        # well-formedness errors, and a truncated document parses as valid. "internal" (lxml's default)
        # never loads external entities, and no internal entity can exist: the prolog scan refuses any
        # DOCTYPE before libxml2 sees a byte, and check_no_dtd checks again.
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


def check_no_dtd(element: etree._Element) -> None:
    # Defence in depth: the prolog scan has already refused any DOCTYPE before lxml saw a byte.
    tree = element.getroottree()
    if tree.docinfo.internalDTD is not None or tree.docinfo.externalDTD is not None:
        raise refuse(source_line(tree.getroot()), "a DOCTYPE declaration is not allowed")
