"""One schema error as a municipal IT person can act on it: where (line, element path, the person by brukerNr),
what rule (a stable code), and a sentence in English and in Norwegian, with libxml2's own (redacted) text kept
beside it for the technically minded.

No value from the export is ever put in a sentence: a value can be an identity number in the wrong field. The
value is looked at here only to tell two faults apart ("not written YYYY-MM-DD" against "no such day"); the
brukerNr is named only where ``reportable_bruker_nr`` allows it (the export's own client number, never anything
shaped like an identity number).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from lxml import etree

from shared.iplos.bruker_nr import reportable_bruker_nr
from shared.iplos.reader._elements import BRUKER_NR, local_name, source_line
from shared.iplos.reader._redaction import UNKNOWN_ELEMENT, describe, named_attribute, schema_name
from shared.iplos.reader._type_help import type_help
from shared.iplos.schema import declared_types


@dataclass(frozen=True, slots=True)
class ExportProblem:
    """One reason an export is refused, explained. ``person`` is the person's position in the file (1 for the
    first ``<person>``; 0 outside the persons), ``bruker_nr`` its brukerNr where it may be shown."""

    line: int
    path: str
    element: str
    attribute: str
    person: int
    bruker_nr: str | None
    rule: str
    message: str
    message_nb: str
    technical: str

    def as_json(self) -> dict[str, Any]:
        """The form the gateway answers and ``iplos validate --json`` prints (the same keys, the same order)."""
        return {
            "line": self.line,
            "path": self.path,
            "element": self.element,
            "attribute": self.attribute or None,
            "person": self.person or None,
            "brukerNr": self.bruker_nr,
            "rule": self.rule,
            "message": self.message,
            "message_nb": self.message_nb,
            "technical": self.technical,
        }


@dataclass(frozen=True, slots=True)
class Place:
    """Where in the file an error is: the element it is about, the person it belongs to (0: none, the header)."""

    line: int
    path: str
    element: str
    attribute: str
    person: int
    bruker_nr: str | None
    in_header: bool

    def problem(self, rule: str, message: str, message_nb: str, technical: str) -> ExportProblem:
        """The problem at this place: its rule and its two sentences (first letters made capitals)."""
        return ExportProblem(
            line=self.line,
            path=self.path,
            element=self.element,
            attribute=self.attribute,
            person=self.person,
            bruker_nr=self.bruker_nr,
            rule=rule,
            message=capital(message),
            message_nb=capital(message_nb),
            technical=technical,
        )

    def subject(self) -> tuple[str, str]:
        """("the attribute skaar on <vurdering> of person brukerNr 17", the same in Norwegian)."""
        if self.element == UNKNOWN_ELEMENT:
            element, element_nb = "an unknown element", "et ukjent element"
        elif self.element:
            element = element_nb = f"<{self.element}>"
        else:
            element, element_nb = "the document", "dokumentet"
        if self.attribute:
            what = f"the attribute {self.attribute} on {element}"
            what_nb = f"attributtet {self.attribute} på {element_nb}"
        else:
            what, what_nb = element, element_nb
        if self.bruker_nr is not None:
            who, who_nb = f" of person brukerNr {self.bruker_nr}", f" hos person med brukerNr {self.bruker_nr}"
        elif self.person:
            who, who_nb = f" of person no. {self.person} in the file", f" hos person nr. {self.person} i filen"
        elif self.in_header and self.element != "meldingshode":
            who, who_nb = " in the header (meldingshode)", " i meldingshodet"
        else:
            who = who_nb = ""
        return what + who, what_nb + who_nb


def person_bruker_nr(person: etree._Element) -> str | None:
    """The person's brukerNr where it may be shown: its first child, in brukerNr form, nothing like an identity
    number."""
    first = next(person.iterchildren(tag=etree.Element), None)
    if first is None or first.tag != BRUKER_NR:
        return None
    return reportable_bruker_nr((first.text or "").strip())


def locate(base: etree._Element, relative_path: str) -> etree._Element:
    """The element libxml2's path names, from the validated element ``base`` (the path's ``/*``). libxml2 writes a
    namespaced element as ``*``, indexed among all element siblings (``*[3]``) unless it is the only one."""
    node = base
    steps = [step for step in relative_path.split("/") if step][1:]
    for step in steps:
        match = re.fullmatch(r"\*(?:\[(\d+)\])?", step)
        if match is None:
            break  # a path libxml2 wrote otherwise: stay at the deepest element known
        children = list(node.iterchildren(tag=etree.Element))
        index = int(match.group(1) or 1) - 1
        if not 0 <= index < len(children):
            break
        node = children[index]
    return node


def element_path(node: etree._Element, stop: etree._Element | None, prefix: str) -> str:
    """``prefix`` + the names from ``stop`` (exclusive) down to ``node``, each indexed among its same-named siblings
    where it has any ("tjenester/tjeneste[2]/vedtaksdato"); a name the schema does not declare is not echoed."""
    names: list[str] = []
    current: etree._Element | None = node
    while current is not None and current is not stop:
        parent = current.getparent()
        name = schema_name(local_name(current.tag)) if isinstance(current.tag, str) else "?"
        if parent is not None:
            same = [c for c in parent.iterchildren(tag=current.tag)]
            if len(same) > 1:
                name += f"[{same.index(current) + 1}]"
        names.append(name)
        current = parent
    return "/".join([prefix, *reversed(names)] if prefix else list(reversed(names)))


def _expected(message: str) -> list[str]:
    """The element names after "Expected is ( ... )", those the schema declares."""
    _, _, tail = message.partition("Expected is")
    return [f"<{schema_name(name)}>" for name in re.findall(r"\{[^{}]*\}([A-Za-z0-9_]+)", tail)]


def capital(sentence: str) -> str:
    return sentence[:1].upper() + sentence[1:]


def explain(type_name: str, message: str, node: etree._Element, place: Place) -> ExportProblem:
    """The problem for one libxml2 schema error ``message`` (of error type ``type_name``) about ``node``."""
    _, _, technical = describe(message)
    what, what_nb = place.subject()
    rule, en, nb = _sentence(type_name, message, technical, node, place, what, what_nb)
    return place.problem(rule, en, nb, technical)


def _sentence(
    type_name: str, message: str, technical: str, node: etree._Element, place: Place, what: str, what_nb: str
) -> tuple[str, str, str]:
    if type_name == "SCHEMAV_ELEMENT_CONTENT":
        expected = _expected(message)
        listed = ", ".join(expected)
        if "Missing child element" in message:
            return (
                "missing-element",
                f"{what} lacks a required element: {'one of ' if len(expected) > 1 else ''}{listed}",
                f"{what_nb} mangler et påkrevd element: {'ett av ' if len(expected) > 1 else ''}{listed}",
            )
        if len(expected) == 1:
            return (
                "unexpected-element",
                f"{what} comes where {listed} was expected: {listed} is missing, or the elements are out of order",
                f"{what_nb} står der {listed} var ventet: {listed} mangler, eller elementene står i feil rekkefølge",
            )
        allowed = f"; allowed here: {listed}" if expected else ""
        allowed_nb = f"; tillatt her: {listed}" if expected else ""
        return (
            "unexpected-element",
            f"{what} is not allowed at this place{allowed}",
            f"{what_nb} er ikke tillatt på dette stedet{allowed_nb}",
        )
    if type_name == "SCHEMAV_CVC_COMPLEX_TYPE_4":
        return "missing-attribute", f"{what} lacks a required attribute", f"{what_nb} mangler et påkrevd attributt"
    if type_name.startswith("SCHEMAV_CVC_COMPLEX_TYPE_3"):
        return (
            "unexpected-attribute",
            f"{what}: the format has no such attribute here",
            f"{what_nb}: formatet har ikke et slikt attributt her",
        )
    if type_name.startswith("SCHEMAV_CVC_COMPLEX_TYPE_2"):
        return (
            "text-not-allowed",
            f"{what} holds text or content where only its elements are allowed",
            f"{what_nb} har tekst eller innhold der bare elementene er tillatt",
        )
    if type_name == "SCHEMAV_CVC_ELT_1":
        return (
            "wrong-root",
            "the root element is not <iplosMelding> in the namespace urn:iplos-chain:export:1",
            "rotelementet er ikke <iplosMelding> i navnerommet urn:iplos-chain:export:1",
        )
    simple_type = declared_types().get(f"@{place.attribute}" if place.attribute else place.element, "")
    value = (node.get(place.attribute) if place.attribute else node.text) or ""
    if simple_type == "datoType" and value.strip():
        if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value.strip()) and not _real_date(value.strip()):
            return (
                "not-a-date",
                f"the date in {what} is not a real date: that day does not exist",
                f"datoen i {what_nb} er ikke en gyldig dato: den dagen finnes ikke",
            )
        return (
            "date-form",
            f"the date in {what} is not written YYYY-MM-DD (for example 2025-03-31)",
            f"datoen i {what_nb} er ikke skrevet ÅÅÅÅ-MM-DD (for eksempel 2025-03-31)",
        )
    help_ = type_help(simple_type)
    if help_ is None:
        return "schema", f"{what}: {technical}", f"{what_nb}: {technical}"
    must, must_nb = help_
    rule = _RULES.get(type_name, "wrong-form")
    if not value.strip():
        return rule, f"{what} is empty; it must be {must}", f"{what_nb} er tom; den må være {must_nb}"
    return rule, f"{what} must be {must}", f"{what_nb} må være {must_nb}"


_RULES = {
    "SCHEMAV_CVC_ENUMERATION_VALID": "not-in-list",
    "SCHEMAV_CVC_MININCLUSIVE_VALID": "out-of-range",
    "SCHEMAV_CVC_MAXINCLUSIVE_VALID": "out-of-range",
    "SCHEMAV_CVC_MINEXCLUSIVE_VALID": "out-of-range",
    "SCHEMAV_CVC_MAXEXCLUSIVE_VALID": "out-of-range",
    "SCHEMAV_CVC_LENGTH_VALID": "wrong-length",
    "SCHEMAV_CVC_MINLENGTH_VALID": "wrong-length",
    "SCHEMAV_CVC_MAXLENGTH_VALID": "wrong-length",
    "SCHEMAV_CVC_TOTALDIGITS_VALID": "too-many-digits",
    "SCHEMAV_CVC_FRACTIONDIGITS_VALID": "too-many-digits",
}


def _real_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def place_of(
    node: etree._Element,
    message: str = "",
    *,
    attribute: str | None = None,
    base: etree._Element | None,
    prefix: str,
    person: int,
    bruker_nr: str | None,
    in_header: bool,
) -> Place:
    """The place of an error about ``node``, or about its ``attribute`` (by default the one libxml2's ``message``
    names); its path runs from ``base`` (exclusive) under ``prefix``."""
    named = named_attribute(message) if attribute is None else attribute
    return Place(
        line=source_line(node),
        path=element_path(node, base, prefix) + (f"/@{named}" if named else ""),
        element=schema_name(local_name(node.tag)) if isinstance(node.tag, str) else "",
        attribute=named,
        person=person,
        bruker_nr=bruker_nr,
        in_header=in_header,
    )
