"""The draws the generator makes most, made as ``random.Random`` makes them, without its layers of calls.

``rng.randint(a, b)`` goes through ``randrange``, three ``operator.index`` calls and ``_randbelow``: four Python
frames for one ``getrandbits``; ``rng.choice`` and ``rng.choices(..., weights=...)`` are Python code too (the
latter adds up the weights on every call). The generator makes dozens of these per person. The functions here
take the same 32-bit words from the generator in the same order and return the same values (Python 3.11's
``random.py``), so seeded exports keep their bytes; ``tests/testkit/test_generator.py`` compares them with
``random.Random``'s own methods.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Sequence
from typing import Generic, TypeVar

_T = TypeVar("_T")


def below(rng: random.Random, n: int) -> int:
    """``rng._randbelow(n)``: ``getrandbits(n.bit_length())`` until the value is below n."""
    bits = n.bit_length()
    value = rng.getrandbits(bits)
    while value >= n:
        value = rng.getrandbits(bits)
    return value


def randint(rng: random.Random, low: int, high: int) -> int:
    """``rng.randint(low, high)``."""
    width = high - low + 1
    if width <= 0:
        raise ValueError(f"empty range in randint({low}, {high})")
    bits = width.bit_length()
    value = rng.getrandbits(bits)
    while value >= width:
        value = rng.getrandbits(bits)
    return low + value


def choice(rng: random.Random, items: Sequence[_T]) -> _T:
    """``rng.choice(items)``."""
    if not items:
        raise IndexError("Cannot choose from an empty sequence")
    return items[below(rng, len(items))]


class Weighted(Generic[_T]):
    """A population with fixed weights, for ``rng.choices(population, weights)[0]`` without adding the weights
    up on every draw."""

    def __init__(self, population: Sequence[_T], weights: Sequence[float]) -> None:
        if len(population) != len(weights) or not population:
            raise ValueError("one weight per item, and at least one item")
        self._population = tuple(population)
        self._cumulative = tuple(itertools.accumulate(weights))
        self._total = self._cumulative[-1] + 0.0  # as random.choices converts it

    def draw(self, rng: random.Random) -> _T:
        """``rng.choices(population, weights=weights)[0]``: one ``random()``, bisected into the cumulative
        weights."""
        index = bisect.bisect(self._cumulative, rng.random() * self._total, 0, len(self._population) - 1)
        return self._population[index]
