"""The report's Markdown pieces (table cells, code spans, the tables of hits and of what was searched) and the
self-contained HTML page it is rendered to."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Sequence
from typing import Final

from markdown_it import MarkdownIt

from iplos_audit.blindness.key_candidates import KeyAttempt
from iplos_audit.blindness.search import Hit, Searched

__all__ = [
    "cell",
    "code",
    "describe_tried",
    "hits_table",
    "html_page",
    "iter_report_sections",
    "note_lines",
    "searched_table",
    "verdict",
]


def cell(text: object) -> str:
    """Table cell text: pipes escaped and lines joined, so a file name cannot break the table."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def code(text: object) -> str:
    """A code span for any text (a file name may hold backticks)."""
    value = str(text).replace("\n", " ")
    longest = max((len(run) for run in re.findall(r"`+", value)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if value.startswith("`") or value.endswith("`") or not value else ""
    return f"{fence}{pad}{value}{pad}{fence}"


def note_lines(notes: list[str]) -> list[str]:
    """A section's notes as a Markdown list, followed by a blank line (nothing if there are none)."""
    return [*(f"- Note: {note}" for note in notes), ""] if notes else []


def verdict(ok: bool) -> str:
    return "**PASS**" if ok else "**FAIL**"


_STYLE: Final = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d1d1f; margin: 0; }
main { max-width: 70rem; margin: 2rem auto; padding: 0 1.5rem; }
h1 { font-size: 1.6rem; border-bottom: 2px solid #ccc; padding-bottom: .3rem; }
h2 { font-size: 1.25rem; margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
h3 { font-size: 1.05rem; margin-top: 1.4rem; }
table { border-collapse: collapse; margin: .6rem 0 1rem; font-size: .9rem; }
th, td { border: 1px solid #ccc; padding: .25rem .5rem; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
code { font: .85rem/1.3 ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; background: #f5f5f5;
       padding: 0 .2rem; border-radius: 3px; }
pre { background: #f5f5f5; padding: .6rem; overflow-x: auto; }
strong.pass { color: #0a7d27; }
strong.fail { color: #b00020; }
"""


def html_page(markdown: str, title: str) -> str:
    """``markdown`` as one self-contained HTML page: its own style, nothing fetched, no raw HTML let through;
    **PASS** and **FAIL** coloured."""
    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)
    body = body.replace("<strong>PASS</strong>", '<strong class="pass">PASS</strong>')
    body = body.replace("<strong>FAIL</strong>", '<strong class="fail">FAIL</strong>')
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n"
        f"<body>\n<main>\n{body}</main>\n</body>\n</html>\n"
    )


def describe_tried(attempts: Sequence[KeyAttempt]) -> str:
    if not attempts:
        return "-"
    if len(attempts) <= 4:
        return "; ".join(a.interpretation for a in attempts)
    kinds: dict[str, int] = {}
    for attempt in attempts:
        kind = re.sub(r" at offset [0-9]+", "", attempt.interpretation)
        kinds[kind] = kinds.get(kind, 0) + 1
    return "; ".join(f"{kind} (x{count})" if count > 1 else kind for kind, count in kinds.items())


def hits_table(hits: Sequence[Hit], none: str) -> list[str]:
    if not hits:
        return [none, ""]
    out = [f"**{len(hits)} finding(s):**", "", "| where | what | offset | line |", "|---|---|---|---|"]
    for hit in sorted(hits, key=lambda h: (h.where, h.offset)):
        line = "-" if hit.line is None else str(hit.line)
        what = f"{hit.needle.label} ({hit.needle.form})"
        out.append(f"| {cell(code(hit.where))} | {cell(what)} | {hit.offset} | {line} |")
    out.append("")
    return out


def searched_table(searched: Searched) -> list[str]:
    out = ["| searched | |", "|---|---|"]
    for where, size in searched.files:
        out.append(f"| {cell(code(where))} | {size} bytes |")
    for label, outcome in searched.answers:
        out.append(f"| {cell(code(label))} | {cell(outcome)} |")
    for where in searched.unreadable:
        out.append(f"| {cell(code(where))} | **unreadable**: not searched |")
    for where in searched.vanished:
        out.append(f"| {cell(code(where))} | removed by the service while the check ran |")
    out.append("")
    return out


def iter_report_sections(markdown: str) -> Iterator[tuple[str, str]]:
    """(heading, text) of each ``## `` section of a report: what tests and tools use to look into one check."""
    parts = re.split(r"^## ", markdown, flags=re.MULTILINE)
    for part in parts[1:]:
        heading, _, text = part.partition("\n")
        yield heading.strip(), text
