"""The export XSD (``iplos-export-1.xsd``, package data) and the XML names it defines.

One XSD per major version (the namespace ``urn:iplos-chain:export:1``); it validates every minor version of that
major version, since a minor version only adds optional elements and attributes. ``FORMAT_VERSIONS`` lists the
minor versions the schema accepts (the root's ``formatVersjon``), oldest first; the writer produces the newest.

The schema is loaded once per process through ``importlib.resources``, so it works from a wheel or a zip as
well as from the source tree, and it is parsed with a hardened parser although it is our own file: the same
rules apply to every XML this project reads.
"""

from __future__ import annotations

import functools
import importlib.resources
import re
import threading
from collections.abc import Iterable
from typing import Any, cast

from lxml import etree

__all__ = [
    "EXPORT_NAMESPACE",
    "EXPORT_SCHEMA_RESOURCE",
    "FORMAT_VERSIONS",
    "NEW_IN_1_1",
    "export_schema",
    "export_schema_bytes",
    "q",
    "schema_vocabulary",
]

EXPORT_NAMESPACE = "urn:iplos-chain:export:1"
EXPORT_SCHEMA_RESOURCE = "iplos-export-1.xsd"
# The values of formatVersjon that the schema accepts, oldest first. The newest is model.FORMAT_VERSION.
FORMAT_VERSIONS: tuple[str, ...] = ("1.0", "1.1")
# Elements and attributes (``@name``) that 1.1 added: a document that says formatVersjon="1.0" must not use them.
NEW_IN_1_1: frozenset[str] = frozenset(
    {"bydelNr", "kontaktperson", "bakgrunn", "avslag", "klager", "tvang", "soknadsdato", "@hendelse"}
)

_XS = "http://www.w3.org/2001/XMLSchema"


def q(local: str) -> str:
    """The Clark-notation name (``{namespace}local``) of an export element."""
    return f"{{{EXPORT_NAMESPACE}}}{local}"


def export_schema_bytes() -> bytes:
    """The XSD's bytes, for publishing it (e.g. served to municipalities) or for tools."""
    return importlib.resources.files(__package__ or "shared.iplos").joinpath(EXPORT_SCHEMA_RESOURCE).read_bytes()


def _safe_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_comments=True
    )


# libxml2 does not compile schemas concurrently: two first uploads at once, each compiling, failed with
# XMLSchemaParseError (a 500). One compilation, under a lock; and the schema's one error log is read under it too.
_SCHEMA_LOCK = threading.Lock()
_compiled: list[etree.XMLSchema] = []


def export_schema() -> etree.XMLSchema:
    """The compiled export schema. Compiled once (under a lock): compiling costs milliseconds, and lxml's
    ``XMLSchema`` is read-only after compilation, so one instance can serve every parse (each parse gets its own
    validation context)."""
    if not _compiled:
        with _SCHEMA_LOCK:
            if not _compiled:
                document = etree.fromstring(export_schema_bytes(), _safe_parser())
                _compiled.append(etree.XMLSchema(document))
    return _compiled[0]


def tree_errors(tree: etree._Element) -> list[tuple[str, int]]:
    """(message, line) of every error from validating ``tree`` as a whole. ``XMLSchema.validate`` keeps its
    errors on the shared schema object, so validating and reading them happen under the lock: two threads never
    read each other's errors."""
    schema = export_schema()
    with _SCHEMA_LOCK:
        schema.validate(tree)
        entries = cast("Iterable[Any]", schema.error_log)  # lxml-stubs declare no iteration over an error log
        return [(str(entry.message), int(entry.line)) for entry in entries]


_NAME_ATTRIBUTES = ("name", "value", "type", "base")


@functools.cache
def schema_vocabulary() -> frozenset[str]:
    """Every name, type, facet and literal that appears in the XSD.

    Error messages from libxml2 quote both schema vocabulary (element and type names, patterns, enumeration
    values) and the offending input value. The reader keeps a quoted string only if it is in this set, so a
    message can name the rule that failed but never echo a value from the export (an identity number, say).
    A value that happens to equal a schema literal ('FNR', '2000') is echoed, which reveals nothing.
    """
    document = etree.fromstring(export_schema_bytes(), _safe_parser())
    words: set[str] = set()
    for element in document.iter(etree.Element):
        tag = etree.QName(element).localname
        words.add(tag)  # facet names: 'pattern', 'enumeration', 'minInclusive' ...
        for attribute in _NAME_ATTRIBUTES:
            value = element.get(attribute)
            if value is None:
                continue
            words.add(value)
            if attribute in ("name", "type", "base"):
                local = value.split(":", 1)[-1]
                words.add(local)
                words.add(q(local))
                words.add(f"{{{_XS}}}{local}")
    # Fixed words of libxml2's own messages that it quotes ("the content type is 'element-only'").
    words.update(("element-only", "empty", "simple", "mixed", "<", ">", ";"))
    # libxml2 spells built-in types as 'xs:int' or '{http://www.w3.org/2001/XMLSchema}int'.
    words.update(f"xs:{w}" for w in list(words) if re.fullmatch(r"[A-Za-z]+", w))
    return frozenset(words)
