"""Messages without the export's text: libxml2's errors, rewritten so that nothing they quote from the document
reaches a ``SchemaIssue`` (the gateway returns them to the municipality).

An identity number can sit in any value, and also in an element or attribute name, a namespace URI, an entity
name, a processing instruction's target or a comment. So:

* Well-formedness errors (every domain but schema validation) quote raw document text ("CData section not
  finished\n<the next 80 bytes>", "Opening and ending tag mismatch: fid line 5 and <name>"): none of their
  text is used. The message is a fixed text chosen by libxml2's error code, with the line and column
  (:func:`syntax_issue`).
* Schema-validation messages have a fixed shape, "Element '<name>'[, attribute '<name>']: <body>". Names
  that are not element or attribute names of the XSD become placeholders, in the element field and in the
  body; every quoted string in the body that is not XSD vocabulary becomes "[value]"; a message whose
  prefix does not have that shape is replaced as a whole (:func:`describe`).
* Last, any run of six or more digits left in a message is replaced (belt and braces: no fixed text of
  the schema or of libxml2 has one).
"""

from __future__ import annotations

import functools
import re
from typing import Any, cast

from lxml import etree

from shared.iplos.reader._errors import SchemaIssue
from shared.iplos.schema import EXPORT_NAMESPACE, export_schema_bytes, schema_vocabulary

UNKNOWN_ELEMENT = "[unknown element]"
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
_MISSING_ATTRIBUTE = re.compile(r"^The attribute '([^'{}\s]+)' is required but missing")
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
NO_ROOT_DECLARATION: int = getattr(_ERROR_TYPES, "SCHEMAV_CVC_ELT_1", -1)
_SYNTAX_PROBLEMS: dict[int, str] = {
    code: text
    for name, text in _SYNTAX_PROBLEM_NAMES.items()
    if isinstance(code := getattr(_ERROR_TYPES, name, None), int)
}


@functools.cache
def _schema_names() -> tuple[frozenset[str], frozenset[str]]:
    """The element names and the attribute names the XSD declares."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    schema = etree.fromstring(export_schema_bytes(), parser)
    xs = "{http://www.w3.org/2001/XMLSchema}"
    elements = frozenset(str(e.get("name")) for e in schema.iter(f"{xs}element") if e.get("name"))
    attributes = frozenset(str(a.get("name")) for a in schema.iter(f"{xs}attribute") if a.get("name"))
    return elements, attributes


def schema_name(local: str) -> str:
    """``local`` if the XSD declares an element of that name, else a placeholder (the name could be anything)."""
    return local if local in _schema_names()[0] else UNKNOWN_ELEMENT


def named_attribute(message: str) -> str:
    """The attribute a schema-validation message is about, as it may be reported ("" when none): named in its
    prefix ("Element 'x', attribute 'y': ...") or, for a missing one, in its body ("The attribute 'y' is
    required")."""
    match = _ELEMENT_PREFIX.match(message.strip())
    if match is None:
        return ""
    if match.group("attr") is not None:
        return _attribute_name(match.group("attr_ns"), match.group("attr"))
    missing = _MISSING_ATTRIBUTE.search(message[match.end() :])
    return _attribute_name(None, missing.group(1)) if missing else ""


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


def describe(message: str) -> tuple[str, str, str]:
    """(the element's local name as libxml2 gave it, the element as reported, the redacted message) for
    one schema-validation message. The first is for matching elements of the tree only, never reported."""
    message = message.strip()
    match = _ELEMENT_PREFIX.match(message)
    if match is None:
        return "", "", _NOT_SCHEMA_VALID
    local = match.group("local")
    element = schema_name(local)
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


def syntax_problem(code: int) -> str | None:
    """The fixed description of a well-formedness error code, or None for a code not described here."""
    return _SYNTAX_PROBLEMS.get(code)


def syntax_issue(code: int, line: int, column: int) -> SchemaIssue:
    """A well-formedness error, from libxml2's error code and position only (its text quotes the document)."""
    problem = _SYNTAX_PROBLEMS.get(code)
    message = f"{_NOT_WELL_FORMED} ({problem})" if problem else _NOT_WELL_FORMED
    if column > 0:
        message += f" at column {column}"
    return SchemaIssue(max(line, 0), "", message)
