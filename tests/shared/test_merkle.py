"""RFC 9162 Merkle trees (shared/audit/merkle.py): known answers, a literal reference, and properties.

Three independent anchors: the RFC 6962 test vectors that the Certificate Transparency implementations publish
(the roots of the eight standard leaves, and their inclusion and consistency proofs), a deliberately naive
transcription of the RFC's recursive definitions below, and hypothesis properties of the verifiers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.audit.merkle import (
    EMPTY_ROOT,
    MerkleAccumulator,
    MerkleTree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

# --- a naive reference, straight from RFC 9162 §2.1 (on leaf *data*, recursion and slicing as written) -------


def ref_mth(data: Sequence[bytes]) -> bytes:
    """§2.1.1: MTH({}) = SHA-256(); MTH({d0}) = SHA-256(0x00 || d0); else split at k < n <= 2k."""
    n = len(data)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + data[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + ref_mth(data[:k]) + ref_mth(data[k:])).digest()


def ref_path(m: int, data: Sequence[bytes]) -> list[bytes]:
    """§2.1.3.1: PATH(m, D[n])."""
    n = len(data)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return [*ref_path(m, data[:k]), ref_mth(data[k:])]
    return [*ref_path(m - k, data[k:]), ref_mth(data[:k])]


def ref_subproof(m: int, data: Sequence[bytes], b: bool) -> list[bytes]:
    """§2.1.4.1: SUBPROOF(m, D[n], b)."""
    n = len(data)
    if m == n:
        return [] if b else [ref_mth(data)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return [*ref_subproof(m, data[:k], b), ref_mth(data[k:])]
    return [*ref_subproof(m - k, data[k:], False), ref_mth(data[:k])]


def ref_proof(m: int, data: Sequence[bytes]) -> list[bytes]:
    """§2.1.4.1: PROOF(m, D[n]) = SUBPROOF(m, D[n], true), for 0 < m < n."""
    return ref_subproof(m, data, True)


# --- the published RFC 6962 vectors ------------------------------------------------------------------------------

CT_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]
CT_ROOTS = [  # sizes 0..8
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_INCLUSION = [  # (index, tree size, proof)
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
CT_CONSISTENCY = [  # (first, second, proof)
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
CT_HASHES = [leaf_hash(d) for d in CT_LEAVES]


def unhex(values: list[str]) -> list[bytes]:
    return [bytes.fromhex(v) for v in values]


def test_hashing_primitives_follow_the_rfc() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    assert node_hash(b"L" * 32, b"R" * 32) == hashlib.sha256(b"\x01" + b"L" * 32 + b"R" * 32).digest()
    # A leaf and a node over the same bytes never hash alike (the point of the prefixes).
    assert leaf_hash(b"L" * 32 + b"R" * 32) != node_hash(b"L" * 32, b"R" * 32)


@pytest.mark.parametrize("size", range(len(CT_ROOTS)))
def test_roots_of_the_published_vectors(size: int) -> None:
    assert root(CT_HASHES, size).hex() == CT_ROOTS[size]
    assert ref_mth(CT_LEAVES[:size]).hex() == CT_ROOTS[size]
    assert MerkleAccumulator.from_leaves(CT_HASHES[:size]).root().hex() == CT_ROOTS[size]
    assert MerkleTree.from_leaves(CT_HASHES).root(size).hex() == CT_ROOTS[size]


@pytest.mark.parametrize(("index", "size", "expected"), CT_INCLUSION)
def test_inclusion_proofs_of_the_published_vectors(index: int, size: int, expected: list[str]) -> None:
    proof = inclusion_proof(CT_HASHES, index, size)
    assert proof == unhex(expected)
    assert MerkleTree.from_leaves(CT_HASHES).inclusion_proof(index, size) == proof
    assert verify_inclusion(CT_HASHES[index], index, size, proof, bytes.fromhex(CT_ROOTS[size]))


@pytest.mark.parametrize(("first", "second", "expected"), CT_CONSISTENCY)
def test_consistency_proofs_of_the_published_vectors(first: int, second: int, expected: list[str]) -> None:
    proof = consistency_proof(CT_HASHES, first, second)
    assert proof == unhex(expected)
    assert MerkleTree.from_leaves(CT_HASHES).consistency_proof(first, second) == proof
    first_root, second_root = bytes.fromhex(CT_ROOTS[first]), bytes.fromhex(CT_ROOTS[second])
    assert verify_consistency(first, second, first_root, second_root, proof)


def distinct_leaves(n: int) -> list[bytes]:
    return [b"leaf-%d" % i for i in range(n)]


def test_everything_matches_the_reference_for_every_small_tree() -> None:
    """Every size up to 40, every index, every pair of sizes: generation equals the RFC's recursion."""
    data = distinct_leaves(40)
    hashes = [leaf_hash(d) for d in data]
    tree = MerkleTree()
    accumulator = MerkleAccumulator()
    for n in range(len(data) + 1):
        assert root(hashes, n) == ref_mth(data[:n]) == tree.root() == accumulator.root()
        for m in range(n):
            proof = inclusion_proof(hashes, m, n)
            assert proof == ref_path(m, data[:n]) == tree.inclusion_proof(m, n)
            assert verify_inclusion(hashes[m], m, n, proof, root(hashes, n))
        for m in range(1, n):
            proof = consistency_proof(hashes, m, n)
            assert proof == ref_proof(m, data[:n]) == tree.consistency_proof(m, n)
            assert verify_consistency(m, n, root(hashes, m), root(hashes, n), proof)
        if n < len(data):
            tree.append(hashes[n])
            accumulator.append(hashes[n])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: inclusion_proof(CT_HASHES, 3, 3), "index"),
        (lambda: inclusion_proof(CT_HASHES, -1, 3), "index"),
        (lambda: inclusion_proof(CT_HASHES, 0, 9), "tree_size"),
        (lambda: consistency_proof(CT_HASHES, 4, 3), "sizes"),
        (lambda: consistency_proof(CT_HASHES, 1, 9), "tree_size"),
        (lambda: consistency_proof(CT_HASHES, -1, 3), "sizes"),
        (lambda: root(CT_HASHES, 9), "tree_size"),
        (lambda: MerkleTree.from_leaves(CT_HASHES).root(9), "tree_size"),
        (lambda: MerkleTree.from_leaves(CT_HASHES).inclusion_proof(8, 8), "index"),
        (lambda: MerkleTree.from_leaves(CT_HASHES).leaf(8), "index"),
        (lambda: MerkleAccumulator().append(b"short"), "32 bytes"),
        (lambda: MerkleTree().append(b"short"), "32 bytes"),
    ],
)
def test_generation_refuses_impossible_requests(call: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_large_trees_agree_between_the_list_functions_and_the_cached_tree() -> None:
    """Sizes around powers of two and a thousand leaves: the cached tree's O(log² n) proofs are the same."""
    hashes = [leaf_hash(b"%d" % i) for i in range(1000)]
    tree = MerkleTree.from_leaves(hashes)
    for size in (255, 256, 257, 511, 512, 513, 1000):
        assert tree.root(size) == root(hashes, size) == MerkleAccumulator.from_leaves(hashes[:size]).root()
        for index in (0, 1, size // 3, size - 2, size - 1):
            proof = tree.inclusion_proof(index, size)
            assert proof == inclusion_proof(hashes, index, size)
            assert verify_inclusion(hashes[index], index, size, proof, root(hashes, size))
        for first in (1, 2, 127, 128, 129, size - 1):
            proof = tree.consistency_proof(first, size)
            assert proof == consistency_proof(hashes, first, size)
            assert verify_consistency(first, size, root(hashes, first), root(hashes, size), proof)


def test_the_edge_cases_outside_the_rfcs_range() -> None:
    """The RFC defines consistency for 0 < first < second; the verifier pins down the rest."""
    r3, r5 = root(CT_HASHES, 3), root(CT_HASHES, 5)
    assert consistency_proof(CT_HASHES, 0, 5) == []
    assert consistency_proof(CT_HASHES, 5, 5) == []
    assert verify_consistency(0, 5, EMPTY_ROOT, r5, [])
    assert not verify_consistency(0, 5, r3, r5, [])  # a tree of size 0 has only the empty root
    assert not verify_consistency(0, 5, EMPTY_ROOT, r5, [r3])
    assert verify_consistency(5, 5, r5, r5, [])
    assert not verify_consistency(5, 5, r5, r3, [])
    assert not verify_consistency(5, 5, r5, r5, [r5])
    assert not verify_consistency(5, 3, r5, r3, [])  # time travel
    assert not verify_consistency(3, 5, r3, r5, [])  # RFC step 1: an empty proof fails
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    # An inclusion proof in a tree of size 0 or with an index past the end never verifies.
    assert not verify_inclusion(CT_HASHES[0], 0, 0, [], EMPTY_ROOT)
    assert not verify_inclusion(CT_HASHES[0], 1, 1, [], CT_HASHES[0])
    assert verify_inclusion(CT_HASHES[0], 0, 1, [], CT_HASHES[0])


# --- properties ---------------------------------------------------------------------------------------------------

trees = st.lists(st.binary(max_size=12), min_size=1, max_size=140, unique=True).map(
    lambda data: [leaf_hash(d) for d in data]
)
junk_elements = st.sampled_from([b"", b"\x00" * 31, b"\x00" * 33, "0" * 64, None, 7])


def flipped(value: bytes, position: int) -> bytes:
    return value[:position] + bytes([value[position] ^ 0x01]) + value[position + 1 :]


@settings(max_examples=60, deadline=None)
@given(trees)
def test_every_inclusion_proof_of_every_index_verifies(hashes: list[bytes]) -> None:
    n = len(hashes)
    tree_root = root(hashes)
    tree = MerkleTree.from_leaves(hashes)
    for index in range(n):
        proof = inclusion_proof(hashes, index, n)
        assert tree.inclusion_proof(index, n) == proof
        assert verify_inclusion(hashes[index], index, n, proof, tree_root)


@settings(max_examples=200, deadline=None)
@given(trees, st.data())
def test_a_tampered_inclusion_proof_never_verifies_and_never_raises(hashes: list[bytes], data: st.DataObject) -> None:
    n = len(hashes)
    index = data.draw(st.integers(0, n - 1), label="index")
    proof = inclusion_proof(hashes, index, n)
    leaf, tree_root = hashes[index], root(hashes)
    assert verify_inclusion(leaf, index, n, proof, tree_root)

    for i, element in enumerate(proof):  # every byte of every element
        for position in range(len(element)):
            assert not verify_inclusion(
                leaf, index, n, [*proof[:i], flipped(element, position), *proof[i + 1 :]], tree_root
            )
    # Another position: the proof's left/right turns no longer lead to the root. (Leaves are distinct here; a
    # log that holds the same entry twice proves it at both places, rightly.)
    for other in {index - 1, index + 1, index ^ 2} - {index}:
        assert not verify_inclusion(leaf, other, n, proof, tree_root)
    # Another size whose path has a different length: the RFC's final "sn == 0" check. (A size whose path has
    # the same shape is not caught by the proof; the signed checkpoint binds the size to the root.)
    assert not verify_inclusion(leaf, index, 2 * n, proof, tree_root)
    assert not verify_inclusion(leaf, index, n // 2, proof, tree_root)
    assert not verify_inclusion(flipped(leaf, 0), index, n, proof, tree_root)
    assert not verify_inclusion(leaf, index, n, proof, flipped(tree_root, 31))
    assert not verify_inclusion(leaf, index, n, proof, EMPTY_ROOT)
    # Wrong length: one element too many (anywhere), one too few.
    extra = data.draw(st.sampled_from([tree_root, leaf, EMPTY_ROOT]), label="extra")
    where = data.draw(st.integers(0, len(proof)), label="where")
    assert not verify_inclusion(leaf, index, n, [*proof[:where], extra, *proof[where:]], tree_root)
    if proof:
        assert not verify_inclusion(leaf, index, n, proof[:-1], tree_root)
        assert not verify_inclusion(leaf, index, n, proof[1:], tree_root)
        junk = data.draw(junk_elements, label="junk")
        assert not verify_inclusion(leaf, index, n, [*proof[:-1], junk], tree_root)  # type: ignore[list-item]
    assert not verify_inclusion(leaf[:31], index, n, proof, tree_root)
    assert not verify_inclusion(leaf, index, n, proof, tree_root + b"\x00")
    assert not verify_inclusion(leaf, -1, n, proof, tree_root)
    assert not verify_inclusion(leaf, True, n, proof, tree_root)


@settings(max_examples=60, deadline=None)
@given(trees)
def test_every_consistency_proof_between_any_two_sizes_verifies(hashes: list[bytes]) -> None:
    n = len(hashes)
    tree = MerkleTree.from_leaves(hashes)
    roots = [tree.root(size) for size in range(n + 1)]
    assert roots == [root(hashes, size) for size in range(n + 1)]
    for second in range(n + 1):
        for first in range(second + 1):
            proof = consistency_proof(hashes, first, second)
            assert tree.consistency_proof(first, second) == proof
            assert verify_consistency(first, second, roots[first], roots[second], proof)


@settings(max_examples=200, deadline=None)
@given(trees, st.data())
def test_a_tampered_consistency_proof_never_verifies_and_never_raises(hashes: list[bytes], data: st.DataObject) -> None:
    n = len(hashes)
    second = data.draw(st.integers(1, n), label="second")
    first = data.draw(st.integers(1, second), label="first")
    proof = consistency_proof(hashes, first, second)
    r1, r2 = root(hashes, first), root(hashes, second)
    assert verify_consistency(first, second, r1, r2, proof)
    if first == second:
        # The empty proof of a tree with itself: only equal roots pass.
        assert not verify_consistency(first, second, r1, flipped(r2, 0), proof)
        assert not verify_consistency(first, second, r1, r2, [r1])
        return

    for i, element in enumerate(proof):
        for position in range(len(element)):
            assert not verify_consistency(
                first, second, r1, r2, [*proof[:i], flipped(element, position), *proof[i + 1 :]]
            )
    # The probes of the transparency-dev test suite: wrong sizes, roots, and lengths.
    for f, s in {
        (first - 1, second),
        (first + 1, second),
        (first ^ 2, second),
        (first, second * 2),
        (first, second // 2),
    }:
        if (f, s) != (first, second):
            assert not verify_consistency(f, s, r1, r2, proof)
    assert not verify_consistency(first, second, flipped(r1, 5), r2, proof)
    assert not verify_consistency(first, second, r1, flipped(r2, 5), proof)
    assert not verify_consistency(first, second, r2, r1, proof)
    assert not verify_consistency(first, second, r1, r2, [])
    assert not verify_consistency(first, second, r1, r2, proof[:-1])
    for extra in (r1, r2, proof[0], EMPTY_ROOT):
        assert not verify_consistency(first, second, r1, r2, [*proof, extra])
        assert not verify_consistency(first, second, r1, r2, [extra, *proof])
    junk = data.draw(junk_elements, label="junk")
    assert not verify_consistency(first, second, r1, r2, [*proof[:-1], junk])  # type: ignore[list-item]
    assert not verify_consistency(first, second, r1[:31], r2, proof)
    assert not verify_consistency(-first, second, r1, r2, proof)


@settings(max_examples=100, deadline=None)
@given(trees)
def test_the_accumulator_equals_the_batch_root_at_every_size(hashes: list[bytes]) -> None:
    accumulator = MerkleAccumulator()
    assert accumulator.root() == EMPTY_ROOT
    for size, leaf in enumerate(hashes, start=1):
        accumulator.append(leaf)
        assert accumulator.size == size
        assert accumulator.root() == root(hashes, size)
    snapshot = accumulator.copy()
    accumulator.append(EMPTY_ROOT)
    assert snapshot.root() == root(hashes)  # a copy does not move with the original
    assert accumulator.root() == root([*hashes, EMPTY_ROOT])
