"""What ``iplos submit`` shows while it waits, when its output is not a terminal: a plain line per change, the upload
by tenths, then the states in the order they came (the live display on a terminal draws the same events)."""

from __future__ import annotations

import io
import re
from pathlib import Path

from rich.console import Console

from iplos_chain import client
from iplos_chain.progress import SEALING, STATE_TEXT, SubmitProgress


def _lines(out: io.StringIO) -> list[str]:
    # Each line starts with the time since the command began: "[   0.0 s] ...".
    lines = out.getvalue().splitlines()
    assert all(re.match(r"^\[ *\d+\.\d s\] ", line) for line in lines), lines
    return [line.split("] ", 1)[1] for line in lines]


def test_plain_lines_show_the_upload_by_tenths_then_each_state_once() -> None:
    out = io.StringIO()
    with SubmitProgress(Console(file=out, width=200), live=False) as progress:
        total = 1_000_000
        for sent in range(0, total, 25_000):  # 40 pieces
            progress.upload(sent, total)
        progress.upload(total, total)
        progress.accepted({"submission_id": "s", "records": 12})
        queued = {"state": "queued", "attempts": 0, "last_error": None}
        progress.status(queued)
        progress.status(queued)  # no change, no line
        progress.status({"state": "queued", "attempts": 1, "last_error": "TPF unreachable (ConnectError)"})
        progress.status({"state": "forwarded", "attempts": 2, "last_error": None})
        progress.status({"state": "stored", "attempts": 1, "last_error": None, "receipt": {"records_stored": 12}})
    lines = _lines(out)
    uploads = [line for line in lines if line.startswith("upload: ")]
    assert uploads[0] == "upload: 1.0 MB"
    assert uploads[-1].startswith("upload: 1.0 MB of 1.0 MB (100%)")
    assert len(uploads) == 11  # the size, then each tenth
    assert [int(re.search(r"\((\d+)%\)", line).group(1)) for line in uploads[1:]] == list(range(10, 101, 10))  # type: ignore[union-attr]
    assert lines[len(uploads) :] == [
        SEALING,
        "accepted by the gateway (12 records)",
        STATE_TEXT["queued"],
        STATE_TEXT["queued"] + ", 1 attempt, last error: TPF unreachable (ConnectError)",
        STATE_TEXT["forwarded"],
        STATE_TEXT["stored"] + " (12 records)",
    ]


def test_the_upload_is_streamed_in_pieces_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "export.xml"
    path.write_bytes(b"x" * (client.UPLOAD_PIECE * 2 + 10))
    seen: list[tuple[int, int]] = []
    with path.open("rb") as body:
        pieces = list(client._pieces(body, path.stat().st_size, lambda sent, total: seen.append((sent, total))))
    size = path.stat().st_size
    assert [len(piece) for piece in pieces] == [client.UPLOAD_PIECE, client.UPLOAD_PIECE, 10]
    assert seen == [(0, size), (client.UPLOAD_PIECE, size), (2 * client.UPLOAD_PIECE, size), (size, size)]
