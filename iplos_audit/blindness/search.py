"""Searching files and answers for needles, and naming every place looked at.

A hit names the file (relative to the state folder) or the answer, the offset and, in a text file, the line, and
which needle matched, never the value itself.
"""

from __future__ import annotations

import io
import mmap
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from iplos_audit.blindness.canaries import Needle

__all__ = ["Hit", "OpenedFile", "Searched", "open_bytes", "relative", "search_bytes", "search_folder", "walk_files"]

_MAX_HITS_PER_NEEDLE: Final = 20


@dataclass(frozen=True)
class Hit:
    where: str
    """A file relative to the state folder, or an answer (``TPF GET /v1/messages/{id}``)."""
    offset: int
    line: int | None
    needle: Needle

    def describe(self) -> str:
        at = f"offset {self.offset}" + (f", line {self.line}" if self.line is not None else "")
        return f"{self.needle.label} ({self.needle.form}) at {at}"


@dataclass
class Searched:
    """What one search covered, so the report can name every file and answer it looked at."""

    files: list[tuple[str, int]] = field(default_factory=list)
    answers: list[tuple[str, str]] = field(default_factory=list)
    """(what was asked, what came back: "HTTP 200, 1234 bytes" or why it was not searched)."""
    unreadable: list[str] = field(default_factory=list)
    vanished: list[str] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)

    @property
    def answers_searched(self) -> int:
        return sum(1 for _, outcome in self.answers if outcome.endswith(", searched"))


def _looks_textual(data: bytes | mmap.mmap) -> bool:
    return b"\0" not in data[:8192]


def search_bytes(where: str, data: bytes | mmap.mmap, needles: Iterable[Needle]) -> list[Hit]:
    hits = []
    textual = _looks_textual(data)
    for needle in needles:
        start = 0
        for _ in range(_MAX_HITS_PER_NEEDLE):
            offset = data.find(needle.data, start)
            if offset < 0:
                break
            # A line number helps in a log; in a database file it means nothing.
            line = data[:offset].count(b"\n") + 1 if textual else None
            hits.append(Hit(where, offset, line, needle))
            start = offset + 1
    return hits


def walk_files(folder: Path) -> list[Path]:
    """Every regular file under ``folder``, following symbolic links (a link to a key is as good as the key),
    each real folder once."""
    found: list[Path] = []
    seen: set[str] = set()
    for root, dirs, files in os.walk(folder, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        dirs.sort()
        for name in sorted(files):
            path = Path(root) / name
            if path.is_file():
                found.append(path)
    return found


@dataclass
class OpenedFile:
    data: bytes | mmap.mmap
    handle: io.BufferedReader | None = None
    mapping: mmap.mmap | None = None

    def close(self) -> None:
        if self.mapping is not None:
            self.mapping.close()
        if self.handle is not None:
            self.handle.close()


def open_bytes(path: Path) -> OpenedFile:
    handle = path.open("rb")
    try:
        size = os.fstat(handle.fileno()).st_size
        if size == 0:
            handle.close()
            return OpenedFile(b"")
        # Mapped rather than read: a registry database can be large, and a search only needs to look at it.
        mapping = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    except BaseException:
        handle.close()
        raise
    return OpenedFile(mapping, handle, mapping)


def search_folder(state_dir: Path, folder: Path, needles: Sequence[Needle], searched: Searched) -> None:
    for path in walk_files(folder):
        where = relative(state_dir, path)
        try:
            opened = open_bytes(path)
        except FileNotFoundError:
            searched.vanished.append(where)  # a temporary file the service removed in between
            continue
        except OSError as exc:
            searched.unreadable.append(f"{where}: {type(exc).__name__}")
            continue
        try:
            searched.files.append((where, len(opened.data)))
            searched.hits.extend(search_bytes(where, opened.data, needles))
        finally:
            opened.close()


def relative(state_dir: Path, path: Path) -> str:
    try:
        return path.relative_to(state_dir).as_posix()
    except ValueError:
        return path.as_posix()
