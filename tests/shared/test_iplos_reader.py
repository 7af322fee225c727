"""Tests for shared.iplos.reader (and the writer, whose output it reads).

Identity numbers in literals are synthetic (Tenor form, month + 80) or not valid at all. ``TEMPLATE`` is a
format 1.0 document (1.0 documents must keep reading); the format 1.1 tests use the published example,
``docs/examples/iplos-export-example.xml``.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import re
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from iplos_testkit import write_export
from iplos_testkit.generator import generate_export
from shared import fnr
from shared.iplos import (
    FUNCTION_VARIABLES,
    CodeSystem,
    Diagnosis,
    ExportHeader,
    ExportInvalid,
    FidType,
    FunctionScore,
    PersonRecord,
    SchemaIssue,
    Service,
    export_schema,
    export_schema_bytes,
    read_export,
    validate_export,
)
from shared.iplos.free_fields import telefon_fits, text_fits
from shared.iplos.model import (
    COERCION_BASES,
    COMPLAINT_OUTCOMES,
    EVENT_TYPES,
    HOUSEHOLD_TYPES,
    HOUSING_TYPES,
    SERVICE_TYPES,
    VALID_SCORES,
    Coercion,
    Complaint,
    Contact,
    PersonBackground,
    Refusal,
)
from shared.iplos.reader._parser import check_no_dtd
from shared.iplos.reader._redaction import describe
from tests.testkit.test_generator import content_violations

SYNTHETIC_FID = "01879031113"  # 1 July 1990 + 80 months: Tenor synthetic
SYNTHETIC_DNR = "55834104384"  # D-number form of a Tenor synthetic number

# One line per element, so that tests can name the line an error must be reported on.
TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<iplosMelding xmlns="urn:iplos-chain:export:1" formatVersjon="1.0">
  <meldingshode>
    <meldingGUID>0f8fad5b-d9cb-469f-a165-70867728950e</meldingGUID>
    <epj><navnEPJ>Gerica</navnEPJ><leverandor>Tietoevry</leverandor><versjonEPJ>7.4</versjonEPJ></epj>
    <rapporteringsaar>2025</rapporteringsaar>
    <kommuneNr>0301</kommuneNr>
  </meldingshode>
  <personer>
    <person>
      <brukerNr>100001</brukerNr>
      <fid type="FNR">{fid}</fid>
      <funksjon>
        <vurdering variabel="sosialDeltakelse" skaar="2" dato="2025-03-01"/>
        <vurdering variabel="hukommelse" skaar="9" dato="2025-03-01"/>
      </funksjon>
      <diagnoser><diagnose kodeverk="ICPC-2" kode="T90"/><diagnose kodeverk="ICD-10" kode="G30.1"/></diagnoser>
      <tjenester>
        <tjeneste tjenesteID="100001-01" tjenesteType="15">
          <vedtaksdato>2024-12-20</vedtaksdato>
          <startdato>2025-01-02</startdato>
          <sluttdato>2025-06-30</sluttdato>
          <timerPerUke>3.5</timerPerUke>
          <orgNr>974760673</orgNr>
        </tjeneste>
        <tjeneste tjenesteID="100001-02" tjenesteType="26">
          <startdato>2025-02-01</startdato>
        </tjeneste>
      </tjenester>
    </person>
    <person>
      <brukerNr>100002</brukerNr>
      <fid type="DNR">{dnr}</fid>
    </person>
  </personer>
</iplosMelding>
"""


def document(**changes: str) -> str:
    return TEMPLATE.format(fid=changes.pop("fid", SYNTHETIC_FID), dnr=changes.pop("dnr", SYNTHETIC_DNR))


def line_of(text: str, needle: str) -> int:
    """1-based number of the first line containing ``needle``."""
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in the document")


def read_all(data: str | bytes) -> tuple[ExportHeader, list[PersonRecord]]:
    raw = data.encode() if isinstance(data, str) else data
    with read_export(io.BytesIO(raw)) as reader:
        return reader.header, list(reader)


def invalid(data: str | bytes) -> ExportInvalid:
    with pytest.raises(ExportInvalid) as caught:
        read_all(data)
    return caught.value


def assert_not_echoed(error: ExportInvalid, *values: str) -> None:
    texts = [str(error), repr(error.issues), *(issue.message for issue in error.issues)]
    for value in values:
        for text in texts:
            assert value not in text


# ------------------------------------------------------------------------------------------ valid input


def test_reads_header_and_persons() -> None:
    header, persons = read_all(document())
    assert header == ExportHeader(
        melding_guid="0f8fad5b-d9cb-469f-a165-70867728950e",
        format_version="1.0",
        navn_epj="Gerica",
        leverandor="Tietoevry",
        versjon_epj="7.4",
        rapporteringsaar=2025,
        kommune_nr="0301",
    )
    first, second = persons
    assert first == PersonRecord(
        bruker_nr="100001",
        fid=SYNTHETIC_FID,
        fid_type=FidType.FNR,
        function_scores=(
            FunctionScore("sosialDeltakelse", 2, dt.date(2025, 3, 1)),
            FunctionScore("hukommelse", 9, dt.date(2025, 3, 1)),
        ),
        diagnoses=(Diagnosis(CodeSystem.ICPC2, "T90"), Diagnosis(CodeSystem.ICD10, "G30.1")),
        services=(
            Service(
                "100001-01", 15, dt.date(2024, 12, 20), dt.date(2025, 1, 2), dt.date(2025, 6, 30), 3.5, "974760673"
            ),
            Service("100001-02", 26, None, dt.date(2025, 2, 1), None, None, None),
        ),
    )
    assert second == PersonRecord("100002", SYNTHETIC_DNR, FidType.DNR, (), (), ())


def test_the_template_is_valid_for_the_tree_validator_too() -> None:
    # Independent of the streaming path: the same XSD, validating a whole tree.
    export_schema().assertValid(etree.fromstring(document().encode()))


def test_out_of_range_score_is_left_to_the_logical_controls() -> None:
    # 0-9 passes the schema (the registry reports 6, 7, 8, 0 per record); 10 does not.
    _, persons = read_all(document().replace('skaar="2"', 'skaar="7"'))
    assert persons[0].function_scores[0].score == 7
    error = invalid(document().replace('skaar="2"', 'skaar="10"'))
    assert error.issues[0].element == "vurdering"


def test_unknown_service_code_is_left_to_the_logical_controls() -> None:
    _, persons = read_all(document().replace('tjenesteType="15"', 'tjenesteType="99"'))
    assert persons[0].services[0].tjeneste_type == 99


def test_whitespace_around_typed_values_is_collapsed() -> None:
    text = document().replace("<startdato>2025-01-02</startdato>", "<startdato> 2025-01-02\n</startdato>")
    text = text.replace("<rapporteringsaar>2025<", "<rapporteringsaar> 2025 <")
    header, persons = read_all(text)
    assert header.rapporteringsaar == 2025
    assert persons[0].services[0].start_date == dt.date(2025, 1, 2)


def test_comments_inside_text_do_not_split_values() -> None:
    _, persons = read_all(document().replace("<brukerNr>100001<", "<brukerNr>100<!-- x -->001<"))
    assert persons[0].bruker_nr == "100001"


def test_reads_from_a_path_and_closes_it(tmp_path: Path) -> None:
    path = tmp_path / "export.xml"
    path.write_text(document(), encoding="utf-8")
    header, count = validate_export(path)
    assert (header.kommune_nr, count) == ("0301", 2)
    with read_export(str(path)) as reader:
        raw = reader._raw
        assert sum(1 for _ in reader) == 2
        assert reader.finished
    assert raw.closed


def test_iterates_once_only() -> None:
    with read_export(io.BytesIO(document().encode())) as reader:
        list(reader)
        with pytest.raises(RuntimeError):
            iter(reader)


def test_empty_person_list_is_valid() -> None:
    start = TEMPLATE.index("    <person>")
    end = TEMPLATE.index("  </personer>")
    header, persons = read_all(TEMPLATE[:start] + TEMPLATE[end:])
    assert header.kommune_nr == "0301"
    assert persons == []


# ------------------------------------------------------------------------------------ writer round trip

HEADER = ExportHeader(
    melding_guid="0f8fad5b-d9cb-469f-a165-70867728950e",
    format_version="1.0",
    navn_epj="Profil",
    leverandor="Visma & <Co>",  # escaped by the writer
    versjon_epj='2024.3 "beta"',
    rapporteringsaar=2025,
    kommune_nr="0301",
)


def test_writer_output_reads_back_equal() -> None:
    persons = [
        PersonRecord(
            "A-1",
            SYNTHETIC_FID,
            FidType.FNR,
            (FunctionScore("syn", 1, dt.date(2025, 1, 1)),),
            (Diagnosis(CodeSystem.ICPC2, "A30"),),
            (
                Service("x.1:2_3", 3, None, dt.date(1899, 12, 31), None, 0.001, "974760673"),
                Service("x-2", 1, dt.date(2025, 1, 1), dt.date(2025, 1, 1), dt.date(2025, 1, 1), 12345.125, None),
                Service("x-3", 15, None, dt.date(2025, 5, 1), None, 40.0, "974760673"),
            ),
        ),
        PersonRecord("B", SYNTHETIC_DNR, FidType.DNR, (), (), ()),
    ]
    out = io.BytesIO()
    assert write_export(out, HEADER, iter(persons)) == 2
    header, read = read_all(out.getvalue())
    assert header == HEADER
    assert read == persons
    assert b"<timerPerUke>0.001</timerPerUke>" in out.getvalue()  # positional, not 1e-03


def test_writer_refuses_non_finite_hours() -> None:
    person = PersonRecord(
        "A", SYNTHETIC_FID, FidType.FNR, (), (), (Service("s", 1, None, dt.date(2025, 1, 1), None, float("nan"), None),)
    )
    with pytest.raises(ValueError, match="finite"):
        write_export(io.BytesIO(), HEADER, [person])


def test_writer_output_with_no_persons_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "empty.xml"
    assert write_export(path, HEADER, []) == 0
    assert validate_export(path) == (HEADER, 0)


# ---------------------------------------------------------------------------------------- schema errors


@pytest.mark.parametrize(
    ("change", "element", "needle"),
    [
        pytest.param(("<kommuneNr>0301<", "<kommuneNr>03x1<"), "kommuneNr", "<kommuneNr>", id="bad kommuneNr"),
        pytest.param(("<startdato>2025-01-02<", "<startdato>2025-02-30<"), "startdato", "2025-02-30", id="bad date"),
        pytest.param(('dato="2025-03-01"/>', 'dato="1.3.2025"/>'), "vurdering", "1.3.2025", id="bad attribute"),
        pytest.param(("<orgNr>974760673<", "<orgNr>97476067<"), "orgNr", "<orgNr>", id="short orgNr"),
        pytest.param(('variabel="hukommelse"', 'variabel="minne"'), "vurdering", "minne", id="unknown variable"),
        pytest.param(('<fid type="FNR">', '<fid type="XYZ">'), "fid", 'type="XYZ"', id="bad fid type"),
        pytest.param(("<timerPerUke>3.5<", "<timerPerUke>3,5<"), "timerPerUke", "3,5", id="decimal comma"),
        pytest.param(("<timerPerUke>3.5<", "<timerPerUke>1e400<"), "timerPerUke", "1e400", id="float syntax"),
        # A name the XSD does not declare is not echoed: it could hold an identity number.
        pytest.param(("<sluttdato>", "<slutdato>"), "[unknown element]", "<slutdato>", id="misspelt element"),
    ],
)
def test_schema_error_names_line_and_element(change: tuple[str, str], element: str, needle: str) -> None:
    old, new = change
    text = document().replace(old, new).replace("</sluttdato>" if "slutdato" in new else "\0", "</slutdato>")
    error = invalid(text)
    first = error.issues[0]
    assert (first.line, first.element) == (line_of(text, needle), element)


def test_missing_element_is_reported_on_its_parent() -> None:
    text = document().replace("    <kommuneNr>0301</kommuneNr>\n", "")
    error = invalid(text)
    first = error.issues[0]
    assert (first.line, first.element) == (line_of(text, "<meldingshode>"), "meldingshode")
    assert "kommuneNr" in first.message  # what is missing


def test_missing_fid_is_reported_on_the_next_element() -> None:
    text = document().replace(f'      <fid type="FNR">{SYNTHETIC_FID}</fid>\n', "")
    error = invalid(text)
    first = error.issues[0]
    assert first.element == "funksjon"
    assert first.line == line_of(text, "<funksjon>")
    assert "fid" in first.message


@pytest.mark.parametrize("bad_fid", ["abc99", "1234567890", "123456789012", "12'34' is 5", '12"34'])
def test_a_bad_fid_is_never_echoed(bad_fid: str) -> None:
    text = document(fid=bad_fid.replace('"', "&quot;"))
    error = invalid(text)
    first = error.issues[0]
    assert (first.line, first.element) == (line_of(text, '<fid type="FNR">'), "fid")
    assert_not_echoed(error, bad_fid, bad_fid.replace("'", ""), "1234567890", "abc99")
    assert "[value]" in first.message


def test_redacted_message_keeps_the_rule() -> None:
    error = invalid(document(fid="1234567890"))
    assert error.issues[0].message == "[facet 'pattern'] The value [value] is not accepted by the pattern '[0-9]{11}'."


def test_several_errors_come_in_document_order() -> None:
    text = document(dnr="9").replace("<kommuneNr>0301<", "<kommuneNr>x<")
    error = invalid(text)
    assert [(i.line, i.element) for i in error.issues[:2]] == [
        (line_of(text, "<kommuneNr>"), "kommuneNr"),
        (line_of(text, '<fid type="DNR">'), "fid"),
    ]
    assert_not_echoed(error, ">9<")


def test_wrong_root_element() -> None:
    text = document().replace("iplosMelding", "iplosMeldingX")
    error = invalid(text)
    assert (error.issues[0].line, error.issues[0].element) == (2, "[unknown element]")
    assert_not_echoed(error, "iplosMeldingX")


def test_wrong_namespace() -> None:
    error = invalid(document().replace("urn:iplos-chain:export:1", "urn:iplos-chain:export:2"))
    assert error.issues[0].element == "iplosMelding"


def test_unsupported_format_version() -> None:
    error = invalid(document().replace('formatVersjon="1.0"', 'formatVersjon="2.0"'))
    assert (error.issues[0].line, error.issues[0].element) == (2, "iplosMelding")
    assert "formatVersjon" in error.issues[0].message


def test_text_between_persons_is_refused() -> None:
    text = document().replace("    </person>\n    <person>", "    </person>stray<person>")
    error = invalid(text)
    assert error.issues[0].element == "personer"


def test_no_person_with_an_error_is_ever_yielded() -> None:
    # The second person is invalid. The whole small file is one chunk, and the log is checked before each
    # event, so not even the valid first person is handed out.
    seen: list[str] = []
    with pytest.raises(ExportInvalid), read_export(io.BytesIO(document(dnr="1").encode())) as reader:
        seen.extend(person.bruker_nr for person in reader)
    assert seen == []


def big_document(persons: int, bad_at: int | None = None) -> str:
    start = TEMPLATE.index("    <person>")
    end = TEMPLATE.index("    <person>", start + 1)
    person = TEMPLATE[start:end].format(fid=SYNTHETIC_FID)
    body = []
    for index in range(persons):
        chunk = person.replace("100001", str(200000 + index))
        if index == bad_at:
            chunk = chunk.replace(SYNTHETIC_FID, "0187903111")
        body.append(chunk)
    return TEMPLATE[:start] + "".join(body) + "  </personer>\n</iplosMelding>\n"


def test_error_deep_in_a_large_file_has_its_line_and_stops_reading_early() -> None:
    text = big_document(6000, bad_at=400)
    source = io.BytesIO(text.encode())
    seen: list[str] = []

    def consume() -> None:
        with read_export(source) as reader:
            seen.extend(person.bruker_nr for person in reader)

    with pytest.raises(ExportInvalid) as caught:
        consume()
    first = caught.value.issues[0]
    assert (first.line, first.element) == (line_of(text, "0187903111<"), "fid")
    # Persons before the bad one are handed out up to the chunk that holds it; the bad one never is, and
    # reading stops there instead of going through the other 5,600 persons.
    assert 300 < len(seen) <= 400
    assert "200400" not in seen
    assert source.tell() < len(text) // 4


# -------------------------------------------------------------------------------- well-formedness errors


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        pytest.param(("    </person>\n    <person>", "    </persn>\n    <person>"), "</persn>", id="tag mismatch"),
        pytest.param(("<brukerNr>100002<", "<brukerNr>&foo;<"), "&foo;", id="undefined entity"),
        pytest.param(("<brukerNr>100002<", "<brukerNr>a < b<"), "a < b", id="bare less-than"),
    ],
)
def test_syntax_error_has_its_line(change: tuple[str, str], needle: str) -> None:
    text = document().replace(*change)
    assert text != document()
    error = invalid(text)
    assert error.issues[0].line == line_of(text, needle)
    assert "foo" not in str(error)


@pytest.mark.parametrize(
    "data",
    [b"", b"   ", b"not xml", b"<iplosMelding", document().encode()[:-200], b"\xff\xfe<\x00"],
    ids=["empty", "blank", "text", "unclosed", "truncated", "utf-16"],
)
def test_broken_input_is_refused(data: bytes) -> None:
    invalid(data)


def test_syntax_error_from_an_unseekable_source_is_still_refused() -> None:
    class Pipe(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self._data = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
            data = self._data.read(len(buffer))
            buffer[: len(data)] = data
            return len(data)

    text = document().replace("    </person>\n    <person>", "    </persn>\n    <person>")
    with pytest.raises(ExportInvalid), read_export(io.BufferedReader(Pipe(text.encode()))) as reader:
        list(reader)


# ------------------------------------------------------------------- no document text in error messages
#
# The gateway returns every SchemaIssue to the municipality (a 422 problem document), so nothing of the
# document may appear in one: a hostile or broken export can put an identity number anywhere, in a value, a
# name, a comment, a processing instruction, an entity name or a truncated tag. Each mutation below puts the
# canary, the export's own first identity number (a synthetic Tenor number made by the generator, so it is
# built at run time), in a different place.

Mutation = Callable[[str, str, str], str | bytes]
END = "<end of the document>"  # the error is reported where the parser ran out of document


@functools.cache
def hostile_base() -> tuple[str, str, str]:
    """A valid generated export, its first <fid> element and that element's identity number (the canary)."""
    out = io.BytesIO()
    generate_export("0301", 2025, 3, 11, out)
    text = out.getvalue().decode()
    match = re.search(r'<fid type="[A-Z]+">([0-9]{11})</fid>', text)
    assert match is not None
    canary = match.group(1)
    assert text.count(canary) == 1
    assert fnr.parse(canary).synthetic
    return text, match.group(0), canary


def at_fid(template: str) -> Mutation:
    """Replace the first <fid> element by ``template``: ``{fid}`` is the element, ``{n}`` the canary."""
    return lambda text, fid, n: text.replace(fid, template.format(fid=fid, n=n), 1)


def first(pattern: str, template: str) -> Mutation:
    """Replace the first match of ``pattern`` by ``template``: ``{g}`` is its first group, ``{n}`` the canary."""
    return lambda text, fid, n: re.sub(pattern, lambda m: template.format(g=m.group(1), n=n), text, count=1)


HOSTILE = [
    # Well-formedness errors: libxml2's text quotes the document.
    pytest.param(at_fid('<fid type="FNR"><![CDATA[{n}]]x</fid>'), END, id="unterminated CDATA"),
    pytest.param(at_fid('<fid type="FNR">{n}</x{n}>'), "<fid", id="tag mismatch, the number as closing tag"),
    pytest.param(at_fid('<x{n}><fid type="FNR">{n}</fid>'), "<fid", id="tag mismatch, the number as open tag"),
    pytest.param(at_fid("{fid}<!-- {n}"), END, id="comment not closed"),
    pytest.param(at_fid("{fid}<!-- {n} -- -->"), "<fid", id="double hyphen in comment"),
    pytest.param(at_fid("{fid}<?{n} x?>"), "<fid", id="processing instruction target"),
    pytest.param(at_fid("{fid}<?x{n} data"), END, id="processing instruction not closed"),
    pytest.param(at_fid("{fid}<?xml version='{n}'?>"), "<fid", id="xml declaration in content"),
    pytest.param(at_fid('<fid type="FNR">&x{n};</fid>'), "<fid", id="undefined entity"),
    pytest.param(at_fid('<fid type="FNR" a="&x{n};">0</fid>'), "<fid", id="undefined entity in attribute"),
    pytest.param(at_fid('<fid type="FNR">&#{n};</fid>'), "<fid", id="invalid character reference"),
    pytest.param(at_fid('<fid type="FNR">{n}&x</fid>'), "<fid", id="entity reference without semicolon"),
    pytest.param(at_fid('<fid type="FNR">{n}\x01</fid>'), "<fid", id="control character"),
    pytest.param(at_fid('<fid type="FNR">{n}]]></fid>'), "<fid", id="misplaced CDATA end"),
    pytest.param(at_fid("<fid type={n}>{n}</fid>"), "<fid", id="unquoted attribute value"),
    pytest.param(at_fid('<fid type="FNR" type="{n}">0</fid>'), "<fid", id="attribute twice"),
    pytest.param(at_fid('<fid type="<{n}">0</fid>'), "<fid", id="less-than in attribute value"),
    pytest.param(at_fid("{fid}<{n}/>"), "<fid", id="name starting with a digit"),
    pytest.param(lambda text, fid, n: text[: text.index(n) + 7], "<fid", id="truncated inside the number"),
    pytest.param(lambda text, fid, n: text + f"<iplosMelding>{n}</iplosMelding>\n", END, id="second root"),
    pytest.param(lambda text, fid, n: text + f"{n}\n", END, id="text after the root"),
    pytest.param(
        lambda text, fid, n: text.replace("encoding='UTF-8'", f"encoding='x{n}!'", 1), 1, id="bad encoding name"
    ),
    pytest.param(
        lambda text, fid, n: text.replace("encoding='UTF-8'", f"encoding='x{n}'", 1), 1, id="unknown encoding"
    ),
    pytest.param(
        lambda text, fid, n: text.encode().replace(n.encode(), n.encode() + b"\xff", 1),
        "<fid",
        id="invalid UTF-8 after the number",
    ),
    # Schema errors: names the XSD does not declare, and values.
    pytest.param(at_fid("{fid}<x{n}/>"), "<fid", id="unknown element"),
    pytest.param(at_fid('{fid}<x{n} xmlns="urn:x:{n}"/>'), "<fid", id="unknown element, foreign namespace"),
    pytest.param(at_fid('{fid}<p:x{n} xmlns:p="urn:{n}"/>'), "<fid", id="unknown prefixed element"),
    # No line: streaming validation calls the element 'fid', the tree 'p...:fid', so no message matches.
    pytest.param(at_fid("{fid}<p{n}:fid/>"), None, id="undeclared prefix"),
    pytest.param(at_fid('<fid a{n}="1" type="FNR">{n}</fid>'), "<fid", id="unknown attribute"),
    pytest.param(at_fid('<fid xmlns:p="urn:{n}" p:a{n}="1" type="FNR">0</fid>'), "<fid", id="prefixed attribute"),
    pytest.param(at_fid('<fid type="{n}">0</fid>'), "<fid", id="attribute value"),
    pytest.param(
        at_fid('<fid xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="x{n}" type="FNR">0</fid>'),
        "<fid",
        id="xsi:type",
    ),
    pytest.param(first(r"(<vurdering [^>]*>)</vurdering>", "{g}{n}</vurdering>"), "<vurdering", id="text in empty"),
    pytest.param(
        first(r"(<vurdering [^>]*>)</vurdering>", "{g}<![CDATA[{n}]]></vurdering>"), "<vurdering", id="CDATA in empty"
    ),
    pytest.param(first(r"(<startdato>)[^<]*", "{g}{n}"), "<startdato>{n}", id="number as a date"),
    pytest.param(first(r"(<brukerNr>)[^<]*", "{g}{n}!"), "<brukerNr>{n}", id="number in brukerNr"),
    pytest.param(first(r"(<meldingGUID>)[^<]*", "{g}{n}"), "<meldingGUID>", id="number as GUID"),
    pytest.param(first(r'(formatVersjon=")[^"]*', "{g}{n}"), "formatVersjon", id="root attribute value"),
    pytest.param(first(r'(xmlns=")[^"]*', "{g}urn:{n}"), "<iplosMelding", id="root namespace"),
    pytest.param(first(r'(xmlns=")[^"]*', "{g}urn:{n}'x"), "<iplosMelding", id="root namespace with a quote"),
    pytest.param(first(r"(<iplosMelding)", '{g} a{n}="1"'), "<iplosMelding", id="unknown root attribute"),
    pytest.param(lambda text, fid, n: text.replace("iplosMelding", f"x{n}"), "<x", id="unknown root element"),
]


@pytest.mark.parametrize(("mutate", "where"), HOSTILE)
def test_no_document_text_in_any_issue(mutate: Mutation, where: str | int | None) -> None:
    base, fid, canary = hostile_base()
    data = mutate(base, fid, canary)
    assert data != base
    text = data if isinstance(data, str) else data.decode("utf-8", errors="replace")
    assert canary[:6] in text
    error = invalid(data)

    fragments = {canary[i : i + 6] for i in range(len(canary) - 5)}
    texts = [str(error), repr(error), repr(error.issues)]
    texts += [field for issue in error.issues for field in (issue.message, issue.element, str(issue))]
    for field in texts:
        assert not re.search(r"[0-9]{6}", field), field
        for fragment in fragments:
            assert fragment not in field
    known = {""} | {e.get("name") for e in etree.fromstring(export_schema_bytes()).iter(f"{XS}element")}
    assert all(issue.element in known or issue.element == "[unknown element]" for issue in error.issues)

    if where is not None:
        expected = (
            where
            if isinstance(where, int)
            else base.count("\n") + 1
            if where == END
            else line_of(text, where.format(n=canary))
        )
        assert error.issues[0].line == expected


def test_a_syntax_error_says_what_is_wrong_and_where() -> None:
    base, fid, canary = hostile_base()
    text = base.replace(fid, f'<fid type="FNR">{canary}</x{canary}>', 1)
    error = invalid(text)
    (issue,) = error.issues
    assert issue.element == ""
    assert issue.message.startswith("the document is not well-formed XML (tag mismatch")
    column = text.splitlines()[issue.line - 1].index(f"</x{canary}>")
    assert re.search(r" at column [0-9]+$", issue.message)
    assert int(issue.message.rsplit(" ", 1)[1]) > column


def test_an_unknown_name_is_replaced_but_the_rule_kept() -> None:
    base, fid, canary = hostile_base()
    error = invalid(base.replace(fid, f'<fid a{canary}="1" type="FNR">{canary}</fid>', 1))
    assert error.issues[0].element == "fid"
    assert (
        error.issues[0].message
        == "attribute '[unknown attribute]': The attribute '[unknown attribute]' is not allowed."
    )
    error = invalid(base.replace(fid, f"{fid}<x{canary}/>", 1))
    assert error.issues[0].element == "[unknown element]"
    assert error.issues[0].message.startswith("This element is not expected. Expected is one of ( bakgrunn, funksjon")


def test_a_digit_run_left_in_a_schema_message_is_removed() -> None:
    # Belt and braces: libxml2 has no such message, but one that echoed a number unquoted would be caught.
    _, element, message = describe("Element '{urn:iplos-chain:export:1}fid': unexpected 1234567 here, 12345 kept.")
    assert (element, message) == ("fid", "unexpected [value] here, 12345 kept.")


# ------------------------------------------------------------------------------------------ XML attacks

PROLOG = '<?xml version="1.0" encoding="UTF-8"?>\n'


def with_prolog(extra: str, body: str | None = None) -> str:
    text = document() if body is None else body
    return text.replace(PROLOG, PROLOG + extra, 1)


def test_any_doctype_is_refused() -> None:
    error = invalid(with_prolog("<!DOCTYPE iplosMelding>\n"))
    assert error.issues == [SchemaIssue(2, "", "a DOCTYPE declaration is not allowed")]


def test_doctype_after_comments_and_processing_instructions_is_refused() -> None:
    error = invalid(with_prolog("<!-- a -->\n<?pi x?>\n<!-- <iplosMelding> -->\n<!DOCTYPE iplosMelding []>\n"))
    assert error.issues[0].line == 5
    assert "DOCTYPE" in error.issues[0].message


def test_doctype_without_xml_declaration_is_refused() -> None:
    invalid(with_prolog("").replace(PROLOG, "\ufeff<!DOCTYPE x>"))


def test_billion_laughs_is_refused_quickly() -> None:
    entities = ['<!ENTITY lol0 "lol">']
    entities += [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)]
    text = with_prolog(f"<!DOCTYPE iplosMelding [{''.join(entities)}]>\n").replace(
        "<brukerNr>100001<", "<brukerNr>&lol9;<"
    )
    started = time.perf_counter()
    invalid(text)
    # Expanded, it would be 3 GB and minutes; refused, milliseconds (the bound leaves room for a loaded machine).
    assert time.perf_counter() - started < 5.0


def test_external_file_entity_is_refused_and_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-CONTENT-4711")
    for doctype in (
        f'<!DOCTYPE iplosMelding [<!ENTITY x SYSTEM "file:///etc/passwd"><!ENTITY y SYSTEM "{secret.as_uri()}">]>\n',
        f'<!DOCTYPE iplosMelding [<!ENTITY % p SYSTEM "{secret.as_uri()}"> %p;]>\n',
        f'<!DOCTYPE iplosMelding SYSTEM "{secret.as_uri()}">\n',
    ):
        text = with_prolog(doctype).replace("<brukerNr>100001<", "<brukerNr>&x;&y;<")
        error = invalid(text)
        assert "DOCTYPE" in error.issues[0].message
        assert_not_echoed(error, "TOPSECRET", "root:", secret.name)


def test_doctype_hidden_by_another_encoding_is_refused() -> None:
    # A byte scan for "<!DOCTYPE" only works for ASCII-compatible encodings: the others are refused.
    utf16 = with_prolog("<!DOCTYPE iplosMelding>\n").replace('encoding="UTF-8"', 'encoding="UTF-16"')
    invalid(utf16.encode("utf-16"))
    invalid(utf16.encode("utf-16-be"))
    utf7 = with_prolog("+ADw-!DOCTYPE iplosMelding+AD4-\n").replace('encoding="UTF-8"', 'encoding="UTF-7"')
    error = invalid(utf7.encode())
    assert "encoding" in error.issues[0].message


def test_ebcdic_is_refused() -> None:
    text = with_prolog("<!DOCTYPE iplosMelding>\n").replace('encoding="UTF-8"', 'encoding="IBM037"')
    error = invalid(text.encode("cp037"))
    assert "markup" in error.issues[0].message


def test_latin1_declaration_is_accepted() -> None:
    text = document().replace('encoding="UTF-8"', 'encoding="ISO-8859-1"').replace("Tietoevry", "Tietoevry Æøå")
    header, _ = read_all(text.encode("iso-8859-1"))
    assert header.leverandor == "Tietoevry Æøå"


def test_an_overlong_prolog_is_refused() -> None:
    error = invalid(with_prolog("<!--" + "x" * 70_000 + "-->\n"))
    assert "prolog" in error.issues[0].message


def test_dtd_check_catches_a_doctype_the_scan_missed() -> None:
    # Defence in depth, exercised directly: the prolog scan never lets such a document through.
    root = etree.fromstring(b"<!DOCTYPE r><r/>", etree.XMLParser(resolve_entities=False, load_dtd=False))
    with pytest.raises(ExportInvalid):
        check_no_dtd(root)


# ------------------------------------------------------------------------------------------ streaming


def test_reading_keeps_memory_flat() -> None:
    persons = 20_000
    data = big_document(persons).encode()
    tracemalloc.start()
    try:
        largest_tree = 0
        with read_export(io.BytesIO(data)) as reader:
            for index, _person in enumerate(reader):
                if index % 1000 == 0:
                    root = reader._root
                    assert root is not None
                    largest_tree = max(largest_tree, sum(1 for _ in root.iter()))
            assert reader.persons_read == persons
            assert reader.finished
            root = reader._root
            assert root is not None
            assert len(root[1]) == 0  # <personer> holds no person at the end
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # One 64 KiB chunk holds about 60 of these persons (20 elements each): the tree never holds thousands.
    assert largest_tree < 3000
    assert peak < len(data) // 10


def test_validate_export_counts(tmp_path: Path) -> None:
    path = tmp_path / "many.xml"
    path.write_text(big_document(250), encoding="utf-8")
    header, count = validate_export(path)
    assert (header.kommune_nr, count) == ("0301", 250)


# ------------------------------------------------------------------------------------------ format 1.1

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "iplos-export-example.xml"
XS = "{http://www.w3.org/2001/XMLSchema}"


def test_the_example_validates() -> None:
    # Both validators: the tree validator and the streaming reader.
    export_schema().assertValid(etree.parse(str(EXAMPLE)))
    header, count = validate_export(EXAMPLE)
    assert (header.format_version, header.kommune_nr, count) == ("1.1", "0301", 3)


def test_the_example_uses_every_element_and_attribute_of_the_format() -> None:
    schema = etree.fromstring(export_schema_bytes())
    elements = {e.get("name") for e in schema.iter(f"{XS}element")}
    attributes = {a.get("name") for a in schema.iter(f"{XS}attribute")}
    example = etree.parse(str(EXAMPLE))
    used_elements = {etree.QName(e).localname for e in example.iter(etree.Element)}
    used_attributes = {name for e in example.iter(etree.Element) for name in e.attrib}
    assert elements - used_elements == set()
    assert attributes - used_attributes == set()


def test_the_example_has_only_synthetic_identity_numbers() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    numbers = re.findall(r"(?<![0-9])[0-9]{11}(?![0-9])", text)
    assert len(numbers) == 3
    for number in numbers:
        parsed = fnr.parse(number)
        assert parsed.synthetic
        assert int(number[2:4]) > 80  # Tenor: month + 80, never a real person's month 01-12


def test_the_example_obeys_the_content_rules() -> None:
    with read_export(EXAMPLE) as reader:
        persons = list(reader)
        assert content_violations(reader.header, persons) == []


def test_reads_every_field_of_format_1_1() -> None:
    with read_export(EXAMPLE) as reader:
        header = reader.header
        first, second, third = reader
    assert header.bydel_nr == "030105"
    assert header.kontaktperson == Contact(
        "Kari Eksempelsen", "+47 01 23 45 67", "kari.eksempelsen@k0301.kommune.example"
    )
    assert first.background == PersonBackground(
        housing=3,
        household=1,
        unpaid_help=False,
        assisted_communication=False,
        death_date=dt.date(2025, 11, 14),
        assessed_by_doctor=dt.date(2025, 3, 18),
        assessed_by_dentist=dt.date(2025, 6, 2),
        individual_plan=False,
    )
    assert first.services[0] == Service(
        "100001-01",
        15,
        dt.date(2023, 9, 12),
        dt.date(2023, 9, 15),
        dt.date(2025, 2, 28),
        7.5,
        "932194295",
        application_date=dt.date(2023, 9, 1),
        event_type="N",
    )
    assert [s.event_type for s in first.services] == ["N", "N", "M"]
    assert first.refusals == (Refusal(21, dt.date(2024, 10, 2), dt.date(2024, 11, 4)),)
    assert first.complaints == (Complaint(21, dt.date(2024, 11, 20), "delvis"),)
    assert first.coercion == (
        Coercion("TV-2025-0117", "PBRL4A", dt.date(2025, 4, 7), dt.date(2025, 4, 8), dt.date(2025, 11, 14)),
    )
    assert second.background == PersonBackground(1, 3, True, True, None, dt.date(2024, 10, 21), None, True)
    assert second.refusals == (Refusal(29, None, dt.date(2025, 9, 15)),)
    assert second.coercion[1] == Coercion("TV-2025-0412", "HOL9", dt.date(2025, 8, 25), dt.date(2025, 9, 1), None)
    assert second.services[1].event_type == "T"
    assert third.fid_type is FidType.DNR
    assert third.background == PersonBackground(housing=1, household=2, unpaid_help=True)
    assert (third.diagnoses, third.refusals, third.complaints, third.coercion) == ((), (), (), ())


def test_the_example_round_trips_through_the_writer() -> None:
    with read_export(EXAMPLE) as reader:
        header, persons = reader.header, list(reader)
    out = io.BytesIO()
    write_export(out, header, persons)
    assert read_all(out.getvalue()) == (header, persons)


def test_boolean_and_integer_lexical_forms() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    text = text.replace("<privatHjelp>true</privatHjelp>", "<privatHjelp> 1 </privatHjelp>", 1)
    text = text.replace("<tilrettelagtKommunikasjon>false<", "<tilrettelagtKommunikasjon>0<", 1)
    text = text.replace("<bolig>3</bolig>", "<bolig> 03 </bolig>")
    _, persons = read_all(text)
    assert (persons[0].background.assisted_communication, persons[0].background.housing) == (False, 3)
    assert persons[1].background.unpaid_help is True


def test_codes_outside_the_lists_are_left_to_the_logical_controls() -> None:
    # Housing and household codes 0-99 pass the schema; whether they are in the code list is a control.
    text = EXAMPLE.read_text(encoding="utf-8").replace("<bolig>3</bolig>", "<bolig>42</bolig>")
    _, persons = read_all(text)
    assert persons[0].background.housing == 42


@pytest.mark.parametrize(
    ("change", "element", "needle"),
    [
        pytest.param(("<bydelNr>030105<", "<bydelNr>0301051<"), "bydelNr", "<bydelNr>", id="bydelNr 7 digits"),
        pytest.param(("<telefon>+47 01", "<telefon>tlf 01"), "telefon", "<telefon>", id="telefon letters"),
        pytest.param(("@k0301.kommune.example<", "<"), "epost", "<epost>", id="epost without domain"),
        pytest.param(("<bolig>3<", "<bolig>100<"), "bolig", "<bolig>", id="bolig out of range"),
        pytest.param(("<husstand>1<", "<husstand>en<"), "husstand", "<husstand>", id="husstand not a number"),
        pytest.param(("<privatHjelp>false<", "<privatHjelp>nei<"), "privatHjelp", "<privatHjelp>", id="boolean"),
        pytest.param(("<dodsdato>2025-11-14<", "<dodsdato>14.11.2025<"), "dodsdato", "<dodsdato>", id="dodsdato"),
        pytest.param(
            ('tjenesteType="24" hendelse="M"', 'tjenesteType="24" hendelse="X"'),
            "tjeneste",
            'hendelse="X"',
            id="unknown hendelse",
        ),
        pytest.param(('hjemmel="PBRL4A"', 'hjemmel="PBRL4"'), "tvangsvedtak", 'hjemmel="PBRL4"', id="hjemmel"),
        pytest.param(("<utfall>delvis<", "<utfall>kanskje<"), "utfall", "<utfall>", id="unknown utfall"),
        pytest.param(
            ("<klagedato>2024-11-20</klagedato>", "<klagedato>2024-11-31</klagedato>"),
            "klagedato",
            "<klagedato>",
            id="impossible klagedato",
        ),
        pytest.param(
            ("<vedtaksdato>2025-09-15</vedtaksdato>", ""),
            "avslagsvedtak",
            '<avslagsvedtak tjenesteType="29">',
            id="avslag without vedtaksdato",
        ),
        pytest.param(
            ("<individuellPlan>false</individuellPlan>", "<individuellPlan>false</individuellPlan><bolig>1</bolig>"),
            "bolig",
            "<individuellPlan>false",
            id="bakgrunn out of order",
        ),
        pytest.param(
            ('vedtakID="TV-2024-0388"', 'vedtakID="TV 2024/0388"'), "tvangsvedtak", "TV 2024/0388", id="vedtakID"
        ),
    ],
)
def test_schema_error_in_a_1_1_element_names_line_and_element(
    change: tuple[str, str], element: str, needle: str
) -> None:
    old, new = change
    original = EXAMPLE.read_text(encoding="utf-8")
    assert old in original
    text = original.replace(old, new, 1)
    error = invalid(text)
    first = error.issues[0]
    assert (first.line, first.element) == (line_of(text, needle), element)


def test_a_bad_contact_value_is_never_echoed() -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace("<epost>kari.eksempelsen@", "<epost>kari eksempelsen@")
    error = invalid(text)
    assert error.issues[0].element == "epost"
    assert_not_echoed(error, "kari eksempelsen", "eksempelsen")


# Each element or attribute that 1.1 added, put into the 1.0 template at a valid place for 1.1.
_KOMMUNE_LINE = "    <kommuneNr>0301</kommuneNr>\n"
_FID_LINE = f'<fid type="FNR">{SYNTHETIC_FID}</fid>\n'
_AFTER_SERVICES = "      </tjenester>\n"
NEW_IN_1_1_CASES = [
    pytest.param(
        (_KOMMUNE_LINE, _KOMMUNE_LINE + "    <bydelNr>030101</bydelNr>\n"), "bydelNr", "<bydelNr>", id="bydelNr"
    ),
    pytest.param(
        (_KOMMUNE_LINE, _KOMMUNE_LINE + "    <kontaktperson><navn>X</navn></kontaktperson>\n"),
        "kontaktperson",
        "<kontaktperson>",
        id="kontaktperson",
    ),
    pytest.param(
        (_FID_LINE, _FID_LINE + "      <bakgrunn><bolig>1</bolig></bakgrunn>\n"),
        "bakgrunn",
        "<bakgrunn>",
        id="bakgrunn",
    ),
    pytest.param(('tjenesteType="26">', 'tjenesteType="26" hendelse="N">'), "tjeneste", 'hendelse="N"', id="hendelse"),
    pytest.param(
        ("<vedtaksdato>2024-12-20<", "<soknadsdato>2024-12-01</soknadsdato><vedtaksdato>2024-12-20<"),
        "soknadsdato",
        "<soknadsdato>",
        id="soknadsdato",
    ),
    pytest.param(
        (
            _AFTER_SERVICES,
            _AFTER_SERVICES + '      <avslag><avslagsvedtak tjenesteType="21">'
            "<vedtaksdato>2025-01-01</vedtaksdato></avslagsvedtak></avslag>\n",
        ),
        "avslag",
        "<avslag>",
        id="avslag",
    ),
    pytest.param(
        (
            _AFTER_SERVICES,
            _AFTER_SERVICES
            + '      <klager><klage tjenesteType="21"><klagedato>2025-01-01</klagedato></klage></klager>\n',
        ),
        "klager",
        "<klager>",
        id="klager",
    ),
    pytest.param(
        (
            _AFTER_SERVICES,
            _AFTER_SERVICES + '      <tvang><tvangsvedtak vedtakID="T1" hjemmel="HOL9"><vedtaksdato>2025-01-01'
            "</vedtaksdato><startdato>2025-01-01</startdato></tvangsvedtak></tvang>\n",
        ),
        "tvang",
        "<tvang>",
        id="tvang",
    ),
]


@pytest.mark.parametrize(("change", "element", "needle"), NEW_IN_1_1_CASES)
def test_a_1_0_document_may_not_use_what_1_1_added(change: tuple[str, str], element: str, needle: str) -> None:
    text = document().replace(*change)
    assert text != document()
    error = invalid(text)
    assert len(error.issues) == 1
    first = error.issues[0]
    assert (first.line, first.element) == (line_of(text, needle), element)
    assert "1.1" in first.message
    # The same document as 1.1 is valid.
    read_all(text.replace('formatVersjon="1.0"', 'formatVersjon="1.1"'))


def test_a_1_0_document_reads_with_the_defaults_of_1_1() -> None:
    header, persons = read_all(document())
    assert (header.format_version, header.bydel_nr, header.kontaktperson) == ("1.0", None, None)
    assert all(p.background == PersonBackground() for p in persons)
    assert all(s.event_type == "N" and s.application_date is None for p in persons for s in p.services)


def test_the_writer_keeps_to_the_declared_version() -> None:
    person = PersonRecord("A", SYNTHETIC_FID, FidType.FNR, (), (), (), PersonBackground(housing=1))
    with pytest.raises(ValueError, match=r"1\.1"):
        write_export(io.BytesIO(), HEADER, [person])
    with pytest.raises(ValueError, match=r"1\.1"):
        write_export(io.BytesIO(), replace(HEADER, bydel_nr="030101"), [])
    with pytest.raises(ValueError, match="formatVersjon"):
        write_export(io.BytesIO(), replace(HEADER, format_version="1.2"), [])
    out = io.BytesIO()
    write_export(out, replace(HEADER, format_version="1.1"), [person])
    assert read_all(out.getvalue())[1] == [person]


# -------------------------------------------------------------------- writer -> reader, property-based

# The free fields as the chain takes them: no nine digits in a row, diagnosis codes in their code system's form
# (shared.iplos.free_fields; tests/gateway/test_free_fields.py shows the others refused).
XML_TEXT = (
    st.text(st.sampled_from("abcxyzæøåÆØÅ019 &<>\"'-.,()/"), min_size=1, max_size=30)
    .map(str.strip)
    .filter(bool)
    .filter(text_fits)
)
DATES = st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31))
SYNTHETIC_FIDS = st.sampled_from([SYNTHETIC_FID, SYNTHETIC_DNR, "12843624446", "03899441965", "67914837615"])


def regex(pattern: str) -> st.SearchStrategy[str]:
    return st.from_regex(pattern, fullmatch=True)


FREE_IDS = regex(r"[A-Za-z0-9_.:\-]{1,40}").filter(text_fits)
CODE_FORMS = {CodeSystem.ICPC2: r"[A-Z][0-9]{2}", CodeSystem.ICD10: r"[A-Z][0-9]{2}(\.?[0-9A-Z]{1,2})?"}
DIAGNOSES = st.sampled_from(CodeSystem).flatmap(
    lambda system: st.builds(Diagnosis, st.just(system), regex(CODE_FORMS[system]))
)


SERVICES = st.builds(
    Service,
    tjeneste_id=FREE_IDS,
    tjeneste_type=st.integers(0, 999),
    decision_date=st.none() | DATES,
    start_date=DATES,
    end_date=st.none() | DATES,
    hours_per_week=st.none() | st.integers(-99_999_999, 99_999_999).map(lambda n: n / 1000),
    org_nr=st.none() | regex(r"[0-9]{9}"),
    application_date=st.none() | DATES,
    event_type=st.sampled_from(sorted(EVENT_TYPES)),
)
BACKGROUNDS = st.builds(
    PersonBackground,
    housing=st.none() | st.integers(0, 99),
    household=st.none() | st.integers(0, 99),
    unpaid_help=st.none() | st.booleans(),
    assisted_communication=st.none() | st.booleans(),
    death_date=st.none() | DATES,
    assessed_by_doctor=st.none() | DATES,
    assessed_by_dentist=st.none() | DATES,
    individual_plan=st.none() | st.booleans(),
)
PERSONS = st.builds(
    PersonRecord,
    bruker_nr=regex(r"[A-Za-z0-9\-]{1,20}"),
    fid=SYNTHETIC_FIDS,
    fid_type=st.sampled_from(FidType),
    function_scores=st.lists(
        st.builds(FunctionScore, st.sampled_from(FUNCTION_VARIABLES), st.integers(0, 9), DATES), max_size=17
    ).map(tuple),
    diagnoses=st.lists(DIAGNOSES, max_size=3).map(tuple),
    services=st.lists(SERVICES, max_size=3).map(tuple),
    background=BACKGROUNDS,
    refusals=st.lists(st.builds(Refusal, st.integers(0, 999), st.none() | DATES, DATES), max_size=2).map(tuple),
    complaints=st.lists(
        st.builds(Complaint, st.integers(0, 999), DATES, st.none() | st.sampled_from(sorted(COMPLAINT_OUTCOMES))),
        max_size=2,
    ).map(tuple),
    coercion=st.lists(
        st.builds(
            Coercion,
            FREE_IDS,
            st.sampled_from(sorted(COERCION_BASES)),
            DATES,
            DATES,
            st.none() | DATES,
        ),
        max_size=2,
    ).map(tuple),
)
HEADERS = st.builds(
    ExportHeader,
    melding_guid=st.uuids().map(str),
    format_version=st.just("1.1"),
    navn_epj=XML_TEXT,
    leverandor=XML_TEXT,
    versjon_epj=XML_TEXT,
    rapporteringsaar=st.integers(2000, 2100),
    kommune_nr=regex(r"[0-9]{4}"),
    bydel_nr=st.none() | regex(r"[0-9]{6}"),
    kontaktperson=st.none()
    | st.builds(
        Contact,
        navn=XML_TEXT,
        telefon=st.none() | regex(r"(\+47 ?)?[0-9]([0-9 \-]{1,8}[0-9])?").filter(telefon_fits),
        epost=st.none() | regex(r"[a-z0-9._]{1,10}@[a-z0-9]{1,10}\.[a-z]{2,6}"),
    ),
)


@settings(max_examples=60, deadline=None)
@given(header=HEADERS, persons=st.lists(PERSONS, max_size=4))
def test_every_field_round_trips_through_writer_and_reader(header: ExportHeader, persons: list[PersonRecord]) -> None:
    out = io.BytesIO()
    assert write_export(out, header, persons) == len(persons)
    assert read_all(out.getvalue()) == (header, persons)


# ---------------------------------------------------------------------------------------- documentation

FORMAT_DOC = Path(__file__).resolve().parents[2] / "docs" / "iplos-format.md"


@pytest.mark.parametrize(
    "table",
    [SERVICE_TYPES, HOUSING_TYPES, HOUSEHOLD_TYPES, EVENT_TYPES, COERCION_BASES, COMPLAINT_OUTCOMES],
    ids=["services", "housing", "household", "events", "coercion", "outcomes"],
)
def test_the_format_document_lists_every_code(table: dict[int, str] | dict[str, str]) -> None:
    # The code lists in docs/iplos-format.md are copied from the model: a code added there must be added here.
    text = FORMAT_DOC.read_text(encoding="utf-8")
    for code, name in table.items():
        row = f"| `{code}` | {name}" if isinstance(code, str) else f"| {code} | {name}"
        assert row in text, row


def test_the_format_document_lists_every_function_variable_and_score() -> None:
    text = FORMAT_DOC.read_text(encoding="utf-8")
    for variable in FUNCTION_VARIABLES:
        assert f"| `{variable}` |" in text
    for score in VALID_SCORES:
        assert f"\n| {score} | " in text
    schema = etree.fromstring(export_schema_bytes())
    for name in {e.get("name") for e in schema.iter(f"{XS}element", f"{XS}attribute")}:
        assert f"`{name}`" in text or f"`@{name}`" in text, name
