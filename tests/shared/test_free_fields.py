"""The shapes of the free fields that reach the registry (shared.iplos.free_fields): what a care-record system
writes passes, and an identity number (the test kit's synthetic one, month + 80) does not, however it is split."""

from __future__ import annotations

import datetime as dt
import random
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared import fnr
from shared.iplos.free_fields import MAX_DIGIT_RUN, diagnosis_code_fits, telefon_fits, text_fits

NUMBER = fnr.synthetic_for(dt.date(1980, 1, 1), fnr.Sex.FEMALE, random.Random(17))


def test_the_number_is_synthetic() -> None:
    assert NUMBER[2:4] == "81"  # January plus 80
    assert fnr.parse(NUMBER).birth_year == 1980


@pytest.mark.parametrize(
    "text",
    [
        "T-2E59A05DD3ACCEE7",
        "100001-01",
        "TV-2024-0388",
        "TV 2024/0388",
        "2024.3",
        "Visma Flyt Omsorg",
        "Kari Testesen",
        "kari.testesen@k0301.kommune.example",
        "12345678",
        "01018A012345",  # split by a letter: the residual, docs/threat-model.md 3.2
    ],
)
def test_what_a_care_record_system_writes_fits(text: str) -> None:
    assert text_fits(text)


@pytest.mark.parametrize(
    "form",
    [
        "{n}",
        "{n6} {n5}",
        "{n6}-{n5}",
        "T-{n6}-{n5}",
        "{n9}",  # nine digits: both check digits follow
        "{dotted}",
        "k.{n}@kommune.example",
        "Kari {n6}_{n5}",
        "{wide}",  # full-width digits are digits
        "{superscript}",  # and so are superscript and circled ones (read as the digits they show)
        "{circled}",
    ],
)
def test_an_identity_number_in_a_text_does_not_fit(form: str) -> None:
    text = form.format(
        n=NUMBER,
        n6=NUMBER[:6],
        n5=NUMBER[6:],
        n9=NUMBER[:9],
        dotted=".".join(NUMBER),
        wide="".join(chr(0xFF10 + int(d)) for d in NUMBER),
        superscript="".join("⁰¹²³⁴⁵⁶⁷⁸⁹"[int(d)] for d in NUMBER),
        circled="".join("⓪①②③④⑤⑥⑦⑧⑨"[int(d)] for d in NUMBER),
    )
    assert not text_fits(text)


# The rule as written: a digit, then eight more with only non-alphanumeric characters between them.
RULE = re.compile(r"\d(?:[\W_]*\d){" + str(MAX_DIGIT_RUN) + "}")


@given(st.text(st.sampled_from("0123456789abXY -._:/+@ø١"), max_size=40))
def test_the_ascii_fast_path_answers_as_the_rule(text: str) -> None:
    assert text_fits(text) == (RULE.search(text) is None)


@pytest.mark.parametrize(
    ("system", "code", "fits"),
    [
        ("ICPC-2", "K86", True),
        ("ICPC-2", "P70", True),
        ("ICPC-2", "K86.1", False),
        ("ICPC-2", "-30", False),
        ("ICD-10", "F03", True),
        ("ICD-10", "I63.9", True),
        ("ICD-10", "G30.1", True),
        ("ICD-10", "S72.00", True),
        ("ICD-10", "G301", True),
        ("ICD-10", "I63.912", False),
        ("ICD-10", NUMBER[:10], False),
        ("ICPC-2", NUMBER[:3], False),
        ("ICD-9", "F03", False),
    ],
)
def test_a_diagnosis_code_has_its_code_systems_form(system: str, code: str, fits: bool) -> None:
    assert diagnosis_code_fits(system, code) is fits


@pytest.mark.parametrize(
    ("telefon", "fits"),
    [
        ("+47 22 33 44 55", True),
        ("0047 22334455", True),
        ("22334455", True),
        ("+46 8 123 456 78", False),
        (f"+47 {NUMBER}", False),
        (f"{NUMBER[:6]} {NUMBER[6:]}", False),
        ("+47 123 456 789", False),
    ],
)
def test_a_telefon_is_a_norwegian_number(telefon: str, fits: bool) -> None:
    assert telefon_fits(telefon) is fits
