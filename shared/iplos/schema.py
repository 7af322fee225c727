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
    "declared_types",
    "enumerations",
    "export_schema",
    "export_schema_bytes",
    "fragment_errors",
    "q",
    "schema_vocabulary",
    "simple_type_names",
    "tree_error_entries",
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


@functools.cache
def _xsd() -> etree._Element:
    """The XSD parsed once, for the helpers below that only read it (never changed: ``_fragment_schema`` parses its
    own copy to extend)."""
    return etree.fromstring(export_schema_bytes(), _safe_parser())


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
    return [(message, line) for _type, message, _path, line in tree_error_entries(tree)]


# Elements the fragment schema declares globally, so that one of them can be validated on its own, in place.
FRAGMENT_ELEMENTS: tuple[str, ...] = ("meldingshode", "person")
_FRAGMENT_LOCK = threading.Lock()
_fragment: list[etree.XMLSchema] = []


def _fragment_schema() -> etree.XMLSchema:
    """The export schema with ``meldingshode`` and ``person`` declared as global elements too (derived from the one
    XSD at run time, so the two can never disagree). Validating one person in place with it gives exactly the
    errors a whole-document validation gives for that person, with the file's own line numbers, without the
    document ever being held whole (``shared.iplos.reader.check_export``)."""
    if not _fragment:
        with _FRAGMENT_LOCK:
            if not _fragment:
                document = etree.fromstring(export_schema_bytes(), _safe_parser())
                types = {"meldingshode": "meldingshodeType", "person": "personType"}
                for name in FRAGMENT_ELEMENTS:
                    declaration = etree.SubElement(document, f"{{{_XS}}}element")
                    declaration.set("name", name)
                    declaration.set("type", types[name])
                _fragment.append(etree.XMLSchema(document))
    return _fragment[0]


def fragment_errors(element: etree._Element) -> list[tuple[str, str, str]]:
    """(libxml2's error type name, message, path relative to ``element``) of every error of ``element`` (a
    ``meldingshode`` or a ``person``), validated in place. Under a lock, as ``tree_errors``."""
    schema = _fragment_schema()
    with _FRAGMENT_LOCK:
        if schema.validate(element):
            return []
        entries = cast("Iterable[Any]", schema.error_log)
        return [(str(entry.type_name), str(entry.message), str(entry.path or "")) for entry in entries]


def tree_error_entries(tree: etree._Element) -> list[tuple[str, str, str, int]]:
    """(type name, message, path, line) of every error from validating ``tree`` (the root element) as a whole."""
    schema = export_schema()
    with _SCHEMA_LOCK:
        schema.validate(tree)
        entries = cast("Iterable[Any]", schema.error_log)  # lxml-stubs declare no iteration over an error log
        return [(str(e.type_name), str(e.message), str(e.path or ""), int(e.line)) for e in entries]


@functools.cache
def declared_types() -> dict[str, str]:
    """The simple type of every element and attribute (``@name``) the XSD declares with one, by local name (each
    name has one type throughout the schema; ``tests/shared/test_export_check.py`` holds it to that). An element
    of simple content (``fid``) is given its base type."""
    document = _xsd()
    xs = f"{{{_XS}}}"
    simple_bases = {
        str(complex_type.get("name")): str(extension.get("base"))
        for complex_type in document.iter(f"{xs}complexType")
        for extension in complex_type.iter(f"{xs}extension")
    }
    types: dict[str, str] = {}
    for declaration in document.iter(f"{xs}element", f"{xs}attribute"):
        name, type_name = declaration.get("name"), declaration.get("type")
        if not name or not type_name:
            continue
        key = f"@{name}" if declaration.tag == f"{xs}attribute" else name
        types[key] = simple_bases.get(type_name, type_name)
    return types


@functools.cache
def enumerations() -> dict[str, tuple[str, ...]]:
    """The values of every enumerated simple type, in the schema's order, by type name."""
    document = _xsd()
    xs = f"{{{_XS}}}"
    values: dict[str, tuple[str, ...]] = {}
    for simple_type in document.iter(f"{xs}simpleType"):
        listed = tuple(str(e.get("value")) for e in simple_type.iter(f"{xs}enumeration"))
        if listed and simple_type.get("name"):
            values[str(simple_type.get("name"))] = listed
    return values


@functools.cache
def simple_type_names() -> frozenset[str]:
    document = _xsd()
    return frozenset(str(t.get("name")) for t in document.iter(f"{{{_XS}}}simpleType") if t.get("name"))


_NAME_ATTRIBUTES = ("name", "value", "type", "base")


@functools.cache
def schema_vocabulary() -> frozenset[str]:
    """Every name, type, facet and literal that appears in the XSD.

    Error messages from libxml2 quote both schema vocabulary (element and type names, patterns, enumeration
    values) and the offending input value. The reader keeps a quoted string only if it is in this set, so a
    message can name the rule that failed but never echo a value from the export (an identity number, say).
    A value that happens to equal a schema literal ('FNR', '2000') is echoed, which reveals nothing.
    """
    document = _xsd()
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
