"""Synthetic identity numbers drawn exactly as ``shared.fnr.synthetic_for`` draws them, at a third of the cost.

``synthetic_for`` shuffles every individnummer of the birth year's century and sex (125-300 of them) with
``random.shuffle`` and takes the first that has valid check digits. That shuffle was half of the generator's
time: ``Random._randbelow`` is Python code, one call per position. The pinned output needs the same numbers
and the same state of the generator afterwards, so this module performs the same Fisher-Yates shuffle with
the same draws, in a tighter loop: ``getrandbits(k)`` with the bit length precomputed per position, and
``r > i`` for ``r >= i + 1``. ``tests/testkit/test_generator.py`` checks number and state against
``synthetic_for``.
"""

from __future__ import annotations

import datetime as dt
import functools
import random

import shared.fnr as fnr
from shared.fnr import Sex


def _individual_ranges(year: int) -> tuple[range, ...]:
    # The classic rule's individnummer ranges for the birth year's century, as shared.fnr has them (private
    # there); the equality test against synthetic_for would fail if one of the two changed alone.
    if 1854 <= year <= 1899:
        return (range(500, 750),)
    if 1900 <= year <= 1939:
        return (range(0, 500),)
    if 1940 <= year <= 1999:
        return (range(0, 500), range(900, 1000))
    if 2000 <= year <= 2039:
        return (range(500, 1000),)
    return ()


@functools.cache
def _candidates(year: int, parity: int) -> tuple[int, ...]:
    """The individnummer list ``synthetic_for`` shuffles, in the same order (a list per call is its cost)."""
    return tuple(i for r in _individual_ranges(year) for i in r if i % 2 == parity)


@functools.cache
def _shuffle_steps(length: int) -> tuple[tuple[int, int], ...]:
    """``random.shuffle``'s positions, last first, each with the bit length ``_randbelow(i + 1)`` draws."""
    return tuple((i, (i + 1).bit_length()) for i in range(length - 1, 0, -1))


def _shuffled(items: tuple[int, ...], rng: random.Random) -> list[int]:
    """``rng.shuffle(list(items))``, draw for draw: ``_randbelow(n)`` takes ``getrandbits(n.bit_length())``
    until the value is below n, one 32-bit word per call."""
    shuffled = list(items)
    getrandbits = rng.getrandbits
    for i, bits in _shuffle_steps(len(shuffled)):
        j = getrandbits(bits)
        while j > i:
            j = getrandbits(bits)
        shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
    return shuffled


def synthetic_fid(birth_date: dt.date, sex: Sex, rng: random.Random, *, d_number: bool = False) -> str:
    """What ``fnr.synthetic_for(birth_date, sex, rng, d_number=d_number)`` returns, leaving ``rng`` as it
    leaves it."""
    parity = 1 if sex is Sex.MALE else 0
    for individual in _shuffled(_candidates(birth_date.year, parity), rng):
        number = fnr.make_synthetic(birth_date, individual, d_number=d_number)
        if number is not None:
            return number
    raise ValueError(f"no synthetic identity number exists for birth year {birth_date.year}")
