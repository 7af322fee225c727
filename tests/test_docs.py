"""The documents cite tests as evidence (``tests/path/to/test_file.py::test_name``); every citation must name a
test that exists, so a renamed or deleted test breaks this check instead of leaving the document silently wrong.

A citation may go through classes (``tests/x.py::TestThing::test_it``); a parametrised test is cited by its
function name, without the ``[param]`` part (a ``[...]`` suffix, if written, is ignored).
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
REFERENCE = re.compile(r"(tests/[A-Za-z0-9_./-]+\.py)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")


def _references() -> list[tuple[str, int, str, tuple[str, ...]]]:
    """(document, line, file, names) for every citation in docs/**/*.md."""
    found = []
    for document in sorted(DOCS.rglob("*.md")):
        for number, line in enumerate(document.read_text(encoding="utf-8").splitlines(), start=1):
            for match in REFERENCE.finditer(line):
                names = tuple(match.group(2).split("::")[1:])
                found.append((str(document.relative_to(ROOT)), number, match.group(1), names))
    return found


@cache
def _module(path: str) -> ast.Module | str:
    """The parsed test file, or why it cannot be read."""
    file = ROOT / path
    if ".." in Path(path).parts or not file.is_file():
        return "no such file"
    try:
        return ast.parse(file.read_text(encoding="utf-8"), filename=path)
    except SyntaxError as exc:
        return f"does not parse (line {exc.lineno})"


def _problem(path: str, names: tuple[str, ...]) -> str | None:
    """Why ``path::names`` does not name a test function, or None if it does."""
    scope = _module(path)
    if isinstance(scope, str):
        return scope
    *classes, function = names
    body: list[ast.stmt] = scope.body
    for name in classes:
        found = next((n for n in body if isinstance(n, ast.ClassDef) and n.name == name), None)
        if found is None:
            return f"no class {name}"
        body = found.body
    if not function.startswith("test"):
        return f"{function} is not a test function name"
    if not any(isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == function for n in body):
        return f"no def or async def {function}"
    return None


def test_every_test_cited_in_the_docs_exists() -> None:
    broken = []
    for document, line, path, names in _references():
        problem = _problem(path, names)
        if problem is not None:
            broken.append(f"{document}:{line}: {path}::{'::'.join(names)}: {problem}")
    assert not broken, "broken test references in docs/:\n" + "\n".join(broken)


def test_the_threat_model_cites_tests() -> None:
    """A guard for the check itself: if the pattern stopped matching, the test above would pass vacuously."""
    cited = [ref for ref in _references() if ref[0] == "docs/threat-model.md"]
    assert len(cited) >= 20, f"docs/threat-model.md cites only {len(cited)} tests"


def test_the_reference_pattern() -> None:
    line = "see `tests/e2e/test_chain.py::test_a` and tests/kit/test_x.py::TestY::test_z[case], not tests/a.py"
    assert [(m.group(1), m.group(2)) for m in REFERENCE.finditer(line)] == [
        ("tests/e2e/test_chain.py", "::test_a"),
        ("tests/kit/test_x.py", "::TestY::test_z"),
    ]
