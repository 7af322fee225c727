"""Tests for shared.fnr.

Only synthetic numbers appear as literals here (month + 80, month + 40, or numbers that fail the classic
check). Ordinary-looking numbers are built at runtime from a date and an individnummer, because a
repository hook flags any eleven-digit literal that passes the classic check with a month 01-12.
"""

from __future__ import annotations

import calendar
import random
from collections.abc import Iterable
from datetime import date

import pytest
from hypothesis import assume, given, reject, settings
from hypothesis import strategies as st
from stdnum.no import fodselsnummer as stdnum_fnr

from shared import fnr
from shared.fnr import (
    CheckDigitRule,
    FnrKind,
    IdentityNumber,
    InvalidCheckDigit,
    InvalidDate,
    InvalidIdentityNumber,
    InvalidIndividualNumber,
    NotDigits,
    WrongLength,
    check_digits,
    is_valid,
    make_synthetic,
    parse,
    synthetic_for,
)
from shared.iplos import model

# Independent reference arithmetic (not the module's), so the tests check the module against the rules.
K1_WEIGHTS = (3, 7, 6, 1, 8, 9, 4, 5, 2)
K2_WEIGHTS = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)


def weighted(digits: str, weights: Iterable[int]) -> int:
    return sum(w * int(d) for w, d in zip(weights, digits, strict=False))


def k2_for(first10: str) -> int | None:
    k2 = (11 - weighted(first10, K2_WEIGHTS) % 11) % 11
    return None if k2 == 10 else k2


def complete_with_k1_sum(first9: str, k1_sum: int) -> str | None:
    """first9 plus a K1 making the extended K1 sum ``k1_sum`` mod 11 and the matching K2, or None."""
    d10 = (k1_sum - weighted(first9, K1_WEIGHTS)) % 11
    if d10 > 9:
        return None
    k2 = k2_for(f"{first9}{d10}")
    return None if k2 is None else f"{first9}{d10}{k2}"


def first_valid(ddmmyy: str, individuals: Iterable[int]) -> tuple[str, int]:
    """The first classic-valid number with that date part and one of the individnummer, and that number."""
    for individual in individuals:
        first9 = f"{ddmmyy}{individual:03d}"
        try:
            return first9 + check_digits(first9), individual
        except InvalidCheckDigit:
            continue
    raise AssertionError("no individnummer gives valid check digits")


def valid_with_some_day(month: int, yy: int, individual: int) -> tuple[str, int]:
    """A classic-valid number for that month, year and individnummer, varying only the day."""
    for day in range(1, 29):
        first9 = f"{day:02d}{month:02d}{yy:02d}{individual:03d}"
        try:
            return first9 + check_digits(first9), day
        except InvalidCheckDigit:
            continue
    raise AssertionError("no day gives valid check digits")


def assert_no_leak(text: str, number: str) -> None:
    if len(number) < 6:  # too short to be told apart from ordinary text
        return
    assert number not in text
    for i in range(len(number) - 5):
        assert number[i : i + 6] not in text


def assert_rejected(number: str, error: type[InvalidIdentityNumber], rule: str) -> None:
    with pytest.raises(error) as info:
        parse(number)
    assert info.value.rule == rule
    assert not is_valid(number)
    for text in (str(info.value), repr(info.value), *map(str, info.value.args)):
        assert_no_leak(text, number)


# --- published 2032 examples ------------------------------------------------------------------------


def test_published_2032_only_example() -> None:
    parsed = parse("30108299939")
    assert parsed.check_rule is CheckDigitRule.RULE_2032
    assert parsed.sex is None
    assert parsed.kind is FnrKind.FNR
    assert not parsed.synthetic
    # 30 October exists in both 1982 and 2082: the century is ambiguous, so no birth date.
    assert parsed.birth_date is None
    assert parsed.birth_year is None


@pytest.mark.parametrize(
    ("first9", "published_check_digits", "birth_date"),
    [("020132999", "97", date(2032, 1, 2)), ("301082999", "20", date(1982, 10, 30))],
)
def test_published_2032_examples_that_satisfy_the_classic_rule(
    first9: str, published_check_digits: str, birth_date: date
) -> None:
    # Two of Skatteetaten's three 2032 examples have the classic K1, so they cannot be told apart from
    # classic numbers: they parse as CLASSIC, with the classic sex and century. Built at runtime (see top).
    assert check_digits(first9) == published_check_digits
    parsed = parse(first9 + published_check_digits)
    assert parsed.check_rule is CheckDigitRule.CLASSIC
    assert parsed.sex is model.Sex.MALE
    assert parsed.birth_date == birth_date


def test_2032_rule_allows_four_k1_values() -> None:
    accepted = {}
    for d10 in range(10):
        first10 = f"301082999{d10}"
        k2 = k2_for(first10)
        if k2 is not None and is_valid(f"{first10}{k2}"):
            accepted[d10] = parse(f"{first10}{k2}").check_rule
    assert accepted == {
        2: CheckDigitRule.CLASSIC,
        3: CheckDigitRule.RULE_2032,
        4: CheckDigitRule.RULE_2032,
        5: CheckDigitRule.RULE_2032,
    }


def test_2032_only_number_is_accepted_where_classic_k1_would_be_10() -> None:
    # Find a Tenor prefix whose classic K1 is 10: check_digits refuses it, the 2032 rule still allows it.
    for individual in range(500, 1000):
        first9 = f"158520{individual:03d}"
        if weighted(first9, K1_WEIGHTS) % 11 == 1:
            break
    else:
        pytest.fail("no prefix with K1 = 10")
    with pytest.raises(InvalidCheckDigit) as info:
        check_digits(first9)
    assert info.value.rule == "check-digit"
    numbers = [n for s in (1, 2, 3) if (n := complete_with_k1_sum(first9, s)) is not None]
    assert numbers
    for number in numbers:
        assert parse(number).check_rule is CheckDigitRule.RULE_2032


def test_2032_only_birth_date_is_kept_only_when_unambiguous() -> None:
    # 29 February 00 exists in 2000 but not in 1900: the only unambiguous case.
    leap = next(n for i in range(1000) if (n := complete_with_k1_sum(f"290200{i:03d}", 2)))
    assert parse(leap).birth_date == date(2000, 2, 29)
    assert parse(leap).sex is None
    # The same date in the Tenor form, with the kind and flag still derived.
    tenor = next(n for i in range(1000) if (n := complete_with_k1_sum(f"298200{i:03d}", 3)))
    assert parse(tenor).kind is FnrKind.SYNTHETIC_TENOR
    assert parse(tenor).synthetic
    assert parse(tenor).birth_date == date(2000, 2, 29)
    # 29 February 01 exists in neither 1901 nor 2001; 31 April never exists.
    for ddmmyy in ("298201", "318485", "718485"):
        number = next(n for i in range(1000) if (n := complete_with_k1_sum(f"{ddmmyy}{i:03d}", 1)))
        assert_rejected(number, InvalidDate, "date")


# --- classic rule: kinds and century table -----------------------------------------------------------


@pytest.mark.parametrize(
    ("day_offset", "month_offset", "kind", "synthetic"),
    [
        (0, 0, FnrKind.FNR, False),
        (40, 0, FnrKind.D_NUMBER, False),
        (0, 40, FnrKind.H_NUMBER, False),
        (0, 80, FnrKind.SYNTHETIC_TENOR, True),
        (40, 80, FnrKind.D_NUMBER, True),
        (40, 40, FnrKind.D_NUMBER, False),
    ],
)
def test_kinds(day_offset: int, month_offset: int, kind: FnrKind, synthetic: bool) -> None:
    # Odd individnummer 101, 103, ...: male, 1900s.
    number, _ = first_valid(f"{15 + day_offset:02d}{6 + month_offset:02d}85", range(101, 500, 2))
    parsed = parse(number)
    assert parsed.kind is kind
    assert parsed.synthetic is synthetic
    assert parsed.check_rule is CheckDigitRule.CLASSIC
    assert parsed.birth_date == date(1985, 6, 15)
    assert parsed.birth_year == 1985
    assert parsed.sex is model.Sex.MALE
    assert parsed.value == number


def test_sex_from_ninth_digit() -> None:
    number, _ = first_valid("158485", range(100, 500, 2))
    assert parse(number).sex is model.Sex.FEMALE
    assert fnr.Sex is model.Sex


@pytest.mark.parametrize("lead", ["8", "9"])
def test_fh_number_has_no_date_or_sex(lead: str) -> None:
    # The "date" part is deliberately no date at all: an FH-number is random after its first digit.
    number, _ = first_valid(f"{lead}99999", range(1000))
    parsed = parse(number)
    assert parsed.kind is FnrKind.FH_NUMBER
    assert parsed.birth_date is None
    assert parsed.sex is None
    assert not parsed.synthetic


@pytest.mark.parametrize(
    ("individual", "yy", "year"),
    [
        pytest.param(500, 54, 1854, id="500-749,yy>=54:1854-1899:low"),
        pytest.param(749, 99, 1899, id="500-749,yy>=54:1854-1899:high"),
        pytest.param(0, 0, 1900, id="000-499:1900-1999:low"),
        pytest.param(499, 99, 1999, id="000-499:1900-1999:high"),
        pytest.param(900, 40, 1940, id="900-999,yy>=40:1940-1999:low"),
        pytest.param(999, 99, 1999, id="900-999,yy>=40:1940-1999:high"),
        pytest.param(500, 0, 2000, id="500-999,yy<=39:2000-2039:low"),
        pytest.param(999, 39, 2039, id="500-999,yy<=39:2000-2039:high"),
        pytest.param(800, 20, 2020, id="500-999,yy<=39:2000-2039:750-899"),
    ],
)
def test_century_table(individual: int, yy: int, year: int) -> None:
    for month_offset in (0, 80):
        number, day = valid_with_some_day(3 + month_offset, yy, individual)
        assert parse(number).birth_date == date(year, 3, day)


@pytest.mark.parametrize(("individual", "yy"), [(500, 53), (749, 40), (750, 40), (899, 99), (750, 54)])
def test_individual_number_outside_century_table(individual: int, yy: int) -> None:
    number, _ = valid_with_some_day(83, yy, individual)
    assert_rejected(number, InvalidIndividualNumber, "individual-number")


# --- each invalid rule ------------------------------------------------------------------------------


def a_valid_number() -> str:
    return first_valid("158485", range(101, 500, 2))[0]


@pytest.mark.parametrize("number", ["", "1", "8" * 10, "8" * 12, "158485123456", "15848512345 "])
def test_wrong_length(number: str) -> None:
    assert_rejected(number, WrongLength, "length")


def test_wrong_length_of_a_valid_number_with_extra_digit() -> None:
    assert_rejected(a_valid_number() + "0", WrongLength, "length")
    assert_rejected(a_valid_number()[:-1], WrongLength, "length")


@pytest.mark.parametrize(
    "replacement",
    ["١", "５", "²", "a", " ", "-", "+", "\x00"],  # Arabic-Indic, fullwidth and superscript digits too
)
def test_not_digits(replacement: str) -> None:
    valid = a_valid_number()
    for position in (0, 5, 10):
        number = valid[:position] + replacement + valid[position + 1 :]
        assert_rejected(number, NotDigits, "digits")
    assert_rejected("١" * 11, NotDigits, "digits")


def test_bad_k1() -> None:
    valid = a_valid_number()
    # A K1 outside all four 2032 values, with K2 recomputed so that only K1 is wrong.
    for d10 in range(10):
        first10 = valid[:9] + str(d10)
        k2 = k2_for(first10)
        if (weighted(valid, K1_WEIGHTS) + d10) % 11 > 3 and k2 is not None:
            number = f"{first10}{k2}"
            assert_rejected(number, InvalidCheckDigit, "check-digit")
            with pytest.raises(InvalidCheckDigit, match="K1"):
                parse(number)
            return
    pytest.fail("no K1-only error found")


def test_bad_k2() -> None:
    valid = a_valid_number()
    for delta in range(1, 10):
        number = valid[:10] + str((int(valid[10]) + delta) % 10)
        assert_rejected(number, InvalidCheckDigit, "check-digit")
        with pytest.raises(InvalidCheckDigit, match="K2"):
            parse(number)


def test_k2_of_10_makes_every_completion_invalid() -> None:
    # A ten-digit prefix with a valid K1 whose K2 would be 10: none of the ten last digits helps.
    for individual in range(100, 500):
        first9 = f"158585{individual:03d}"
        d10 = (-weighted(first9, K1_WEIGHTS)) % 11
        if d10 <= 9 and k2_for(f"{first9}{d10}") is None:
            break
    else:
        pytest.fail("no prefix with K2 = 10")
    for last in range(10):
        assert_rejected(f"{first9}{d10}{last}", InvalidCheckDigit, "check-digit")
    with pytest.raises(InvalidCheckDigit, match="K2") as info:
        check_digits(first9)
    assert_no_leak(str(info.value), first9)


def test_check_digits_input_errors() -> None:
    with pytest.raises(WrongLength):
        check_digits("15848512")
    with pytest.raises(NotDigits):
        check_digits("1584851٢3")


@pytest.mark.parametrize(
    ("ddmmyy", "individuals"),
    [
        pytest.param("318420", range(500, 1000), id="31 April"),
        pytest.param("718420", range(500, 1000), id="31 April D-number"),
        pytest.param("318460", range(0, 500), id="31 April Tenor"),
        pytest.param("298201", range(500, 1000), id="29 Feb 2001"),
        pytest.param("298200", range(0, 500), id="29 Feb 1900"),
        pytest.param("308296", range(0, 500), id="30 Feb"),
        pytest.param("008285", range(0, 500), id="day 00"),
        pytest.param("328285", range(0, 500), id="day 32"),
        pytest.param("408285", range(0, 500), id="D day 00"),
        pytest.param("728285", range(0, 500), id="D day 32"),
        pytest.param("158085", range(0, 500), id="month 80"),
        pytest.param("159385", range(0, 500), id="month 93"),
        pytest.param("155385", range(0, 500), id="month 53"),
        pytest.param("154085", range(0, 500), id="month 40"),
    ],
)
def test_invalid_date(ddmmyy: str, individuals: range) -> None:
    number, _ = first_valid(ddmmyy, individuals)
    assert_rejected(number, InvalidDate, "date")


def test_feb_29_depends_on_the_century() -> None:
    # 29 February 00 is a date in 2000 (individnummer 500-999) and not in 1900 (000-499).
    valid, _ = first_valid("298200", range(500, 1000))
    assert parse(valid).birth_date == date(2000, 2, 29)
    invalid, _ = first_valid("298200", range(0, 500))
    assert_rejected(invalid, InvalidDate, "date")


# --- the number never leaks -------------------------------------------------------------------------


def test_identity_number_never_shows_the_number() -> None:
    number = a_valid_number()
    parsed = parse(number)
    outputs = [
        repr(parsed),
        str(parsed),
        f"{parsed}",
        f"{parsed!r}",
        f"{parsed!s}",
        f"{parsed:>30}",
        format(parsed, ""),
        "%s %r" % (parsed, parsed),  # noqa: UP031 - the old formatting path is what is tested here
        str([parsed]),
        repr({"id": parsed}),
    ]
    for text in outputs:
        assert_no_leak(text, number)
    assert repr(parsed) == "IdentityNumber(kind=synthetic-tenor, ***)"
    assert str(parsed) == "***"
    assert parsed.value == number


# --- properties -------------------------------------------------------------------------------------


def individual_ranges(year: int) -> list[range]:
    if year <= 1899:
        return [range(500, 750)]
    if year <= 1939:
        return [range(0, 500)]
    if year <= 1999:
        return [range(0, 500), range(900, 1000)]
    return [range(500, 1000)]


birth_dates = st.dates(min_value=date(1854, 1, 1), max_value=date(2039, 12, 31))


@st.composite
def date_and_individual(draw: st.DrawFn, max_date: date = date(2039, 12, 31)) -> tuple[date, int]:
    birth_date = draw(st.dates(min_value=date(1854, 1, 1), max_value=max_date))
    span = draw(st.sampled_from(individual_ranges(birth_date.year)))
    return birth_date, draw(st.integers(span.start, span.stop - 1))


@given(date_and_individual(), st.booleans())
def test_make_synthetic_round_trip(birth: tuple[date, int], d_number: bool) -> None:
    birth_date, individual = birth
    number = make_synthetic(birth_date, individual, d_number=d_number)
    if number is None:
        day = birth_date.day + 40 if d_number else birth_date.day
        with pytest.raises(InvalidCheckDigit):
            check_digits(f"{day:02d}{birth_date.month + 80:02d}{birth_date.year % 100:02d}{individual:03d}")
        return
    parsed = parse(number)
    assert parsed.kind is (FnrKind.D_NUMBER if d_number else FnrKind.SYNTHETIC_TENOR)
    assert parsed.synthetic
    assert parsed.check_rule is CheckDigitRule.CLASSIC
    assert parsed.birth_date == birth_date
    assert parsed.sex is (model.Sex.MALE if individual % 2 else model.Sex.FEMALE)
    assert int(number[6:9]) == individual


@given(birth_dates, st.integers(0, 999))
def test_make_synthetic_rejects_individual_outside_the_century(birth_date: date, individual: int) -> None:
    assume(not any(individual in r for r in individual_ranges(birth_date.year)))
    with pytest.raises(ValueError, match="individual number"):
        make_synthetic(birth_date, individual)


@pytest.mark.parametrize("year", [1853, 2040])
def test_make_synthetic_rejects_years_without_a_century_rule(year: int) -> None:
    with pytest.raises(ValueError, match="individual number"):
        make_synthetic(date(year, 1, 1), 600)


@given(birth_dates, st.sampled_from(model.Sex), st.integers(0, 2**32), st.booleans())
def test_synthetic_for(birth_date: date, sex: model.Sex, seed: int, d_number: bool) -> None:
    parsed = parse(synthetic_for(birth_date, sex, random.Random(seed), d_number=d_number))
    assert parsed.synthetic
    assert parsed.birth_date == birth_date
    assert parsed.sex is sex
    assert parsed.kind is (FnrKind.D_NUMBER if d_number else FnrKind.SYNTHETIC_TENOR)


@st.composite
def valid_numbers(draw: st.DrawFn) -> str:
    """Valid numbers of every kind, under both check-digit rules."""
    birth_date, individual = draw(date_and_individual())
    day = birth_date.day + draw(st.sampled_from([0, 40]))
    month = birth_date.month + draw(st.sampled_from([0, 40, 80]))
    first9 = f"{day:02d}{month:02d}{birth_date.year % 100:02d}{individual:03d}"
    if draw(st.booleans()):
        first9 = draw(st.sampled_from("89")) + draw(st.text("0123456789", min_size=8, max_size=8))
    number = complete_with_k1_sum(first9, draw(st.integers(0, 3)))
    assume(number is not None)
    assert number is not None
    return number


@given(valid_numbers(), st.integers(0, 10), st.integers(1, 9))
def test_any_single_digit_substitution_is_rejected(number: str, position: int, delta: int) -> None:
    # Every K2 weight (5 4 3 2 7 6 5 4 3 2, and 1 on K2 itself) is nonzero mod the prime 11, so changing
    # any one digit changes the K2 sum by a nonzero amount mod 11: the K2 check alone catches it, under
    # the 2032 rule too (which only widens K1; a substituted K1 digit may well pass the K1 check).
    assert is_valid(number)
    changed = number[:position] + str((int(number[position]) + delta) % 10) + number[position + 1 :]
    with pytest.raises(InvalidCheckDigit):
        parse(changed)


@given(valid_numbers(), st.integers(0, 9))
def test_any_adjacent_transposition_is_rejected(number: str, position: int) -> None:
    # Adjacent K2 weights differ by 1 or 5, never 0 mod 11, so swapping two different neighbours changes
    # the K2 sum by a nonzero amount.
    assume(number[position] != number[position + 1])
    swapped = number[:position] + number[position + 1] + number[position] + number[position + 2 :]
    with pytest.raises(InvalidCheckDigit):
        parse(swapped)


@given(st.one_of(st.text(), st.text("0123456789١５²a ", min_size=11, max_size=11)))
def test_parse_raises_only_invalid_identity_number(text: str) -> None:
    # is_valid catches InvalidIdentityNumber only, so any other exception fails the test here.
    if is_valid(text):
        parsed = parse(text)
        assert isinstance(parsed, IdentityNumber)
        assert parsed.value == text
        return
    with pytest.raises(InvalidIdentityNumber) as info:
        parse(text)
    assert info.value.rule in {"length", "digits", "check-digit", "date", "individual-number"}
    if text.isascii() and text.isdigit():
        assert_no_leak(str(info.value), text)


@given(valid_numbers())
def test_k1_classification(number: str) -> None:
    k1_sum = (weighted(number, K1_WEIGHTS) + int(number[9])) % 11
    parsed = parse(number)
    assert parsed.check_rule is (CheckDigitRule.CLASSIC if k1_sum == 0 else CheckDigitRule.RULE_2032)
    if parsed.check_rule is CheckDigitRule.RULE_2032:
        assert parsed.sex is None


# --- differential test against python-stdnum ---------------------------------------------------------
# stdnum 2.2 knows the classic rule only, ordinary numbers, D-numbers and H-numbers (month + 40), and
# rejects birth dates after today. Compared on ordinary numbers and D-numbers (months 01-12).


def stdnum_view(number: str) -> bool:
    """What stdnum's verdict should be according to shared.fnr."""
    try:
        parsed = parse(number)
    except InvalidIdentityNumber:
        return False
    return (
        parsed.check_rule is CheckDigitRule.CLASSIC
        and parsed.birth_date is not None
        and parsed.birth_date <= date.today()
    )


@given(date_and_individual(max_date=date.today()), st.booleans())
def test_agrees_with_stdnum_on_constructed_numbers(birth: tuple[date, int], d_number: bool) -> None:
    birth_date, individual = birth
    day = birth_date.day + 40 if d_number else birth_date.day
    first9 = f"{day:02d}{birth_date.month:02d}{birth_date.year % 100:02d}{individual:03d}"
    try:
        number = first9 + check_digits(first9)
    except InvalidCheckDigit:
        reject()
    parsed = parse(number)
    assert stdnum_fnr.is_valid(number)
    assert parsed.kind is (FnrKind.D_NUMBER if d_number else FnrKind.FNR)
    assert parsed.birth_date == stdnum_fnr.get_birth_date(number) == birth_date
    assert parsed.sex == {"M": model.Sex.MALE, "F": model.Sex.FEMALE}[stdnum_fnr.get_gender(number)]


@settings(max_examples=500)
@given(
    st.one_of(st.integers(1, 31), st.integers(41, 71)),
    st.integers(1, 12),
    st.integers(0, 99),
    st.integers(0, 999),
    st.one_of(st.none(), st.integers(0, 9)),
    st.one_of(st.none(), st.integers(0, 9)),
)
def test_agrees_with_stdnum_on_random_numbers(
    day: int, month: int, yy: int, individual: int, d10: int | None, d11: int | None
) -> None:
    # None for a check digit means "the classic one", so that valid numbers are common, not 1 in 121.
    first9 = f"{day:02d}{month:02d}{yy:02d}{individual:03d}"
    if d10 is None:
        d10 = (-weighted(first9, K1_WEIGHTS)) % 11
    if d11 is None:
        d11 = k2_for(f"{first9}{d10}")
    assume(d10 <= 9 and d11 is not None)
    number = f"{first9}{d10}{d11}"
    assert stdnum_fnr.is_valid(number) == stdnum_view(number)


def test_the_days_of_a_month_are_the_calendar_s_for_every_year() -> None:
    # parse reads the month's length from a table (the calendar module computes a weekday it does not need).
    assert all(
        fnr._days_in(year, month) == calendar.monthrange(year, month)[1]
        for year in range(1, 10000)
        for month in range(1, 13)
    )
