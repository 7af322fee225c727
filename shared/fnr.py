"""Parse and validate Norwegian identity numbers (fødselsnummer, D-, H- and FH-numbers).

An identity number is eleven digits: ``DDMMYY`` (birth date, possibly with offsets), a three-digit
individnummer and the check digits K1 and K2. The rules follow Skatteetaten's published description:

* K1 weights ``3 7 6 1 8 9 4 5 2`` over digits 1-9, K2 weights ``5 4 3 2 7 6 5 4 3 2`` over digits 1-10;
  ``K = 11 - (sum mod 11)``, where 11 becomes 0 and 10 means no such number exists.
* The individnummer gives the century: 500-749 with YY >= 54 is 1854-1899, 000-499 is 1900-1999,
  900-999 with YY >= 40 is 1940-1999, 500-999 with YY <= 39 is 2000-2039. Other combinations are invalid.
* The ninth digit gives the sex (odd: male, even: female).
* Offsets: D-number day + 40; H-number month + 40; Skatteetaten's synthetic test population (Tenor)
  month + 80, also combined with a D-number's day + 40. An FH-number starts with 8 or 9 and is otherwise
  random apart from the check digits: it carries no birth date and no sex.

Choices made here, and why:

* **The 2032 rule.** From 2032 K1 may take four values: with the K1 weights extended by weight 1 for
  digit 10, the sum mod 11 may be 0, 1, 2 or 3 (K2 is unchanged). Sum 0 is exactly the classic rule, so a
  number is recorded as ``CheckDigitRule.CLASSIC`` whenever it satisfies the classic rule, and as
  ``RULE_2032`` only when it needs the new values (sum 1-3). Nothing else distinguishes the two: a number
  issued after 2032 whose K1 happens to be the classic value is read with classic semantics (sex from
  digit 9, century from the individnummer) and is rejected if its individnummer/year pair falls outside the
  century table. Two of Skatteetaten's three published 2032 examples satisfy the classic rule and
  therefore parse as ``CLASSIC``.
* **Birth dates of 2032-only numbers.** Their individnummer no longer gives the century and digit 9 no
  longer gives the sex, so ``sex`` is ``None`` and the birth date is derived only when it is unambiguous:
  the candidate years are 19YY and 20YY (nobody born before 1900 will be issued a number in 2032 or later),
  the number is valid if ``DDMM`` is a real date in at least one of them, and ``birth_date`` is set only
  when exactly one of them is a real date. 19YY and 20YY have the same leap-year status except for YY = 00
  (1900 is not a leap year, 2000 is), so in practice only 29 February 2000 is derived; every other 2032-only
  number has ``birth_date = None``. Guessing the century from today's date was rejected because it would
  make ``parse`` depend on the clock: the same number would parse differently over time, which a
  pseudonymisation chain must not allow.
* **No clock at all.** A birth date in the future is not rejected (python-stdnum does reject it), for the
  same reason: ``parse`` is a pure function of its input.
* **Month + 40** is parsed as ``H_NUMBER``. NAV's synthetic test numbers use the same form and cannot be
  told apart, so ``synthetic`` is False for them. A D-number with month + 40 (the form of NAV's synthetic
  D-numbers) is accepted as ``D_NUMBER`` with ``synthetic`` False for the same reason.
* **FH-numbers** are checked with the same check-digit rules (classic or 2032) as every other kind.

No error message, ``repr``, ``str`` or f-string output contains the number or any of its digits: they end
up in logs, and the number is the very thing the chain pseudonymises. Use ``IdentityNumber.value`` when the
raw digits are really needed.
"""

from __future__ import annotations

import calendar
import random
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from operator import mul
from typing import ClassVar

__all__ = [
    "CheckDigitRule",
    "FnrKind",
    "IdentityNumber",
    "InvalidCheckDigit",
    "InvalidDate",
    "InvalidIdentityNumber",
    "InvalidIndividualNumber",
    "NotDigits",
    "Sex",
    "WrongLength",
    "check_digits",
    "individual_ranges",
    "is_valid",
    "make_synthetic",
    "parse",
    "synthetic_for",
]


class Sex(StrEnum):
    """Sex as the number encodes it (classic rule only), in the export's vocabulary: M (mann), K (kvinne).

    Defined here, not in the data model, so that identity-number code (the TPF's) needs nothing else."""

    MALE = "M"
    FEMALE = "K"


class FnrKind(StrEnum):
    FNR = "fnr"
    D_NUMBER = "d-number"
    H_NUMBER = "h-number"  # also NAV's synthetic test numbers, which share the month + 40 form
    FH_NUMBER = "fh-number"
    SYNTHETIC_TENOR = "synthetic-tenor"


class CheckDigitRule(StrEnum):
    CLASSIC = "classic"
    RULE_2032 = "2032"


class InvalidIdentityNumber(ValueError):
    """The input is not a valid identity number. ``rule`` is a stable machine-readable code.

    The message names the rule that failed and never the number: callers log these errors.
    """

    rule: ClassVar[str] = "invalid"

    def __init__(self, reason: str) -> None:
        super().__init__(f"invalid identity number ({self.rule}): {reason}")


class WrongLength(InvalidIdentityNumber):
    rule = "length"


class NotDigits(InvalidIdentityNumber):
    rule = "digits"


class InvalidCheckDigit(InvalidIdentityNumber):
    rule = "check-digit"


class InvalidDate(InvalidIdentityNumber):
    rule = "date"


class InvalidIndividualNumber(InvalidIdentityNumber):
    rule = "individual-number"


@dataclass(frozen=True, slots=True, repr=False)
class IdentityNumber:
    value: str = field(repr=False)
    kind: FnrKind
    synthetic: bool
    check_rule: CheckDigitRule
    birth_date: date | None
    sex: Sex | None

    def __repr__(self) -> str:
        return f"IdentityNumber(kind={self.kind}, ***)"

    def __str__(self) -> str:
        return "***"

    def __format__(self, format_spec: str) -> str:
        # The default would format ``str(self)`` anyway; defined explicitly so that no later change to
        # ``__str__`` or a format spec can make an f-string print the digits.
        return format(self.__str__(), format_spec)

    @property
    def birth_year(self) -> int | None:
        return None if self.birth_date is None else self.birth_date.year


# Check sums are computed on the ASCII bytes directly: sum(w * (b - 48)) == sum(w * b) - 48 * sum(w),
# which saves converting every digit. K1 is checked over digits 1-10 (weight 1 on K1 itself) and K2
# over digits 1-11 (weight 1 on K2): a valid number makes each sum 0 mod 11 (K1: 0-3 under the 2032 rule).
_K1_WEIGHTS = (3, 7, 6, 1, 8, 9, 4, 5, 2, 1)
_K2_WEIGHTS = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2, 1)
_ZERO = ord("0")
_K1_OFFSET = _ZERO * sum(_K1_WEIGHTS)
_K2_OFFSET = _ZERO * sum(_K2_WEIGHTS)
_K1_OFFSET_9 = _ZERO * sum(_K1_WEIGHTS[:9])
_K2_OFFSET_9 = _ZERO * sum(_K2_WEIGHTS[:9])


# Days per month (index 1-12) outside February of a leap year: what calendar.monthrange(year, month)[1] gives, at a
# fraction of its cost (it computes the weekday too); parse runs once per record at the gateway and at the TPF.
_MONTH_DAYS = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _days_in(year: int, month: int) -> int:
    return 29 if month == 2 and calendar.isleap(year) else _MONTH_DAYS[month]


def _century(individual: int, yy: int) -> int | None:
    """The century (1800, 1900 or 2000) the classic individnummer ranges give, or None."""
    if individual < 500:
        return 1900
    if yy <= 39:
        return 2000
    if individual < 750 and yy >= 54:
        return 1800
    if individual >= 900:
        return 1900
    return None


def _is_ascii_digits(text: str) -> bool:
    # str.isdigit alone accepts other scripts' digits ('١', '５'); isascii restricts it to 0-9.
    return text.isascii() and text.isdigit()


def parse(number: str) -> IdentityNumber:
    """Parse an identity number: exactly eleven ASCII digits, nothing stripped.

    Raises a subclass of ``InvalidIdentityNumber``; see the module docstring for the rules.
    """
    if len(number) != 11:
        raise WrongLength("an identity number has exactly eleven characters")
    if not _is_ascii_digits(number):
        raise NotDigits("an identity number consists of the ASCII digits only")
    raw = number.encode("ascii")

    k1_sum = (sum(map(mul, _K1_WEIGHTS, raw)) - _K1_OFFSET) % 11
    if k1_sum == 0:
        check_rule = CheckDigitRule.CLASSIC
    elif k1_sum <= 3:
        check_rule = CheckDigitRule.RULE_2032
    else:
        raise InvalidCheckDigit("the first check digit (K1) does not match")
    if (sum(map(mul, _K2_WEIGHTS, raw)) - _K2_OFFSET) % 11 != 0:
        raise InvalidCheckDigit("the second check digit (K2) does not match")

    first = raw[0] - _ZERO
    if first >= 8:
        return IdentityNumber(number, FnrKind.FH_NUMBER, False, check_rule, None, None)

    day = first * 10 + raw[1] - _ZERO
    month = (raw[2] - _ZERO) * 10 + raw[3] - _ZERO
    synthetic = False
    if first >= 4:
        kind = FnrKind.D_NUMBER
        day -= 40
    else:
        kind = FnrKind.FNR
    if month > 80:
        month -= 80
        synthetic = True
        if kind is FnrKind.FNR:
            kind = FnrKind.SYNTHETIC_TENOR
    elif month > 40:
        month -= 40
        if kind is FnrKind.FNR:
            kind = FnrKind.H_NUMBER
    if not (1 <= day <= 31 and 1 <= month <= 12):
        raise InvalidDate("day or month is out of range")

    yy = (raw[4] - _ZERO) * 10 + raw[5] - _ZERO
    if check_rule is CheckDigitRule.CLASSIC:
        century = _century(int(number[6:9]), yy)
        if century is None:
            raise InvalidIndividualNumber("the individual number gives no century for this birth year")
        if day > _days_in(century + yy, month):
            raise InvalidDate("the birth date does not exist")
        sex = Sex.MALE if raw[8] % 2 else Sex.FEMALE  # ord('0') is even, so the byte's parity is the digit's
        return IdentityNumber(number, kind, synthetic, check_rule, date(century + yy, month, day), sex)

    # 2032 rule: no century from the individnummer, so keep the date only if one candidate year fits.
    fits = [year for year in (1900 + yy, 2000 + yy) if day <= _days_in(year, month)]
    if not fits:
        raise InvalidDate("the birth date does not exist")
    birth_date = date(fits[0], month, day) if len(fits) == 1 else None
    return IdentityNumber(number, kind, synthetic, check_rule, birth_date, None)


def is_valid(number: str) -> bool:
    try:
        parse(number)
    except InvalidIdentityNumber:
        return False
    return True


def check_digits(first9: str) -> str:
    """The two classic check digits K1 K2 for nine digits.

    Raises ``InvalidCheckDigit`` when K1 or K2 would be 10: no classic number has that prefix.
    """
    if len(first9) != 9:
        raise WrongLength("check digits are computed from exactly nine digits")
    if not _is_ascii_digits(first9):
        raise NotDigits("check digits are computed from ASCII digits only")
    raw = first9.encode("ascii")
    k1 = (11 - (sum(map(mul, _K1_WEIGHTS, raw)) - _K1_OFFSET_9) % 11) % 11
    if k1 == 10:
        raise InvalidCheckDigit("the first check digit (K1) would be 10")
    k2 = (11 - (sum(map(mul, _K2_WEIGHTS, raw)) - _K2_OFFSET_9 + 2 * k1) % 11) % 11
    if k2 == 10:
        raise InvalidCheckDigit("the second check digit (K2) would be 10")
    return f"{k1}{k2}"


def individual_ranges(year: int) -> tuple[range, ...]:
    """The individnummer ranges that encode ``year``'s century under the classic rule."""
    if 1854 <= year <= 1899:
        return (range(500, 750),)
    if 1900 <= year <= 1939:
        return (range(0, 500),)
    if 1940 <= year <= 1999:
        return (range(0, 500), range(900, 1000))
    if 2000 <= year <= 2039:
        return (range(500, 1000),)
    return ()


def make_synthetic(birth_date: date, individual: int, *, d_number: bool = False) -> str | None:
    """A Tenor-style synthetic number (month + 80; day + 40 too if ``d_number``) with classic check digits.

    Returns None when that individnummer gives a check digit of 10 (the caller tries another). Raises
    ValueError when the individnummer does not encode the birth year's century.
    """
    if not any(individual in r for r in individual_ranges(birth_date.year)):
        raise ValueError(f"individual number {individual} does not encode the century of {birth_date.year}")
    day = birth_date.day + 40 if d_number else birth_date.day
    first9 = f"{day:02d}{birth_date.month + 80:02d}{birth_date.year % 100:02d}{individual:03d}"
    try:
        return first9 + check_digits(first9)
    except InvalidCheckDigit:
        return None


def synthetic_for(birth_date: date, sex: Sex, rng: random.Random, *, d_number: bool = False) -> str:
    """A random Tenor-style synthetic number for that birth date and sex, for data generators."""
    parity = 1 if sex is Sex.MALE else 0
    candidates = [i for r in individual_ranges(birth_date.year) for i in r if i % 2 == parity]
    rng.shuffle(candidates)
    for individual in candidates:
        number = make_synthetic(birth_date, individual, d_number=d_number)
        if number is not None:
            return number
    raise ValueError(f"no synthetic identity number exists for birth year {birth_date.year}")
