"""ExactKeys: the flat table the registry's join and the controls' cross-record rules keep their state in. It
must behave as a dict of bytes (exact keys: a "seen before" is never a false one), through growth and pops."""

from __future__ import annotations

import random

import pytest

from shared.exact_keys import ExactKeys


def test_it_agrees_with_a_dict_through_growth_and_pops() -> None:
    rng = random.Random(13)
    table, model = ExactKeys(), dict[bytes, bytes]()
    for _ in range(20_000):
        if model and rng.random() < 0.3:
            key = rng.choice(list(model)[-100:])
        else:
            key = rng.randbytes(rng.choice([0, 1, 2, 16, 17, 40, 300]))
        value = rng.randbytes(rng.choice([0, 4, 33]))
        expected = model.get(key)
        assert table.add(key, value) == expected
        if expected is None:
            model[key] = value
    assert len(table) == len(model)
    for key in list(model)[:5_000]:
        assert table.pop(key) == model[key]
        assert table.pop(key) is None  # popped once only
        assert table.add(key, b"x") == model[key]  # still known: a pop does not make a key new
    assert len(table) == len(model) - 5_000


@pytest.mark.parametrize("expected", [0, 1, 1_000, 100_000])
def test_keys_that_differ_in_a_byte_or_a_length_are_different(expected: int) -> None:
    table = ExactKeys(expected)
    keys = [b"", b"a", b"a\x00", b"ab", b"ba", b"T-01", b"T-02", b"t-01", bytes(16), bytes(17), b"x" * 255, b"x" * 256]
    for key in keys:
        assert table.add(key, key[:4]) is None
    for key in keys:
        assert table.add(key) == key[:4]
    assert table.pop(b"abc") is None
    assert len(table) == len(keys)


def test_a_value_is_at_most_255_bytes() -> None:
    with pytest.raises(ValueError, match="at most 255"):
        ExactKeys().add(b"k", bytes(256))
