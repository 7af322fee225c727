"""The problem vocabulary (services.kit.problems.ProblemType): one list of every problem type, each with its
status, and ``Problem`` built from a member or, as before, from a slug with its status and title.

``test_every_problem_type_the_product_raises_is_in_the_vocabulary`` reads the product's source: every slug
given to ``Problem``, ``refused`` or ``MessageRefused`` as a literal (or a module constant), and every literal
compared with a slug, must be a member, and a literal status must be the member's. A new kind of answer is
added to the vocabulary first; the test names the call sites of any slug that is not.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from services.kit.problems import (
    PERMANENT_PROBLEMS,
    PROBLEM_TYPE_PREFIX,
    Problem,
    ProblemType,
    envelope_problem,
    envelope_problems,
    invalid_envelope,
    known_type,
    problem_slug,
    refused,
)
from shared.envelope import freshness, refusals
from shared.errors import InvalidEnvelope, MessageRefused

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("services", "shared", "keys")
CALLS = {"Problem", "refused", "MessageRefused"}


def _constants(tree: ast.Module) -> dict[str, str]:
    """Module-level ``NAME = "text"`` (or ``NAME: Final = "text"``) assignments."""
    found: dict[str, str] = {}
    for node in tree.body:
        value = node.value if isinstance(node, ast.Assign | ast.AnnAssign) else None
        targets = (
            node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        )
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            found |= {t.id: value.value for t in targets if isinstance(t, ast.Name)}
    return found


def _literal(node: ast.expr, constants: dict[str, str]) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    return None


def slugs_in_source(source: str) -> list[tuple[int, str, int | None]]:
    """(line, slug, literal status or None) for every problem type a module names as text."""
    tree = ast.parse(source)
    constants = _constants(tree)
    found: list[tuple[int, str, int | None]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            slug = _literal(node.args[0], constants) if name in CALLS else None
            if slug is not None:
                status = node.args[1] if name == "Problem" and len(node.args) > 1 else None
                literal = status.value if isinstance(status, ast.Constant) and isinstance(status.value, int) else None
                found.append((node.lineno, slug, literal))
        elif isinstance(node, ast.Compare) and len(node.comparators) == 1:
            sides = [node.left, node.comparators[0]]
            if any("slug" in ast.unparse(side) for side in sides):
                found += [(node.lineno, s, None) for side in sides if (s := _literal(side, {})) is not None]
    return found


def _product_slugs() -> list[tuple[str, str, int | None]]:
    return [
        (f"{path.relative_to(ROOT)}:{line}", slug, status)
        for package in PRODUCT
        for path in sorted((ROOT / package).rglob("*.py"))
        for line, slug, status in slugs_in_source(path.read_text(encoding="utf-8"))
    ]


def test_every_problem_type_the_product_raises_is_in_the_vocabulary() -> None:
    found = _product_slugs()
    assert len({slug for _, slug, _ in found}) > 30  # the scan sees the services' call sites
    unknown = [(where, slug) for where, slug, _ in found if known_type(slug) is None]
    assert unknown == [], "add these problem types to services.kit.problems.ProblemType, with their status"
    wrong_status = [
        (where, slug, status)
        for where, slug, status in found
        if status is not None and status != ProblemType(slug).status
    ]
    assert wrong_status == []


def test_the_scan_finds_slugs_statuses_and_comparisons() -> None:
    source = (
        'SLUG = "limit-exceeded"\n'
        'Problem("made-up", 418, "Teapot")\n'
        "Problem(SLUG, 422, title)\n"
        'refused("unknown-key", message)\n'
        'if slug == "registry-refused": pass\n'
        "Problem(ProblemType.NOT_FOUND)\n"
    )
    assert slugs_in_source(source) == [
        (2, "made-up", 418),
        (3, "limit-exceeded", 422),
        (4, "unknown-key", None),
        (5, "registry-refused", None),
    ]


def _section(heading: str) -> str:
    spec = (ROOT / "docs" / "envelope-v1.md").read_text(encoding="utf-8")
    start = spec.index(f"\n## {heading}\n")
    return spec[start : spec.index("\n## ", start + 1)]


def test_the_formats_codes_are_members_with_the_specs_status() -> None:
    errors = _section("11. Errors")
    table = dict(re.findall(r"^\| `([a-z-]+)` \| (\d{3}) \|", errors, re.MULTILINE))
    assert len(table) >= 9
    assert {code: ProblemType(code).status for code in table} == {code: int(s) for code, s in table.items()}
    named = set(re.findall(r"`([a-z]+(?:-[a-z]+)+)`", errors))
    assert sorted(code for code in named if known_type(code) is None) == []
    # With a status in parentheses after the code, that status.
    for code, status in re.findall(r"`([a-z]+(?:-[a-z]+)+)` \((\d{3})\)", errors):
        assert ProblemType(code).status == int(status), code


def test_the_formats_refusal_policy_speaks_the_vocabulary() -> None:
    assert all(known_type(code) is not None for code in refusals.PERMANENT)
    assert known_type(freshness.OUT_OF_WINDOW) is ProblemType.TIMESTAMP_OUT_OF_WINDOW
    # The kit's older names are the format's.
    assert PERMANENT_PROBLEMS is refusals.PERMANENT
    assert PROBLEM_TYPE_PREFIX == refusals.PROBLEM_TYPE_PREFIX
    assert problem_slug(PROBLEM_TYPE_PREFIX + "not-found") == "not-found"
    assert problem_slug("about:blank") == ""


def test_members_are_their_slugs() -> None:
    assert str(ProblemType.NOT_FOUND) == ProblemType.NOT_FOUND.value == "not-found"
    assert ProblemType("not-found") is ProblemType.NOT_FOUND
    assert known_type("no-such-type") is None
    assert len({member.value for member in ProblemType}) == len(ProblemType)
    assert all(re.fullmatch(r"[a-z]+(-[a-z]+)*", member.value) for member in ProblemType)
    assert all(400 <= member.status <= 599 and member.default_title for member in ProblemType)


# --- Problem ---------------------------------------------------------------------------------------------------


def test_a_member_brings_its_status_and_title() -> None:
    problem = Problem(ProblemType.HEADER_TOO_LARGE, limit=65536)
    assert (problem.slug, problem.status, problem.title) == (
        "header-too-large",
        413,
        "A signed header is larger than the format allows",
    )
    assert problem.document() == {
        "type": "urn:iplos-chain:problem:header-too-large",
        "title": "A signed header is larger than the format allows",
        "status": 413,
        "limit": 65536,
    }
    assert type(problem.slug) is str  # a plain string in logs and metric labels
    assert problem.type is ProblemType.HEADER_TOO_LARGE


def test_a_member_with_a_title_detail_and_another_status() -> None:
    problem = Problem(ProblemType.INVALID_REQUEST, "Off the schema", "two fields", status=422, errors=[])
    assert problem.document() == {
        "type": "urn:iplos-chain:problem:invalid-request",
        "title": "Off the schema",
        "status": 422,
        "detail": "two fields",
        "errors": [],
    }
    assert Problem(ProblemType.NOT_READY, detail="Failed: db").document()["title"] == "The service is not ready"


def test_the_older_form_still_works_and_says_the_same() -> None:
    older = Problem("not-found", 404, "No submission with this id", "detail", headers={"Retry-After": "1"}, x=1)
    newer = Problem(ProblemType.NOT_FOUND, "No submission with this id", "detail", headers={"Retry-After": "1"}, x=1)
    assert older.document() == newer.document()
    assert (older.slug, older.status, older.headers) == (newer.slug, newer.status, newer.headers)
    assert str(older) == str(newer) == "not-found: No submission with this id"
    # By keyword too, as the older signature allowed.
    assert Problem("not-found", 404, title="t").document() == Problem("not-found", status=404, title="t").document()
    # A slug outside the vocabulary still answers (the vocabulary test above keeps the product from using one).
    assert Problem("thing-refused", 409, "Not this one").type is None


@pytest.mark.parametrize(
    "args",
    [("not-found",), ("not-found", "a title"), (ProblemType.NOT_FOUND, "a", "b", "c"), ("not-found", 404)],
)
def test_a_problem_without_status_and_title_is_a_programming_error(args: tuple[object, ...]) -> None:
    with pytest.raises(TypeError):
        Problem(*args)  # type: ignore[call-overload]


def test_an_argument_given_twice_is_a_programming_error() -> None:
    with pytest.raises(TypeError, match="title twice"):
        Problem(ProblemType.NOT_FOUND, "a", title="b")  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="detail twice"):
        Problem("not-found", 404, "t", "d", detail="e")  # type: ignore[call-overload]


# --- the format's errors as answers ----------------------------------------------------------------------------


def test_a_refusal_is_answered_under_its_code_with_the_vocabularys_status() -> None:
    assert (refused("unknown-key", "x").status, refused("wrong-recipient", "x").status) == (403, 422)
    problem = envelope_problem(MessageRefused("signer-not-authorised", "only the TPF may deliver to the registry"))
    assert (problem.slug, problem.status, problem.title) == (
        "signer-not-authorised",
        403,
        "only the TPF may deliver to the registry",
    )
    assert envelope_problem(InvalidEnvelope()).document() == invalid_envelope().document()
    assert invalid_envelope().document() == {
        "type": "urn:iplos-chain:problem:invalid-envelope",
        "title": "The sealed message could not be verified or opened",
        "status": 400,
    }


@pytest.mark.parametrize(
    ("error", "slug"),
    [
        (MessageRefused("municipality-mismatch", "m"), "municipality-mismatch"),
        (InvalidEnvelope(), "invalid-envelope"),
        (KeyError("k"), "invalid-envelope"),
    ],
)
def test_envelope_problems_answers_the_errors_in_its_block(error: Exception, slug: str) -> None:
    with pytest.raises(Problem) as raised, envelope_problems(KeyError):
        raise error
    assert raised.value.slug == slug
    # Not chained: the original's text stays out of every traceback a log could print.
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__


def test_envelope_problems_lets_other_exceptions_through() -> None:
    with pytest.raises(KeyError), envelope_problems():
        raise KeyError("k")
    with pytest.raises(Problem) as raised, envelope_problems():
        raise Problem(ProblemType.NOT_FOUND)
    assert raised.value.slug == "not-found"
