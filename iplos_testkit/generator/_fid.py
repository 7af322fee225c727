"""Synthetic identity numbers drawn exactly as ``shared.fnr.synthetic_for`` draws them, at a fraction of the cost.

``synthetic_for`` shuffles every individnummer of the birth year's century and sex (125-300 of them) with
``random.shuffle`` and takes the first that has valid check digits. That was half of the generator's time:
``Random._randbelow`` is Python code, one call per position, and the check digits were computed over all nine
digits with their argument checks. The pinned output needs the same numbers and the same state of the
generator afterwards, so this module performs the same Fisher-Yates shuffle with the same draws in a tighter
loop (``getrandbits(k)`` with the bit length precomputed per position), and the same check digits from sums
prepared in advance. ``tests/testkit/test_generator.py`` checks number and state against ``synthetic_for``.
"""

from __future__ import annotations

import datetime as dt
import functools
import random

from shared.fnr import Sex, individual_ranges


@functools.cache
def _candidates(year: int, parity: int) -> tuple[int, ...]:
    """The individnummer list ``synthetic_for`` shuffles, in the same order (a list per call is its cost)."""
    return tuple(i for r in individual_ranges(year) for i in r if i % 2 == parity)


@functools.cache
def _shuffle_steps(length: int) -> tuple[tuple[int, range], ...]:
    """``random.shuffle``'s positions, last first, in runs that share the bit length ``_randbelow(i + 1)``
    draws (a run per power of two: iterating a range is cheaper than unpacking a pair per position)."""
    runs: list[tuple[int, list[int]]] = []
    for i in range(length - 1, 0, -1):
        bits = (i + 1).bit_length()
        if runs and runs[-1][0] == bits:
            runs[-1][1].append(i)
        else:
            runs.append((bits, [i]))
    return tuple((bits, range(positions[0], positions[-1] - 1, -1)) for bits, positions in runs)


def _shuffled(items: tuple[int, ...], rng: random.Random) -> list[int]:
    """``rng.shuffle(list(items))``, draw for draw: ``_randbelow(n)`` takes ``getrandbits(n.bit_length())``
    until the value is below n, one 32-bit word per call."""
    shuffled = list(items)
    getrandbits = rng.getrandbits
    for bits, positions in _shuffle_steps(len(shuffled)):
        for i in positions:
            j = getrandbits(bits)
            while j > i:
                j = getrandbits(bits)
            shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
    return shuffled


# The classic check digits, in parts summed in advance: the weighted sum of each two-digit field of the date
# (day, month + 80, year within the century) and of each three-digit individnummer (shared.fnr.check_digits
# sums all nine digits, with its argument checks, for every candidate).
_K1_WEIGHTS = (3, 7, 6, 1, 8, 9, 4, 5, 2)
_K2_WEIGHTS = (5, 4, 3, 2, 7, 6, 5, 4, 3)


def _weighted(weights: tuple[int, ...], digits: str) -> int:
    return sum(weight * int(digit) for weight, digit in zip(weights, digits, strict=True))


# _DATE_SUMS[field][value]: (K1 part, K2 part) of the two digits at positions 2 * field, 2 * field + 1.
_DATE_SUMS = tuple(
    tuple(
        (
            _weighted(_K1_WEIGHTS[2 * field : 2 * field + 2], f"{value:02d}"),
            _weighted(_K2_WEIGHTS[2 * field : 2 * field + 2], f"{value:02d}"),
        )
        for value in range(100)
    )
    for field in range(3)
)
# _INDIVIDUALS[individual]: its three digits, with their K1 and K2 parts.
_INDIVIDUALS = tuple(
    (
        f"{individual:03d}",
        _weighted(_K1_WEIGHTS[6:], f"{individual:03d}"),
        _weighted(_K2_WEIGHTS[6:], f"{individual:03d}"),
    )
    for individual in range(1000)
)


def synthetic_fid(birth_date: dt.date, sex: Sex, rng: random.Random, *, d_number: bool = False) -> str:
    """What ``fnr.synthetic_for(birth_date, sex, rng, d_number=d_number)`` returns, leaving ``rng`` as it
    leaves it: the first individnummer of the shuffle whose check digits exist (neither would be 10)."""
    parity = 1 if sex is Sex.MALE else 0
    day = birth_date.day + 40 if d_number else birth_date.day
    month, year = birth_date.month + 80, birth_date.year % 100
    date_digits = f"{day:02d}{month:02d}{year:02d}"
    (day_k1, day_k2), (month_k1, month_k2), (year_k1, year_k2) = (
        _DATE_SUMS[0][day],
        _DATE_SUMS[1][month],
        _DATE_SUMS[2][year],
    )
    date_k1, date_k2 = day_k1 + month_k1 + year_k1, day_k2 + month_k2 + year_k2
    for individual in _shuffled(_candidates(birth_date.year, parity), rng):
        digits, individual_k1, individual_k2 = _INDIVIDUALS[individual]
        k1 = (11 - (date_k1 + individual_k1) % 11) % 11
        if k1 == 10:
            continue
        k2 = (11 - (date_k2 + individual_k2 + 2 * k1) % 11) % 11
        if k2 == 10:
            continue
        return f"{date_digits}{digits}{k1}{k2}"
    raise ValueError(f"no synthetic identity number exists for birth year {birth_date.year}")
