"""Tables as CSV downloads, as every page's CSV link serves them: one header line, CRLF line ends (RFC 4180), no cell a
spreadsheet would run as a formula, sent as an attachment under the pages' security headers."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from fastapi.responses import Response

from services.kit.web._templates import security_headers

__all__ = ["csv_download", "csv_text", "spreadsheet_cell"]

_FORMULA_STARTS = ("=", "+", "-", "@")


def spreadsheet_cell(value: Any) -> Any:
    """``value``, with a leading apostrophe where a spreadsheet would take it for a formula (a brukerNr may start
    with '-': CSV injection is a spreadsheet running a cell someone else wrote)."""
    return f"'{value}" if isinstance(value, str) and value.startswith(_FORMULA_STARTS) else value


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([spreadsheet_cell(cell) for cell in row])
    return out.getvalue()


def csv_download(text: str, filename: str) -> Response:
    """``text`` (CSV) as a download named ``filename``."""
    response = Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
    return security_headers(response)
