"""The report's Markdown pieces: a file name cannot break a table or a code span, and the HTML page lets no
markup of its own through and fetches nothing."""

from __future__ import annotations

import re

from markdown_it import MarkdownIt

from iplos_audit.blindness import iter_report_sections
from iplos_audit.blindness.markdown import cell, code, html_page, note_lines, verdict


def _render(markdown: str) -> str:
    return MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)


def test_a_cell_keeps_a_pipe_and_a_newline_inside_its_column() -> None:
    name = "tpf/odd|name\nwith a line break"
    table = f"| file | size |\n|---|---|\n| {cell(code(name))} | 3 |\n"
    html = _render(table)
    assert html.count("<td>") == 2
    assert "odd|name with a line break" in html


def test_a_code_span_holds_backticks() -> None:
    for text in ("a`b", "``x``", "`", ""):
        html = _render(code(text))
        assert html.count("<code>") == 1, text


def test_the_page_escapes_markup_and_fetches_nothing() -> None:
    page = html_page(
        "# Title\n\nResult: " + verdict(True) + "\n\n<script>alert(1)</script> <img src=x>\n", "a <b> title"
    )
    assert '<strong class="pass">PASS</strong>' in page
    assert "<title>a &lt;b&gt; title</title>" in page
    assert not re.search(r"<(script|link|img)\b|<[^>]*\bsrc=", page)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &lt;img src=x&gt;" in page


def test_notes_and_sections() -> None:
    assert note_lines([]) == []
    assert note_lines(["one"]) == ["- Note: one", ""]
    text = "# Report\n\nintro\n## 1. Key custody\n\nResult: **PASS**\n## 2. Canary run\n\nx\n"
    assert [heading for heading, _ in iter_report_sections(text)] == ["1. Key custody", "2. Canary run"]
    assert dict(iter_report_sections(text))["1. Key custody"].strip() == "Result: **PASS**"
