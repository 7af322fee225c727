"""The gateway's fast path (``ExportReader.lines()``, ``shared/iplos/reader/_lines.py``) against the PersonRecord path.

For every person, ``PersonLine.line(ref, birth_year, sex)`` must be byte for byte
``encode_record(to_payload(person, ref, birth_year, sex))`` of the ``PersonRecord`` the same element gives, with the
same identity, and every refusal must be the same. Checked on the generator's exports (every optional element of
format 1.1, and the fault kinds the test kit injects) and on hand-written persons whose values take every lexical
form the XSD admits (leading zeros, signs, whitespace, xs:boolean's 1/0, decimals of every shape).
"""

from __future__ import annotations

import io
import random
import re
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iplos_testkit import write_export
from iplos_testkit.faults import inject_faults
from iplos_testkit.generator import generate_records
from shared import fnr
from shared.iplos.free_fields import text_fits
from shared.iplos.model import PersonRecord, Sex
from shared.iplos.payload import encode_record, to_payload
from shared.iplos.reader import ExportInvalid, ExportLimitExceeded, read_export
from shared.iplos.reader._lines import PersonLine

REF = "0123456789abcdef0123456789abcdef"
IDENTITIES: list[tuple[int | None, Sex | None]] = [(None, None), (1931, Sex.FEMALE), (2001, Sex.MALE), (1899, None)]


def both(data: bytes) -> tuple[list[PersonRecord], list[PersonLine]]:
    with read_export(io.BytesIO(data)) as reader:
        records = list(reader)
        assert reader.finished
    with read_export(io.BytesIO(data)) as reader:
        lines = list(reader.lines())
        assert reader.finished
    return records, lines


def assert_same(records: list[PersonRecord], lines: list[PersonLine]) -> None:
    assert len(records) == len(lines)
    for index, (record, person) in enumerate(zip(records, lines, strict=True)):
        assert (person.bruker_nr, person.fid, person.fid_type) == (record.bruker_nr, record.fid, record.fid_type)
        birth_year, sex = IDENTITIES[index % len(IDENTITIES)]
        expected = encode_record(to_payload(record, REF, birth_year, sex))
        assert person.line(REF, birth_year, sex) == expected, record.bruker_nr
    # And with what the gateway derives from the number itself.
    for record, person in zip(records, lines, strict=True):
        try:
            number = fnr.parse(record.fid)
            birth_year, sex = number.birth_year, number.sex
        except fnr.InvalidIdentityNumber:
            birth_year, sex = None, None
        assert person.line(REF, birth_year, sex) == encode_record(to_payload(record, REF, birth_year, sex))


def generated(persons: int, seed: int, *, fault_rate: float = 0.0) -> bytes:
    header, records = generate_records("0301", 2025, persons, seed)
    stream: Iterator[PersonRecord] = iter(records)
    if fault_rate:
        stream, _key = inject_faults(stream, year=2025, rate=fault_rate, rng=random.Random(seed))
    out = io.BytesIO()
    write_export(out, header, stream)
    return out.getvalue()


@pytest.mark.parametrize("seed", [1, 7, 2025])
def test_generated_exports_give_the_same_lines(seed: int) -> None:
    records, lines = both(generated(400, seed))
    # The generator's exports hold every optional part somewhere: the comparison covers each of them.
    assert any(r.background.death_date for r in records)
    assert any(r.refusals for r in records)
    assert any(r.complaints for r in records)
    assert any(r.coercion for r in records)
    assert any(s.application_date and s.hours_per_week and s.org_nr for r in records for s in r.services)
    assert any(s.event_type != "N" for r in records for s in r.services)
    assert_same(records, lines)


def test_exports_with_every_fault_kind_give_the_same_lines() -> None:
    records, lines = both(generated(600, 11, fault_rate=0.5))
    assert_same(records, lines)


# -- hand-written persons: every lexical form the schema admits

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<iplosMelding xmlns="urn:iplos-chain:export:1" formatVersjon="{version}">
  <meldingshode>
    <meldingGUID>0f8fad5b-d9cb-469f-a165-70867728950e</meldingGUID>
    <epj><navnEPJ>Gerica</navnEPJ><leverandor>Tietoevry</leverandor><versjonEPJ>7.4</versjonEPJ></epj>
    <rapporteringsaar>2025</rapporteringsaar>
    <kommuneNr>0301</kommuneNr>
  </meldingshode>
  <personer>
"""
TAIL = """  </personer>
</iplosMelding>
"""

VARIABLES = ["sosialDeltakelse", "hukommelse", "syn", "horsel", "spise", "toalett"]


def padded(values: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """A typed value with the whitespace xs:int, xs:date, xs:boolean and xs:decimal collapse."""
    return st.tuples(st.sampled_from(["", " ", "\n  "]), values, st.sampled_from(["", " ", "\t"])).map("".join)


def integer(low: int, high: int) -> st.SearchStrategy[str]:
    return padded(
        st.tuples(st.sampled_from(["", "+", "0", "00"]), st.integers(low, high)).map(lambda t: f"{t[0]}{t[1]}")
    )


dates = padded(st.dates(min_value=__import__("datetime").date(1900, 1, 1)).map(lambda d: d.isoformat()))
booleans = padded(st.sampled_from(["true", "false", "1", "0"]))
hours = padded(
    st.sampled_from(["0", "4", "4.5", "4.50", "004.500", "+3.25", "0.001", "12345.678", ".5", "7.", "168", "-1"])
)
# Diagnosis codes in their code system's form and ids without nine digits in a row: the chain refuses the rest of
# what the XSD admits (shared.iplos.free_fields), and test_a_value_that_could_carry_an_identity_number_is_refused_
# the_same_way below shows both paths refuse it alike.
_CODE_FORMS = {"ICPC-2": r"[A-Z][0-9]{2}", "ICD-10": r"[A-Z][0-9]{2}(\.?[0-9A-Z]{1,2})?"}
diagnoses_drawn = st.sampled_from(sorted(_CODE_FORMS)).flatmap(
    lambda system: st.tuples(st.just(system), st.from_regex(_CODE_FORMS[system], fullmatch=True))
)
ids = st.from_regex(r"[A-Za-z0-9_.:\-]{1,40}", fullmatch=True).filter(text_fits)


def optional(tag: str, values: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(st.just(""), values.map(lambda v: f"<{tag}>{v}</{tag}>"))


@st.composite
def persons(draw: st.DrawFn, index: int = 0) -> str:
    parts = [f"<brukerNr>P{index}</brukerNr>"]
    fid = draw(st.from_regex(r"[0-9]{11}", fullmatch=True))
    parts.append(f'<fid type="{draw(st.sampled_from(["FNR", "DNR", "HNR", "FHN"]))}">{fid}</fid>')
    if draw(st.booleans()):
        parts.append(
            "<bakgrunn>"
            + draw(optional("bolig", integer(0, 99)))
            + draw(optional("husstand", integer(0, 99)))
            + draw(optional("privatHjelp", booleans))
            + draw(optional("tilrettelagtKommunikasjon", booleans))
            + draw(optional("dodsdato", dates))
            + draw(optional("vurdertAvLege", dates))
            + draw(optional("vurdertAvTannhelse", dates))
            + draw(optional("individuellPlan", booleans))
            + "</bakgrunn>"
        )
    if draw(st.booleans()):
        scores = draw(st.lists(st.tuples(st.sampled_from(VARIABLES), integer(0, 9), dates), max_size=5))
        # The attribute order is free in XML: the fast path takes the XSD's order, any other goes by name.
        parts.append(
            "<funksjon>"
            + "".join(
                draw(
                    st.sampled_from(
                        [
                            f'<vurdering variabel="{v}" skaar="{s}" dato="{d}"/>',
                            f'<vurdering dato="{d}" skaar="{s}" variabel="{v}"/>',
                            f'<vurdering variabel="{v}" dato="{d}" skaar="{s}"/>',
                        ]
                    )
                )
                for v, s, d in scores
            )
            + "</funksjon>"
        )
    if draw(st.booleans()):
        diagnoses = draw(st.lists(diagnoses_drawn, min_size=1, max_size=3))
        parts.append(
            "<diagnoser>" + "".join(f'<diagnose kodeverk="{s}" kode="{c}"/>' for s, c in diagnoses) + "</diagnoser>"
        )
    if draw(st.booleans()):
        services = []
        for _ in range(draw(st.integers(1, 3))):
            event = draw(st.sampled_from(["", ' hendelse="N"', ' hendelse="M"', ' hendelse="T"', ' hendelse="C"']))
            services.append(
                f'<tjeneste tjenesteID="{draw(ids)}" tjenesteType="{draw(integer(0, 999))}"{event}>'
                + draw(optional("soknadsdato", dates))
                + draw(optional("vedtaksdato", dates))
                + f"<startdato>{draw(dates)}</startdato>"
                + draw(optional("sluttdato", dates))
                + draw(optional("timerPerUke", hours))
                + draw(optional("orgNr", st.from_regex(r"[0-9]{9}", fullmatch=True)))
                + "</tjeneste>"
            )
        parts.append("<tjenester>" + "".join(services) + "</tjenester>")
    if draw(st.booleans()):
        parts.append(
            "<avslag>"
            + "".join(
                f'<avslagsvedtak tjenesteType="{draw(integer(0, 999))}">'
                + draw(optional("soknadsdato", dates))
                + f"<vedtaksdato>{draw(dates)}</vedtaksdato></avslagsvedtak>"
                for _ in range(draw(st.integers(1, 2)))
            )
            + "</avslag>"
        )
    if draw(st.booleans()):
        outcomes = st.sampled_from(["medhold", "delvis", "ikke-medhold", "under-behandling"])
        parts.append(
            "<klager>"
            + "".join(
                f'<klage tjenesteType="{draw(integer(0, 999))}"><klagedato>{draw(dates)}</klagedato>'
                + draw(optional("utfall", outcomes))
                + "</klage>"
                for _ in range(draw(st.integers(1, 2)))
            )
            + "</klager>"
        )
    if draw(st.booleans()):
        parts.append(
            "<tvang>"
            + "".join(
                f'<tvangsvedtak vedtakID="{draw(ids)}" hjemmel="{draw(st.sampled_from(["HOL9", "PBRL4A"]))}">'
                f"<vedtaksdato>{draw(dates)}</vedtaksdato><startdato>{draw(dates)}</startdato>"
                + draw(optional("sluttdato", dates))
                + "</tvangsvedtak>"
                for _ in range(draw(st.integers(1, 2)))
            )
            + "</tvang>"
        )
    return "<person>" + "".join(parts) + "</person>\n"


@st.composite
def documents(draw: st.DrawFn, version: str = "1.1") -> bytes:
    count = draw(st.integers(1, 4))
    body = "".join(draw(persons(index)) for index in range(count))
    return (HEAD.format(version=version) + body + TAIL).encode()


def outcome(data: bytes, lines: bool) -> list[object] | tuple[str, object]:
    """What reading ``data`` gives: the persons (as comparable values), or the refusal."""
    try:
        with read_export(io.BytesIO(data)) as reader:
            if lines:
                return [(p.bruker_nr, p.fid, p.fid_type, p.line(REF, 1950, Sex.MALE)) for p in reader.lines()]
            return [(r.bruker_nr, r.fid, r.fid_type, encode_record(to_payload(r, REF, 1950, Sex.MALE))) for r in reader]
    except ExportLimitExceeded as error:
        return ("limit", (error.limit, error.line))
    except ExportInvalid as error:
        return ("invalid", error.issues)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_every_lexical_form_gives_the_same_line(data: bytes) -> None:
    expected = outcome(data, lines=False)
    assert outcome(data, lines=True) == expected


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents(version="1.0"))
def test_format_1_0_refuses_the_same_way(data: bytes) -> None:
    # A 1.0 document with a part 1.1 added is refused, by both paths, with the same issue.
    expected = outcome(data, lines=False)
    assert outcome(data, lines=True) == expected


def test_a_refused_value_is_refused_the_same_way() -> None:
    # 31 February matches the XSD's pattern but is no date: both paths refuse it, with the same issue.
    text = generated(5, 3).decode()
    start = text.index("<startdato>") + len("<startdato>")
    broken = (text[:start] + "2025-02-31" + text[start + 10 :]).encode()
    refused = outcome(broken, lines=True)
    assert refused == outcome(broken, lines=False)
    assert isinstance(refused, tuple)
    assert refused[0] == "invalid"


@pytest.mark.parametrize(
    ("pattern", "replacement"),
    [
        (r'kode="[^"]*"', 'kode="{fid10}"'),
        (r'tjenesteID="[^"]*"', 'tjenesteID="T-{fid6}-{fid5}"'),
        (r'vedtakID="[^"]*"', 'vedtakID="V {fid6} {fid5}"'),
    ],
    ids=["diagnosis code", "tjenesteID", "vedtakID"],
)
def test_a_value_that_could_carry_an_identity_number_is_refused_the_same_way(pattern: str, replacement: str) -> None:
    # The test kit's own (synthetic) identity number of a person, put where a careless EPJ would put it.
    text = generated(300, 3).decode()  # 300 persons: a few with coercion decisions
    fid = re.findall(r">([0-9]{11})</fid>", text)[-1]
    value = replacement.format(fid10=fid[:10], fid6=fid[:6], fid5=fid[6:])
    assert re.search(pattern, text)
    broken = re.sub(pattern, value, text, count=1).encode()
    refused = outcome(broken, lines=True)
    assert refused == outcome(broken, lines=False)
    assert isinstance(refused, tuple)
    assert refused[0] == "invalid"
    assert fid[:6] not in str(refused)
    assert fid[6:] not in str(refused)


def test_line_checks_its_arguments() -> None:
    _records, lines = both(generated(3, 5))
    with pytest.raises(TypeError):
        lines[0].line(REF, "1950", None)  # type: ignore[arg-type]
    # A reference is escaped like any JSON string.
    assert b'"ref":"a\\"b"' in lines[0].line('a"b', None, None)
