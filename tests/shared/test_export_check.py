"""``check_export``: every schema problem of an export, each where it is and in words, in bounded memory.

The independent oracle is lxml validating the whole document as one tree (what the check must never need to do):
the check must find exactly the errors it finds, on the same lines. The faults come from
``iplos_testkit.schema_faults`` (synthetic numbers only).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from iplos_testkit.generator import generate_export
from iplos_testkit.schema_faults import SCHEMA_FAULTS, applicable_persons, spread_faults, with_faults
from shared.iplos.reader import ExportInvalid, check_export, read_export
from shared.iplos.reader._redaction import describe
from shared.iplos.reader._type_help import TYPE_HELP, type_help
from shared.iplos.schema import (
    declared_types,
    enumerations,
    export_schema,
    export_schema_bytes,
    simple_type_names,
)

XS = "{http://www.w3.org/2001/XMLSchema}"


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("check") / "clean.xml"
    generate_export("4601", 2025, 400, 5, path)
    return path


def whole_tree_errors(path: Path) -> list[tuple[int, str]]:
    """(line, redacted message) of every error lxml finds validating the whole file as one tree."""
    schema = export_schema()
    schema.validate(etree.parse(str(path)))
    return [(entry.line, describe(entry.message)[2]) for entry in schema.error_log]


def test_every_simple_type_has_a_sentence_and_every_name_one_type() -> None:
    for type_name in simple_type_names():
        assert type_help(type_name) is not None, f"{type_name} has no sentence in _type_help.TYPE_HELP"
    assert not set(TYPE_HELP) - simple_type_names(), "a sentence for a type the schema no longer has"
    document = etree.fromstring(export_schema_bytes())
    seen: dict[str, set[str]] = {}
    for declaration in document.iter(f"{XS}element", f"{XS}attribute"):
        if declaration.get("type"):
            key = ("@" if declaration.tag == f"{XS}attribute" else "") + str(declaration.get("name"))
            seen.setdefault(key, set()).add(str(declaration.get("type")))
    assert {name: types for name, types in seen.items() if len(types) > 1} == {}
    # fid has simple content: its value's type is its base, the identity number's form.
    assert declared_types()["fid"] == "fidVerdiType"
    assert enumerations()["fidTypeType"] == ("FNR", "DNR", "HNR", "FHN")


def test_a_valid_export_is_valid_and_counted(clean: Path) -> None:
    check = check_export(clean)
    assert (check.valid, check.total, check.persons, check.problems) == (True, 0, 400, ())
    assert check.header is not None
    assert check.header.kommune_nr == "4601"


def test_every_fault_is_found_where_it_is_with_its_rule_and_person(clean: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.xml"
    placed = spread_faults(clean, bad, [fault.name for fault in SCHEMA_FAULTS])
    check = check_export(bad)
    assert not check.valid
    assert check.complete
    assert check.persons == 400
    assert check.total == len(placed)
    found = [(p.line, p.rule, p.element, p.attribute, p.person) for p in check.problems]
    expected = [(f.line, f.fault.rule, f.fault.element, f.fault.attribute, f.person) for f in placed]
    assert found == expected
    # The oracle: a validation of the whole tree finds the same errors on the same lines.
    assert sorted((p.line, p.technical) for p in check.problems) == sorted(whole_tree_errors(bad))
    for problem, fault in zip(check.problems, placed, strict=True):
        assert problem.path.startswith(f"iplosMelding/personer/person[{fault.person}]/"), problem.path
        assert problem.bruker_nr == fault.bruker_nr
        if fault.bruker_nr is not None:
            assert f"brukerNr {fault.bruker_nr}" in problem.message
            assert f"brukerNr {fault.bruker_nr}" in problem.message_nb
        else:
            assert f"person no. {fault.person} in the file" in problem.message
        assert problem.message != problem.message_nb


def test_the_sentences_say_what_is_wrong_and_never_the_value(clean: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.xml"
    spread_faults(clean, bad, [fault.name for fault in SCHEMA_FAULTS])
    by_rule = {p.rule: p for p in check_export(bad).problems}
    assert by_rule["not-a-date"].message.startswith("The date in <vedtaksdato> of person brukerNr ")
    assert by_rule["not-a-date"].message.endswith("is not a real date: that day does not exist")
    assert "er ikke en gyldig dato" in by_rule["not-a-date"].message_nb
    assert "not written YYYY-MM-DD" in by_rule["date-form"].message
    assert "ÅÅÅÅ-MM-DD" in by_rule["date-form"].message_nb
    assert by_rule["not-in-list"].message.endswith("must be one of FNR, DNR, HNR, FHN")
    assert "a whole number from 0 to 9" in by_rule["out-of-range"].message
    assert "lacks a required attribute" in by_rule["missing-attribute"].message
    assert by_rule["missing-attribute"].attribute == "variabel"
    document = json.dumps([p.as_json() for p in check_export(bad).problems], ensure_ascii=False)
    for value in ("2025-02-30", "15.04.2025", "XYZ", '"12"', "hage", " ja"):
        assert value not in document, value
    # The orgNr fault put the person's identity number there: no 11 digits anywhere in the answer.
    assert not re.search(r"\d{11}", document)


def test_the_total_counts_them_all_and_the_first_are_listed_in_order(clean: Path, tmp_path: Path) -> None:
    bad = tmp_path / "many.xml"
    placed = with_faults(clean, bad, [("yes-no", n) for n in applicable_persons(clean, "yes-no")])
    check = check_export(bad, shown=25)
    assert check.total == len(placed) > 100
    assert [p.line for p in check.problems] == [f.line for f in placed[:25]]
    assert check.more == len(placed) - 25
    assert check.as_json()["error_count"] == len(placed)
    assert check.as_json()["errors_shown"] == 25


def test_header_and_root_errors_have_their_place(clean: Path, tmp_path: Path) -> None:
    text = clean.read_text(encoding="utf-8")
    broken = text.replace("<kommuneNr>4601</kommuneNr>", "<kommuneNr>46O1</kommuneNr>").replace(
        'formatVersjon="1.1"', 'formatVersjon="2.0"'
    )
    bad = tmp_path / "header.xml"
    bad.write_text(broken, encoding="utf-8")
    check = check_export(bad)
    assert [(p.rule, p.path, p.line) for p in check.problems] == [
        ("not-in-list", "iplosMelding/@formatVersjon", 2),
        ("wrong-form", "iplosMelding/meldingshode/kommuneNr", broken[: broken.index("46O1")].count("\n") + 1),
    ]
    assert check.problems[1].message == (
        "<kommuneNr> in the header (meldingshode) must be a kommunenummer of four digits"
    )
    assert sorted((p.line, p.technical) for p in check.problems) == sorted(whole_tree_errors(bad))


def test_elements_among_the_persons_that_are_not_persons_are_each_reported_and_dropped(
    clean: Path, tmp_path: Path
) -> None:
    text = clean.read_text(encoding="utf-8")
    parts = text.split("<person>")
    parts[5] = parts[5].replace("</person>", "</person><notat>x</notat>", 1)
    parts[9] = parts[9].replace("</person>", "</person><notat>y</notat>", 1)
    bad = tmp_path / "strays.xml"
    bad.write_text("<person>".join(parts), encoding="utf-8")
    check = check_export(bad)
    assert [(p.rule, p.element) for p in check.problems] == [("unexpected-element", "[unknown element]")] * 2
    assert check.persons == 400
    assert "allowed" not in check.problems[0].message or "<person>" in check.problems[0].message


def test_a_document_that_is_not_well_formed_is_read_to_the_break(clean: Path, tmp_path: Path) -> None:
    text = clean.read_text(encoding="utf-8")
    bad = tmp_path / "cut.xml"
    persons = text.split("<person>")
    persons[2] = persons[2].replace("<privatHjelp>true</privatHjelp>", "<privatHjelp>ja</privatHjelp>", 1)
    persons[2] = persons[2].replace("<privatHjelp>false</privatHjelp>", "<privatHjelp>ja</privatHjelp>", 1)
    cut = "<person>".join(persons)
    cut = cut[: cut.index("<person>", len(cut) // 2) + 20]  # the file ends inside a person
    bad.write_text(cut, encoding="utf-8")
    check = check_export(bad)
    assert not check.complete
    assert not check.valid
    assert check.problems[-1].rule == "not-well-formed"
    assert "nothing after this point was checked" in check.problems[-1].message
    assert check.problems[-1].line == cut.count("\n") + 1
    assert check.total == len(check.problems)


def test_a_doctype_is_refused_before_anything_is_parsed(clean: Path, tmp_path: Path) -> None:
    text = clean.read_text(encoding="utf-8")
    bad = tmp_path / "doctype.xml"
    bad.write_text(text.replace("?>", '?>\n<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>', 1))
    check = check_export(bad)
    assert [(p.rule, p.line) for p in check.problems] == [("refused", 2)]
    assert check.problems[0].message_nb == "En DOCTYPE-deklarasjon er ikke tillatt"
    assert not check.complete


def test_a_format_1_1_element_in_a_1_0_document_is_named(clean: Path, tmp_path: Path) -> None:
    text = clean.read_text(encoding="utf-8").replace('formatVersjon="1.1"', 'formatVersjon="1.0"', 1)
    # Keep only a 1.1 element in one person: take the 1.1 parts out of the header, leave a <bakgrunn> somewhere.
    text = re.sub(r"\s*<bydelNr>[^<]*</bydelNr>|\s*<kontaktperson>.*?</kontaktperson>", "", text, flags=re.S)
    persons = text.split("<person>")
    kept = next(i for i, p in enumerate(persons) if i and "<bakgrunn>" in p)
    for i in range(1, len(persons)):
        if i != kept:
            persons[i] = re.sub(
                r"<bakgrunn>.*?</bakgrunn>|<avslag>.*?</avslag>|<klager>.*?</klager>|<tvang>.*?</tvang>"
                r"|<soknadsdato>[^<]*</soknadsdato>| hendelse=\"[^\"]*\"",
                "",
                persons[i],
                flags=re.S,
            )
    persons[kept] = re.sub(
        r"<avslag>.*?</avslag>|<klager>.*?</klager>|<tvang>.*?</tvang>|<soknadsdato>[^<]*</soknadsdato>"
        r"| hendelse=\"[^\"]*\"",
        "",
        persons[kept],
        flags=re.S,
    )
    bad = tmp_path / "old.xml"
    bad.write_text("<person>".join(persons), encoding="utf-8")
    check = check_export(bad)
    assert [(p.rule, p.element, p.person) for p in check.problems] == [("newer-than-declared", "bakgrunn", kept)]
    assert "new in format version 1.1" in check.problems[0].message


def test_the_check_and_the_reader_agree_on_which_files_are_refused(clean: Path, tmp_path: Path) -> None:
    for fault in SCHEMA_FAULTS:
        bad = tmp_path / f"{fault.name}.xml"
        spread_faults(clean, bad, [fault.name])
        with pytest.raises(ExportInvalid), read_export(bad) as reader:
            for _ in reader:
                pass
        assert not check_export(bad).valid


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from([f.name for f in SCHEMA_FAULTS]), st.integers(1, 400)), max_size=12))
def test_any_mix_of_faults_gives_what_the_whole_tree_gives(clean: Path, tmp_path: Path, faults: list) -> None:  # type: ignore[type-arg]
    persons = clean.read_text(encoding="utf-8").split("<person>")[1:]
    by_name = {fault.name: fault for fault in SCHEMA_FAULTS}
    applicable = {person: name for name, person in faults if re.search(by_name[name].pattern, persons[person - 1])}
    bad = tmp_path / "mix.xml"
    with_faults(clean, bad, [(name, person) for person, name in applicable.items()])
    check = check_export(bad)
    assert Counter((p.line, p.technical) for p in check.problems) == Counter(whole_tree_errors(bad))
    assert check.valid == (not applicable)
