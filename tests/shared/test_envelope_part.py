"""The sealed-part STREAM (shared/envelope/_part.py): round trips, streaming, and one-byte tamper tests."""

from __future__ import annotations

import dataclasses
import io
import random
import types
import uuid
from collections.abc import Iterable

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.envelope import _part
from shared.envelope._part import (
    CHUNK_SIZE,
    MAGIC,
    SEALED_CHUNK_SIZE,
    TAG_SIZE,
    WRAPPED_SIZE,
    PartContext,
    PartWriter,
    open_part,
)
from shared.errors import InvalidEnvelope

OPAQUE = "the sealed message could not be verified or opened"
HEAD = len(MAGIC) + WRAPPED_SIZE  # 88: magic and wrapped file key, before the first chunk

RECIPIENT = X25519PrivateKey.generate()
OTHER = X25519PrivateKey.generate()
CONTEXT = PartContext(
    kind="identity",
    sender="kommune-0301",
    recipient="tpf",
    recipient_kid="0123456789abcdef",
    message_id=str(uuid.UUID(int=0x1234, version=4)),
)


def _body(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def seal(body: bytes, *, context: PartContext = CONTEXT, splits: Iterable[int] = ()) -> bytes:
    out = io.BytesIO()
    writer = PartWriter(out, RECIPIENT.public_key(), context)
    start = 0
    for cut in sorted(splits):
        writer.write(body[start:cut])
        start = cut
    writer.write(body[start:])
    writer.close()
    return out.getvalue()


def open_all(data: bytes, *, key: X25519PrivateKey = RECIPIENT, context: PartContext = CONTEXT) -> bytes:
    return b"".join(open_part(io.BytesIO(data), key, context))


def expected_size(size: int) -> int:
    chunks = max(1, -(-size // CHUNK_SIZE))
    return HEAD + size + chunks * TAG_SIZE


def assert_opaque(error: BaseException) -> None:
    assert type(error) is InvalidEnvelope
    assert str(error) == OPAQUE
    assert error.args == (OPAQUE,)
    assert error.__cause__ is None


def assert_refused(data: bytes, *, key: X25519PrivateKey = RECIPIENT, context: PartContext = CONTEXT) -> None:
    with pytest.raises(InvalidEnvelope) as caught:
        open_all(data, key=key, context=context)
    assert_opaque(caught.value)


def flip(data: bytes, offset: int, mask: int = 0x01) -> bytes:
    changed = bytearray(data)
    changed[offset] ^= mask
    return bytes(changed)


# --- round trips ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "size", [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE], ids=lambda s: f"size={s}"
)
def test_round_trip_at_chunk_boundaries(size: int) -> None:
    body = _body(size, seed=size)
    sealed = seal(body)
    assert sealed.startswith(MAGIC)
    assert len(sealed) == expected_size(size)
    assert open_all(sealed) == body


def test_chunks_are_yielded_at_most_chunk_size() -> None:
    body = _body(2 * CHUNK_SIZE + 7)
    chunks = list(open_part(io.BytesIO(seal(body)), RECIPIENT, CONTEXT))
    assert [len(c) for c in chunks] == [CHUNK_SIZE, CHUNK_SIZE, 7]


def test_two_seals_of_the_same_body_differ() -> None:
    # Fresh file key and HPKE ephemeral key per part: no ciphertext byte is shared beyond the magic.
    body = _body(1000)
    first, second = seal(body), seal(body)
    assert first[: len(MAGIC)] == second[: len(MAGIC)]
    assert first[len(MAGIC) :] != second[len(MAGIC) :]
    assert first[HEAD:] != second[HEAD:]


_boundary_sizes = st.builds(lambda k, d: max(0, k * CHUNK_SIZE + d), st.integers(0, 3), st.integers(-2, 2))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    size=st.one_of(st.integers(0, 3 * CHUNK_SIZE + 10), _boundary_sizes),
    seed=st.integers(0, 2**32 - 1),
    cuts=st.lists(st.integers(0, 4 * CHUNK_SIZE), max_size=8),
)
def test_round_trip_any_size_any_write_splits(size: int, seed: int, cuts: list[int]) -> None:
    body = _body(size, seed)
    sealed = seal(body, splits=[c % (size + 1) for c in cuts])
    assert len(sealed) == expected_size(size)
    assert open_all(sealed) == body


# --- streaming --------------------------------------------------------------------------------------------------


def test_writer_flushes_full_chunks_as_they_arrive() -> None:
    out = io.BytesIO()
    writer = PartWriter(out, RECIPIENT.public_key(), CONTEXT)
    assert len(out.getvalue()) == HEAD
    total = 0
    piece = b"x" * 10_000
    sizes_seen = []
    while total < 3 * CHUNK_SIZE + 5:
        writer.write(piece)
        total += len(piece)
        # Everything but the (possibly last) tail chunk is already sealed and written out.
        assert len(out.getvalue()) == HEAD + ((total - 1) // CHUNK_SIZE) * SEALED_CHUNK_SIZE
        sizes_seen.append(len(out.getvalue()))
    assert sizes_seen[-1] == HEAD + 3 * SEALED_CHUNK_SIZE
    before_close = len(out.getvalue())
    writer.close()
    assert len(out.getvalue()) == before_close + total - 3 * CHUNK_SIZE + TAG_SIZE
    assert open_all(out.getvalue()) == piece * (total // len(piece))


def test_writer_keeps_an_exact_chunk_until_close() -> None:
    # Only close() knows which chunk is last, so a body of exactly one chunk is not flushed by write().
    out = io.BytesIO()
    writer = PartWriter(out, RECIPIENT.public_key(), CONTEXT)
    writer.write(b"a" * CHUNK_SIZE)
    assert len(out.getvalue()) == HEAD
    writer.write(b"b")
    assert len(out.getvalue()) == HEAD + SEALED_CHUNK_SIZE


def test_write_after_close_is_refused_and_close_is_idempotent() -> None:
    out = io.BytesIO()
    writer = PartWriter(out, RECIPIENT.public_key(), CONTEXT)
    writer.write(b"abc")
    writer.close()
    sealed = out.getvalue()
    writer.close()
    assert out.getvalue() == sealed
    with pytest.raises(ValueError, match="closed"):
        writer.write(b"more")
    assert open_all(sealed) == b"abc"


class _CountingReader(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.consumed = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.consumed += len(data)
        return data


def test_reader_reads_at_most_one_chunk_ahead() -> None:
    sealed = seal(_body(5 * CHUNK_SIZE))
    source = _CountingReader(sealed)
    chunks = open_part(source, RECIPIENT, CONTEXT)
    assert source.consumed == HEAD
    next(chunks)
    assert source.consumed == HEAD + 2 * SEALED_CHUNK_SIZE
    next(chunks)
    assert source.consumed == HEAD + 3 * SEALED_CHUNK_SIZE


# --- tampering: one flipped byte in each region -----------------------------------------------------------------

_TAMPER_BODY = _body(3 * CHUNK_SIZE + 100, seed=7)  # four chunks: three full, one short last chunk
_TAMPER_SEALED = seal(_TAMPER_BODY)
_LAST_START = HEAD + 3 * SEALED_CHUNK_SIZE

REGIONS = {
    "magic-first": 0,
    "magic-newline": len(MAGIC) - 1,
    "wrapped-enc": len(MAGIC),
    "wrapped-ciphertext": len(MAGIC) + 40,
    "wrapped-tag": HEAD - 1,
    "first-chunk-body-start": HEAD,
    "first-chunk-body-middle": HEAD + CHUNK_SIZE // 2,
    "first-chunk-tag": HEAD + CHUNK_SIZE,
    "second-chunk-tag-end": HEAD + 2 * SEALED_CHUNK_SIZE - 1,
    "last-chunk-body": _LAST_START,
    "last-chunk-tag-end": len(_TAMPER_SEALED) - 1,
}


def test_tamper_fixture_is_what_the_regions_assume() -> None:
    assert len(_TAMPER_SEALED) == _LAST_START + 100 + TAG_SIZE
    assert open_all(_TAMPER_SEALED) == _TAMPER_BODY


@pytest.mark.parametrize("mask", [0x01, 0x80])
@pytest.mark.parametrize("offset", REGIONS.values(), ids=REGIONS.keys())
def test_one_flipped_byte_is_refused(offset: int, mask: int) -> None:
    assert_refused(flip(_TAMPER_SEALED, offset, mask))


@settings(max_examples=25, deadline=None)
@given(offset=st.integers(0, 2 * HEAD + 2 * TAG_SIZE), mask=st.integers(1, 255))
def test_any_flipped_byte_in_a_small_part_is_refused(offset: int, mask: int) -> None:
    sealed = seal(b"short body of one chunk", context=CONTEXT)
    assert_refused(flip(sealed, offset % len(sealed), mask))


def test_drop_the_last_chunk() -> None:
    # 3 * CHUNK_SIZE: the last chunk is full-size; without it, chunk 1 is taken as last and fails its flag.
    sealed = seal(_body(3 * CHUNK_SIZE))
    assert_refused(sealed[: HEAD + 2 * SEALED_CHUNK_SIZE])
    assert_refused(_TAMPER_SEALED[:_LAST_START])


def test_drop_every_chunk() -> None:
    assert_refused(_TAMPER_SEALED[:HEAD])


@pytest.mark.parametrize(
    "cut",
    [1, len(MAGIC), len(MAGIC) + 10, HEAD - 1, HEAD + 1, HEAD + TAG_SIZE - 1, HEAD + CHUNK_SIZE, _LAST_START + 50],
)
def test_cut_mid_way(cut: int) -> None:
    assert_refused(_TAMPER_SEALED[:cut])


def test_cut_the_last_byte_of_a_single_chunk_part() -> None:
    sealed = seal(b"hello")
    assert_refused(sealed[:-1])


def _chunks(sealed: bytes) -> list[bytes]:
    return [sealed[i : i + SEALED_CHUNK_SIZE] for i in range(HEAD, len(sealed), SEALED_CHUNK_SIZE)]


def test_swap_two_chunks() -> None:
    chunks = _chunks(_TAMPER_SEALED)
    assert len(chunks) == 4
    swapped = _TAMPER_SEALED[:HEAD] + chunks[1] + chunks[0] + chunks[2] + chunks[3]
    assert_refused(swapped)
    swapped_full = _TAMPER_SEALED[:HEAD] + chunks[0] + chunks[2] + chunks[1] + chunks[3]
    assert_refused(swapped_full)


def test_append_a_chunk_from_another_part_for_the_same_recipient() -> None:
    other = seal(_body(3 * CHUNK_SIZE + 100, seed=8))
    other_chunks = _chunks(other)
    # After a complete part: the last chunk is no longer last.
    assert_refused(_TAMPER_SEALED + other_chunks[-1])
    assert_refused(_TAMPER_SEALED + other_chunks[1])
    # Replacing the last chunk with the other part's last chunk (same counter, same flag, other key).
    assert_refused(_TAMPER_SEALED[:_LAST_START] + other_chunks[-1])
    # Splicing the other part's chunk 1 into position 1.
    mine = _chunks(_TAMPER_SEALED)
    assert_refused(_TAMPER_SEALED[:HEAD] + mine[0] + other_chunks[1] + mine[2] + mine[3])


def test_swap_the_wrapped_key_of_another_part() -> None:
    other = seal(_TAMPER_BODY)
    assert_refused(other[:HEAD] + _TAMPER_SEALED[HEAD:])


@pytest.mark.parametrize("garbage", [b"\x00", b"garbage", b"\x00" * TAG_SIZE, b"\x00" * SEALED_CHUNK_SIZE])
def test_append_garbage(garbage: bytes) -> None:
    assert_refused(_TAMPER_SEALED + garbage)
    assert_refused(seal(b"") + garbage)
    assert_refused(seal(_body(CHUNK_SIZE)) + garbage)


def test_wrong_recipient_private_key() -> None:
    assert_refused(_TAMPER_SEALED, key=OTHER)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("kind", "pseudonyms"),
        ("sender", "kommune-4601"),
        ("recipient", "registry"),
        ("recipient_kid", "fedcba9876543210"),
        ("message_id", str(uuid.UUID(int=0x1235, version=4))),
    ],
)
def test_each_context_field_is_bound(field: str, value: str) -> None:
    other_context = dataclasses.replace(CONTEXT, **{field: value})
    assert other_context != CONTEXT
    assert_refused(_TAMPER_SEALED, context=other_context)
    # and the other way round: sealed under the other context, opened under the original
    assert_refused(seal(b"body", context=other_context))
    assert open_all(seal(b"body", context=other_context), context=other_context) == b"body"


def test_empty_last_chunk_after_a_full_chunk_is_not_canonical(monkeypatch: pytest.MonkeyPatch) -> None:
    # Built with a known file key: a full chunk followed by an empty last chunk decrypts, but a body has one
    # encoding only (the writer keeps the last full chunk back), so the reader refuses it.
    file_key = bytes(range(32))
    monkeypatch.setattr(_part, "os", types.SimpleNamespace(urandom=lambda n: file_key[:n]))
    body = _body(CHUNK_SIZE, seed=3)

    def handmade(chunks: list[tuple[bytes, bool]]) -> bytes:
        out = io.BytesIO()
        PartWriter(out, RECIPIENT.public_key(), CONTEXT)  # writes magic and the wrapped (known) file key
        aead = _part._body_key(file_key)
        for counter, (plain, last) in enumerate(chunks):
            out.write(aead.encrypt(_part._nonce(counter, last), plain, None))
        return out.getvalue()

    assert open_all(handmade([(body, True)])) == body  # the construction is right
    assert open_all(handmade([(b"", True)])) == b""
    assert_refused(handmade([(body, False), (b"", True)]))
    assert_refused(handmade([(body, False)]))  # no last flag at all


# --- laziness: nothing unauthenticated is ever yielded ----------------------------------------------------------


def _consume(data: bytes) -> tuple[list[bytes], InvalidEnvelope]:
    chunks = open_part(io.BytesIO(data), RECIPIENT, CONTEXT)
    seen: list[bytes] = []

    def drain() -> None:
        for chunk in chunks:
            seen.append(chunk)

    with pytest.raises(InvalidEnvelope) as caught:
        drain()
    assert next(chunks, None) is None  # the generator is finished after the error
    return seen, caught.value


def test_tampered_last_chunk_raises_after_only_authenticated_chunks() -> None:
    seen, error = _consume(flip(_TAMPER_SEALED, _LAST_START + 3))
    assert_opaque(error)
    assert seen == [_TAMPER_BODY[i * CHUNK_SIZE : (i + 1) * CHUNK_SIZE] for i in range(3)]


def test_tampered_middle_chunk_stops_before_it() -> None:
    seen, error = _consume(flip(_TAMPER_SEALED, HEAD + SEALED_CHUNK_SIZE + 10))
    assert_opaque(error)
    assert seen == [_TAMPER_BODY[:CHUNK_SIZE]]


def test_truncated_stream_raises_before_finishing() -> None:
    seen, error = _consume(_TAMPER_SEALED[: HEAD + 2 * SEALED_CHUNK_SIZE])
    assert_opaque(error)
    assert seen == [_TAMPER_BODY[:CHUNK_SIZE]]


def test_bad_magic_and_bad_wrapped_key_fail_before_any_chunk() -> None:
    # open_part checks the head eagerly: the error comes from the call, before a generator exists.
    for data in (flip(_TAMPER_SEALED, 0), flip(_TAMPER_SEALED, HEAD - 1)):
        with pytest.raises(InvalidEnvelope) as caught:
            open_part(io.BytesIO(data), RECIPIENT, CONTEXT)
        assert_opaque(caught.value)
