"""Keyed pseudonyms (shared/pseudonym.py), checked against an independent stdlib HMAC."""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import os
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared import fnr
from shared.iplos.model import Sex
from shared.keys.tpf import TpfKeys
from shared.pseudonym import (
    DOMAIN_LABEL,
    KEY_SIZE,
    MAX_KEY_VERSION,
    PSEUDONYM_SIZE,
    Pseudonymiser,
    PseudonymKey,
    decode_pseudonym,
    encode_pseudonym,
)

KEY = PseudonymKey(version=1, secret=bytes(range(32)))


def reference(secret: bytes, number: str) -> bytes:
    """The spec's formula, written without the code under test."""
    return hmac.new(secret, b"iplos/v1/pseudonym\x00" + number.encode(), "sha256").digest()


@st.composite
def synthetic_numbers(draw: st.DrawFn) -> str:
    born = draw(st.dates(dt.date(1854, 1, 1), dt.date(2039, 12, 31)))
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    number = fnr.synthetic_for(born, draw(st.sampled_from(list(Sex))), rng, d_number=draw(st.booleans()))
    assert fnr.parse(number).synthetic  # Tenor month + 80: never a real person's number
    return number


def test_domain_label_is_the_specified_one() -> None:
    assert DOMAIN_LABEL == b"iplos/v1/pseudonym"
    assert KEY_SIZE == 32
    assert PSEUDONYM_SIZE == 32


@settings(max_examples=200, deadline=None)
@given(number=synthetic_numbers(), secret=st.binary(min_size=32, max_size=64))
def test_known_answer_against_stdlib_hmac(number: str, secret: bytes) -> None:
    pseudonymiser = Pseudonymiser(PseudonymKey(version=1, secret=secret))
    assert pseudonymiser.pseudonym(fnr.parse(number)) == reference(secret, number)


def test_known_answer_many_numbers_one_pseudonymiser() -> None:
    # The keyed HMAC is copied per number: no state may leak from one number into the next.
    rng = random.Random(1)
    pseudonymiser = Pseudonymiser(KEY)
    numbers = [
        fnr.synthetic_for(dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(30_000)), rng.choice(list(Sex)), rng)
        for _ in range(500)
    ]
    assert [pseudonymiser.pseudonym(fnr.parse(n)) for n in numbers] == [reference(KEY.secret, n) for n in numbers]
    assert len({reference(KEY.secret, n) for n in set(numbers)}) == len(set(numbers))


def test_with_the_generated_tpf_key(tpf: TpfKeys) -> None:
    key = tpf.current_pseudonym_key
    number = fnr.synthetic_for(dt.date(1987, 6, 5), Sex.FEMALE, random.Random(5))
    assert Pseudonymiser(key).pseudonym(fnr.parse(number)) == reference(key.secret, number)


@settings(max_examples=50, deadline=None)
@given(number=synthetic_numbers())
def test_stable_across_instances(number: str) -> None:
    parsed = fnr.parse(number)
    first = Pseudonymiser(PseudonymKey(version=1, secret=bytes(KEY.secret)))
    second = Pseudonymiser(PseudonymKey(version=1, secret=bytes(KEY.secret)))
    assert first.pseudonym(parsed) == second.pseudonym(parsed) == first.pseudonym(fnr.parse(number))


@settings(max_examples=50, deadline=None)
@given(number=synthetic_numbers(), other=synthetic_numbers())
def test_different_number_or_key_gives_a_different_pseudonym(number: str, other: str) -> None:
    parsed = fnr.parse(number)
    base = Pseudonymiser(KEY).pseudonym(parsed)
    next_version = PseudonymKey(version=2, secret=os.urandom(32))
    assert Pseudonymiser(next_version).pseudonym(parsed) != base
    flipped = bytearray(KEY.secret)
    flipped[0] ^= 1
    assert Pseudonymiser(PseudonymKey(version=1, secret=bytes(flipped))).pseudonym(parsed) != base
    if other != number:
        assert Pseudonymiser(KEY).pseudonym(fnr.parse(other)) != base


def test_key_version_travels_with_the_pseudonymiser() -> None:
    # The version is not an HMAC input (the spec's formula has none): it is stored next to each pseudonym, and
    # each version has its own random key, so v1 and v2 pseudonyms of one person differ.
    assert Pseudonymiser(PseudonymKey(version=1, secret=os.urandom(32))).key_version == 1
    assert Pseudonymiser(PseudonymKey(version=7, secret=os.urandom(32))).key_version == 7


@settings(max_examples=100, deadline=None)
@given(number=synthetic_numbers())
def test_output_size_and_text_form(number: str) -> None:
    value = Pseudonymiser(KEY).pseudonym(fnr.parse(number))
    assert len(value) == 32
    text = encode_pseudonym(value)
    assert len(text) == 43
    assert not text.isdigit()
    assert not fnr.is_valid(text)
    assert decode_pseudonym(text) == value


@settings(max_examples=200, deadline=None)
@given(value=st.binary(min_size=32, max_size=32))
def test_text_form_of_any_32_bytes(value: bytes) -> None:
    text = encode_pseudonym(value)
    assert len(text) == 43
    assert "=" not in text
    assert set(text) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    # 256 bits in 43 characters: the last character carries 4 bits and 2 zero bits (canonical encoding).
    assert text[-1] in "AEIMQUYcgkosw048"
    assert decode_pseudonym(text) == value


def test_text_form_of_extreme_values() -> None:
    for value in (bytes(32), b"\xff" * 32, bytes(range(32))):
        text = encode_pseudonym(value)
        assert not text.isdigit()
        assert decode_pseudonym(text) == value
    assert encode_pseudonym(bytes(32)) == "A" * 43


@pytest.mark.parametrize("size", [0, 16, 31, 33, 64])
def test_decode_refuses_other_sizes(size: int) -> None:
    text = base64.urlsafe_b64encode(bytes(size)).rstrip(b"=").decode()
    with pytest.raises(ValueError, match="43 characters"):
        decode_pseudonym(text)


@pytest.mark.parametrize("size", [0, 1, 16, 31])
def test_pseudonym_key_refuses_short_secrets(size: int) -> None:
    with pytest.raises(ValueError, match="256 bits"):
        PseudonymKey(version=1, secret=bytes(size))


@pytest.mark.parametrize("version", [0, -1, MAX_KEY_VERSION + 1])
def test_pseudonym_key_refuses_version_outside_the_key_version_range(version: int) -> None:
    # 1 to 999 999 999 (docs/envelope-v1.md 7.2, KeyVersion): a TPF never names a version the registry cannot store.
    with pytest.raises(ValueError, match="version"):
        PseudonymKey(version=version, secret=bytes(32))


def test_the_largest_key_version_has_nine_digits() -> None:
    assert MAX_KEY_VERSION == 999_999_999
    assert PseudonymKey(version=MAX_KEY_VERSION, secret=bytes(32)).version == MAX_KEY_VERSION


def test_pseudonym_key_accepts_32_bytes_and_more() -> None:
    assert PseudonymKey(version=1, secret=bytes(32)).version == 1
    assert len(PseudonymKey(version=3, secret=bytes(64)).secret) == 64


def test_reprs_hide_the_secret() -> None:
    secret = bytes(range(100, 132))
    key = PseudonymKey(version=4, secret=secret)
    pseudonymiser = Pseudonymiser(key)
    for text in (repr(key), str(key), repr(pseudonymiser), str(pseudonymiser), f"{key}", f"{pseudonymiser!r}"):
        assert secret.hex() not in text
        assert base64.b64encode(secret).decode() not in text
        assert repr(secret) not in text
        assert "secret" not in text
        assert "version=4" in text
