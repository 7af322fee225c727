"""Merkle tree hashing, inclusion and consistency proofs, exactly as RFC 9162 section 2.1 defines them.

The tree is the one Certificate Transparency uses (RFC 6962, restated in RFC 9162 §2.1.1)::

    MTH({})      = SHA-256()                              the empty string
    MTH({d0})    = SHA-256(0x00 || d0)                    a leaf
    MTH(D[n])    = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))   k = the largest power of two smaller than n

The 0x00 / 0x01 prefixes keep a leaf from ever hashing like an inner node, so nobody can present two leaves'
hashes as a leaf (second-preimage attack). Everything here works on *leaf hashes*, never on the leaf data:
a log keeps one 32-byte hash per entry, and a verifier needs only the hash of the entry it checks, the proof
and the roots.

Generation from a list of leaf hashes (``root``, ``inclusion_proof``, ``consistency_proof``) is O(n) in the
tree size: fine for tens of thousands of entries. ``MerkleAccumulator`` keeps a log's root up to date in
O(log n) per appended leaf and O(log n) memory (an auditor replaying a log); ``MerkleTree`` keeps every complete
subtree's root (about 2n hashes) and answers roots and proofs for any size in O(log² n) (a log serving proofs).
Verification (``verify_inclusion``, ``verify_consistency``) follows the RFC's
algorithms step by step, returns ``False`` for every malformed input (wrong sizes, wrong hash lengths, a proof
too long or too short) and never raises: a verifier should have a single answer to check, not an exception
path an attacker can steer.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Sequence
from typing import Final

HASH_SIZE: Final = 32
LEAF_PREFIX: Final = b"\x00"
NODE_PREFIX: Final = b"\x01"
#: MTH({}) = SHA-256 of the empty string (e3b0c442...).
EMPTY_ROOT: Final = hashlib.sha256(b"").digest()

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MerkleAccumulator",
    "MerkleTree",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root",
    "verify_consistency",
    "verify_inclusion",
]


def leaf_hash(data: bytes) -> bytes:
    """The hash of one leaf: SHA-256(0x00 || data)."""
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The hash of an inner node: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def _largest_power_of_two_below(n: int) -> int:
    """k with k < n <= 2k, for n >= 2 (the RFC's split point)."""
    return 1 << ((n - 1).bit_length() - 1)


def _subtree_root(leaf_hashes: Sequence[bytes], start: int, end: int) -> bytes:
    """MTH of leaves [start, end), start < end.

    Pairing neighbours level by level and carrying an odd last node up unchanged builds the same tree as the
    recursive split at the largest power of two (the left subtree is always the complete one), without the
    recursion. ``tests/shared/test_merkle.py`` checks this against a literal transcription of the RFC.
    """
    level = list(leaf_hashes[start:end])
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def _check_hashes(leaf_hashes: Sequence[bytes], tree_size: int) -> None:
    if not 0 <= tree_size <= len(leaf_hashes):
        raise ValueError("tree_size must lie between 0 and the number of leaf hashes given")


def root(leaf_hashes: Sequence[bytes], tree_size: int | None = None) -> bytes:
    """MTH of the first ``tree_size`` leaf hashes (all of them by default)."""
    size = len(leaf_hashes) if tree_size is None else tree_size
    _check_hashes(leaf_hashes, size)
    return EMPTY_ROOT if size == 0 else _subtree_root(leaf_hashes, 0, size)


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int, tree_size: int) -> list[bytes]:
    """PATH(index, D[tree_size]) of RFC 9162 §2.1.3.1: the audit path of leaf ``index`` in the tree of the
    first ``tree_size`` leaves, ordered from the leaf's sibling up to the root's child."""
    _check_hashes(leaf_hashes, tree_size)
    return _inclusion_path(index, tree_size, lambda start, end: _subtree_root(leaf_hashes, start, end))


def consistency_proof(leaf_hashes: Sequence[bytes], first: int, second: int) -> list[bytes]:
    """PROOF(first, D[second]) of RFC 9162 §2.1.4.1: shows the tree of size ``first`` is a prefix of the tree of
    size ``second``.

    The RFC defines it for 0 < first < second. For first == 0 (the empty tree is a prefix of every tree) and
    first == second (a tree is consistent with itself) the proof is empty, as in transparency-dev/merkle;
    ``verify_consistency`` handles those two cases explicitly.
    """
    _check_hashes(leaf_hashes, second)
    return _consistency_path(first, second, lambda start, end: _subtree_root(leaf_hashes, start, end))


SubtreeRoot = Callable[[int, int], bytes]


def _inclusion_path(index: int, tree_size: int, subtree_root: SubtreeRoot) -> list[bytes]:
    if not 0 <= index < tree_size:
        raise ValueError("index must lie in [0, tree_size)")
    proof: list[bytes] = []
    start, end, m = 0, tree_size, index
    # The RFC's recursion appends the sibling *after* the sub-path, so walking down from the root collects
    # the siblings top-first; reversed at the end.
    while end - start > 1:
        k = _largest_power_of_two_below(end - start)
        if m < k:
            proof.append(subtree_root(start + k, end))
            end = start + k
        else:
            proof.append(subtree_root(start, start + k))
            start, m = start + k, m - k
    proof.reverse()
    return proof


def _consistency_path(first: int, second: int, subtree_root: SubtreeRoot) -> list[bytes]:
    if not 0 <= first <= second:
        raise ValueError("sizes must satisfy 0 <= first <= second")
    if first in (0, second):
        return []
    proof: list[bytes] = []
    start, end, m, whole = 0, second, first, True  # SUBPROOF(m, D[start:end], whole)
    while m != end - start:
        k = _largest_power_of_two_below(end - start)
        if m <= k:
            proof.append(subtree_root(start + k, end))
            end = start + k
        else:
            proof.append(subtree_root(start, start + k))
            start, m, whole = start + k, m - k, False
    if not whole:
        proof.append(subtree_root(start, end))
    proof.reverse()
    return proof


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == HASH_SIZE


def _is_size(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def verify_inclusion(leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 §2.1.3.2: True if ``proof`` shows that ``leaf_hash`` is leaf ``index`` of the tree of size
    ``tree_size`` whose root is ``root``."""
    if not (_is_size(index) and _is_size(tree_size) and _is_hash(leaf_hash) and _is_hash(root)):
        return False
    if not all(_is_hash(p) for p in proof):
        return False
    # 1. leaf_index >= tree_size: fail.
    if index >= tree_size:
        return False
    # 2. fn = leaf_index, sn = tree_size - 1.   3. r = hash.
    fn, sn, r = index, tree_size - 1, leaf_hash
    # 4. for each p in the proof:
    for p in proof:
        # a. sn == 0: the proof is longer than the path: fail.
        if sn == 0:
            return False
        # b. fn is a right child, or the last node of its level (its sibling is to the left).
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            # ii. skip the levels where fn is a lone last node carried up unchanged.
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        # c.
        fn >>= 1
        sn >>= 1
    # 5. sn == 0 (the proof was not too short) and r == root.
    return sn == 0 and hmac.compare_digest(r, root)


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]) -> bool:
    """RFC 9162 §2.1.4.2: True if ``proof`` shows that the tree of size ``first`` with root ``first_root`` is a
    prefix of the tree of size ``second`` with root ``second_root``.

    Outside the RFC's 0 < first < second: first == second needs an empty proof and equal roots; first == 0
    needs an empty proof and the empty tree's root (a tree of size 0 has no other).
    """
    if not (_is_size(first) and _is_size(second) and _is_hash(first_root) and _is_hash(second_root)):
        return False
    proof = list(proof)
    if not all(_is_hash(c) for c in proof) or first > second:
        return False
    if first == second:
        return not proof and hmac.compare_digest(first_root, second_root)
    if first == 0:
        return not proof and hmac.compare_digest(first_root, EMPTY_ROOT)
    # 1. An empty path: fail.
    if not proof:
        return False
    # 2. first a power of two: the old root is itself a node of the new tree, and the proof omits it.
    if first & (first - 1) == 0:
        proof.insert(0, first_root)
    # 3.
    fn, sn = first - 1, second - 1
    # 4. skip the levels where the old tree's last node is a right child (it is inside a complete subtree).
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # 5.
    fr = sr = proof[0]
    # 6.
    for c in proof[1:]:
        # a.
        if sn == 0:
            return False
        # b.
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        # c.
        fn >>= 1
        sn >>= 1
    # 7.
    return sn == 0 and hmac.compare_digest(fr, first_root) and hmac.compare_digest(sr, second_root)


class MerkleAccumulator:
    """The root of an append-only list of leaves, kept up to date in O(log n) per leaf.

    Holds the roots of the complete subtrees that the leaves so far decompose into (a "compact range"), largest
    first: 13 leaves are subtrees of 8, 4 and 1. Appending a leaf merges equal-sized neighbours like carrying
    in binary addition; the root folds the stack from the right, which is exactly MTH's split at the largest
    power of two.
    """

    __slots__ = ("_size", "_stack")

    def __init__(self) -> None:
        self._size = 0
        self._stack: list[tuple[int, bytes]] = []  # (subtree size, subtree root), sizes strictly decreasing

    @classmethod
    def from_leaves(cls, leaf_hashes: Iterable[bytes]) -> MerkleAccumulator:
        accumulator = cls()
        for leaf in leaf_hashes:
            accumulator.append(leaf)
        return accumulator

    @property
    def size(self) -> int:
        return self._size

    def append(self, leaf_hash: bytes) -> None:
        if not _is_hash(leaf_hash):
            raise ValueError("a leaf hash is 32 bytes")
        size, node = 1, leaf_hash
        while self._stack and self._stack[-1][0] == size:
            left_size, left = self._stack.pop()
            size, node = left_size + size, node_hash(left, node)
        self._stack.append((size, node))
        self._size += 1

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        node = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            node = node_hash(left, node)
        return node

    def copy(self) -> MerkleAccumulator:
        other = MerkleAccumulator()
        other._size = self._size
        other._stack = list(self._stack)
        return other


class MerkleTree:
    """An append-only tree that keeps the root of every complete subtree: proofs in O(log² n), not O(n).

    ``levels[h][j]`` is the root of leaves [j·2^h, (j+1)·2^h), stored once all of them exist (about 2n hashes
    in all). Every range the RFC's PATH and SUBPROOF recursions ask about starts at a multiple of the smallest
    power of two not below its length, so it splits into a few such aligned complete subtrees, largest first,
    whose fold from the right is its MTH (the same fold as ``MerkleAccumulator.root``). A service keeps one of
    these in memory and answers every proof request without rereading its log.
    """

    __slots__ = ("_levels",)

    def __init__(self) -> None:
        self._levels: list[list[bytes]] = [[]]

    @classmethod
    def from_leaves(cls, leaf_hashes: Iterable[bytes]) -> MerkleTree:
        tree = cls()
        for leaf in leaf_hashes:
            tree.append(leaf)
        return tree

    @property
    def size(self) -> int:
        return len(self._levels[0])

    def leaf(self, index: int) -> bytes:
        if not 0 <= index < self.size:
            raise ValueError("index must lie in [0, size)")
        return self._levels[0][index]

    def append(self, leaf_hash: bytes) -> None:
        if not _is_hash(leaf_hash):
            raise ValueError("a leaf hash is 32 bytes")
        self._levels[0].append(leaf_hash)
        height = 0
        # An even count at a level means its last two nodes just became siblings of a complete parent.
        while len(self._levels[height]) % 2 == 0:
            if height + 1 == len(self._levels):
                self._levels.append([])
            level = self._levels[height]
            self._levels[height + 1].append(node_hash(level[-2], level[-1]))
            height += 1

    def _range_root(self, start: int, end: int) -> bytes:
        """MTH of leaves [start, end), for the ranges the RFC recursions produce (see the class docstring)."""
        nodes: list[bytes] = []
        position, length = start, end - start
        for height in reversed(range(length.bit_length())):
            if length >> height & 1:
                if position % (1 << height):
                    raise ValueError("not a range of the RFC 9162 tree")
                nodes.append(self._levels[height][position >> height])
                position += 1 << height
        node = nodes[-1]
        for left in reversed(nodes[:-1]):
            node = node_hash(left, node)
        return node

    def _check_size(self, tree_size: int) -> None:
        if not 0 <= tree_size <= self.size:
            raise ValueError("tree_size must lie between 0 and the tree's size")

    def root(self, tree_size: int | None = None) -> bytes:
        """MTH of the first ``tree_size`` leaves (all by default)."""
        size = self.size if tree_size is None else tree_size
        self._check_size(size)
        return EMPTY_ROOT if size == 0 else self._range_root(0, size)

    def inclusion_proof(self, index: int, tree_size: int) -> list[bytes]:
        self._check_size(tree_size)
        return _inclusion_path(index, tree_size, self._range_root)

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        self._check_size(second)
        return _consistency_path(first, second, self._range_root)
