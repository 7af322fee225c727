"""The file-like object lxml reads an export from: it scans the prolog before lxml sees a byte (refusing a
DOCTYPE and any encoding a byte scan cannot read), and it stops feeding once an error is known or once too much
XML went in without a person starting or ending (the reader's memory bound)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import BinaryIO

from shared.iplos.reader._errors import refuse

# The prolog scan reads up to this much before lxml sees a byte; a longer prolog is refused.
_MAX_PROLOG = 64 * 1024
# How much XML may be fed between one person's start or end and the next (see the package docstring).
DEFAULT_MAX_PERSON_BYTES = 8 * 1024 * 1024

# Encodings whose bytes for '<', '!', '?', '-' and ASCII letters are the ASCII bytes, so the prolog scan sees
# every markup byte. Compared case-insensitively, without '-'/'_'.
_ASCII_COMPATIBLE = frozenset({"utf8", "usascii", "ascii", "iso88591", "latin1", "iso885915", "windows1252"})
_ENCODING_DECL = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._\-]{1,40})["']""")
_WHITESPACE = b" \t\r\n"


class StopFeeding(Exception):
    """Raised from the source's ``read`` to stop lxml feeding more data once an error is known."""


class TooMuchWithoutAPerson(Exception):
    """Raised from the source's ``read`` once ``max_gap`` bytes went in without a person's start or end."""


_READ_SIZE = 64 * 1024


class GuardedSource:
    """The file-like object lxml reads from.

    It scans the prolog before lxml sees a byte (refusing a DOCTYPE), hands the scanned bytes back to lxml
    unchanged, and refuses to feed another chunk once the parser's error log holds an error, so a broken
    file is not read to its end (nor a tree of it built: an invalid file may have no elements for the reader
    to clear). It also refuses to feed more than ``max_gap`` bytes past ``mark`` (which the reader moves on
    at every event), so what libxml2 buffers and what the tree holds stay bounded whatever the input.
    """

    def __init__(self, raw: BinaryIO, max_gap: int = DEFAULT_MAX_PERSON_BYTES) -> None:
        self._raw = raw
        self._pending = b""
        self.root_line = 0
        self.stop_if: Callable[[], bool] | None = None
        self.max_gap = max_gap
        self.fed = 0
        self.mark = 0

    def scan_prolog(self) -> None:
        buffer = b""
        while len(buffer) < _MAX_PROLOG:
            data = self._raw.read(_MAX_PROLOG - len(buffer))
            if not data:
                break
            if not isinstance(data, bytes):
                raise TypeError("the export source must be opened in binary mode")
            buffer += data
        self._pending = buffer

        if buffer[:2] in (b"\xfe\xff", b"\xff\xfe") or b"\x00" in buffer[:4]:
            raise refuse(1, "the export must be UTF-8 encoded (UTF-16 and UTF-32 are not accepted)")
        position = 3 if buffer.startswith(b"\xef\xbb\xbf") else 0
        while True:
            while position < len(buffer) and buffer[position] in _WHITESPACE:
                position += 1
            if buffer.startswith(b"<?", position):
                end = buffer.find(b"?>", position + 2)
                if end < 0:
                    position = len(buffer)  # unterminated: too long (below) or truncated (lxml says so)
                    break
                declaration = buffer[position : end + 2]
                if declaration.startswith(b"<?xml") and declaration[5:6] in (b" ", b"\t", b"\r", b"\n"):
                    self._check_encoding(declaration)
                position = end + 2
            elif buffer.startswith(b"<!--", position):
                end = buffer.find(b"-->", position + 4)
                if end < 0:
                    position = len(buffer)
                    break
                position = end + 3
            elif buffer.startswith(b"<!", position):
                # <!DOCTYPE (or any other declaration: none is legal before the root but the DOCTYPE).
                raise refuse(buffer.count(b"\n", 0, position) + 1, "a DOCTYPE declaration is not allowed")
            else:
                break
        if position >= len(buffer) and len(buffer) >= _MAX_PROLOG:
            raise refuse(buffer.count(b"\n") + 1, "the prolog before the root element is too long")
        if position < len(buffer) and buffer[position] != ord("<"):
            # Not markup in an ASCII-compatible encoding (EBCDIC, say, which the scan could not read).
            raise refuse(buffer.count(b"\n", 0, position) + 1, "the document does not start with XML markup")
        self.root_line = buffer.count(b"\n", 0, position) + 1

    @staticmethod
    def _check_encoding(declaration: bytes) -> None:
        match = _ENCODING_DECL.search(declaration)
        if match is None:
            return  # no encoding declared: UTF-8
        name = match.group(1).decode("ascii").lower().replace("-", "").replace("_", "")
        if name not in _ASCII_COMPATIBLE:
            raise refuse(1, "the export must be UTF-8 encoded (the declared encoding is not accepted)")

    def read(self, size: int = -1) -> bytes:
        if self.stop_if is not None and self.stop_if():
            raise StopFeeding
        if self.fed - self.mark > self.max_gap:
            raise TooMuchWithoutAPerson
        if size < 0:
            size = _READ_SIZE  # never the whole rest of the file at once
        if self._pending:
            data, self._pending = self._pending[:size], self._pending[size:]
        else:
            data = self._raw.read(size)
        self.fed += len(data)
        return data
