"""``ExactKeys``: an exact map of byte strings to short byte values in two flat buffers, for the state that grows
with a submission (every reference, pseudonym and tjenesteID of it).

A ``dict`` or ``set`` of ``bytes`` costs about 100 bytes an entry (a bytes object and a table slot); here an entry
is its bytes, three bytes of lengths and flag, and 4 bytes of slot at two thirds load at most: about a third.
Keys are compared byte for byte, never by a digest, so a "seen before" is never a false one. The slot is chosen
by ``hash()``, which is keyed per process (SipHash), so chosen keys cannot force long probe chains.
"""

from __future__ import annotations

from array import array
from typing import Final

__all__ = ["ExactKeys"]

_MAX_PART: Final = 255  # a key longer than this goes to the (exact, ordinary) overflow dictionary
_LIVE: Final = 1
_POPPED: Final = 0
_LENGTH: Final = tuple(bytes((n,)) for n in range(_MAX_PART + 1))
_LIVE_LENGTH: Final = tuple(bytes((_LIVE, n)) for n in range(_MAX_PART + 1))


class ExactKeys:
    """Byte-string keys with a byte-string value (at most 255 bytes) each; entries are only added, or popped
    (marked, not freed).

    Layout of an entry in the heap: key length (1 byte), key, flag (live or popped), value length, value. A slot
    holds the entry's offset in the heap (0: empty; the heap starts with a byte no entry uses)."""

    __slots__ = ("_count", "_heap", "_live", "_mask", "_overflow", "_slots")

    def __init__(self, expected: int = 0) -> None:
        """``expected``: how many entries to make room for at once (more still fit)."""
        size = 1024
        while size * 2 <= expected * 3:  # below the two thirds that make it grow
            size *= 2
        self._heap = bytearray(1)
        self._slots = array("I", bytes(4 * size))
        self._mask = size - 1
        self._count = 0  # entries in the heap (live or popped)
        self._live = 0
        self._overflow: dict[bytes, tuple[bytes, bool]] = {}  # key -> (value, live)

    def __len__(self) -> int:
        """Live entries (added and not popped)."""
        return self._live

    def _find(self, key: bytes) -> tuple[int, int]:
        """(slot index, heap offset of the entry, or 0 if the key is absent: then the index is a free slot)."""
        heap, slots, mask = self._heap, self._slots, self._mask
        size = len(key)
        perturb = hash(key) & 0xFFFF_FFFF_FFFF_FFFF
        index = perturb & mask
        while True:
            offset = slots[index]
            if not offset or (heap[offset] == size and heap[offset + 1 : offset + 1 + size] == key):
                return index, offset
            perturb >>= 5
            index = (index * 5 + perturb + 1) & mask

    def add(self, key: bytes, value: bytes = b"") -> bytes | None:
        """Add ``key`` with ``value`` unless it is there (live or popped); return None if added, else its value."""
        if len(value) > _MAX_PART:
            raise ValueError("a value of ExactKeys is at most 255 bytes")
        if len(key) > _MAX_PART:
            if key in self._overflow:
                return self._overflow[key][0]
            self._overflow[key] = (value, True)
            self._live += 1
            return None
        # The probe of :meth:`_find`, inlined: this runs once per service of a submission.
        heap, slots, mask = self._heap, self._slots, self._mask
        size = len(key)
        perturb = hash(key) & 0xFFFF_FFFF_FFFF_FFFF
        index = perturb & mask
        offset = slots[index]
        while offset:
            if heap[offset] == size and heap[offset + 1 : offset + 1 + size] == key:
                start = offset + 1 + size
                return bytes(heap[start + 2 : start + 2 + heap[start + 1]])
            perturb >>= 5
            index = (index * 5 + perturb + 1) & mask
            offset = slots[index]
        offset = len(heap)
        heap += _LENGTH[size]
        heap += key
        heap += _LIVE_LENGTH[len(value)]
        heap += value
        slots[index] = offset  # an OverflowError past 4 GiB of heap: far beyond any upload limit
        self._count += 1
        self._live += 1
        if self._count * 3 >= (self._mask + 1) * 2:
            self._grow()
        return None

    def pop(self, key: bytes) -> bytes | None:
        """The value of a live ``key``, which is popped; None if absent or popped already."""
        if len(key) > _MAX_PART:
            found = self._overflow.get(key)
            if found is None or not found[1]:
                return None
            value = found[0]
            self._overflow[key] = (value, False)
            self._live -= 1
            return value
        _, offset = self._find(key)
        if not offset:
            return None
        heap = self._heap
        flag = offset + 1 + len(key)
        if heap[flag] != _LIVE:
            return None
        heap[flag] = _POPPED
        self._live -= 1
        return bytes(heap[flag + 2 : flag + 2 + heap[flag + 1]])

    def _grow(self) -> None:
        heap = self._heap
        mask = (self._mask + 1) * 4 - 1
        slots = array("I", bytes(4 * (mask + 1)))
        for offset in self._slots:
            if offset:
                size = heap[offset]
                perturb = hash(bytes(heap[offset + 1 : offset + 1 + size])) & 0xFFFF_FFFF_FFFF_FFFF
                index = perturb & mask
                while slots[index]:
                    perturb >>= 5
                    index = (index * 5 + perturb + 1) & mask
                slots[index] = offset
        self._slots, self._mask = slots, mask
