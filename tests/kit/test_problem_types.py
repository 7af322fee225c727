"""The problem vocabulary (services.kit.problems.ProblemType): one list of every problem type, each with its
status, and ``Problem`` built from a member (a slug given as text is refused; ``Problem.from_slug`` is the kit's
door for an answer whose type is data: one stored earlier, a format's code).

``test_every_problem_type_the_product_raises_is_in_the_vocabulary`` reads the product's source: every problem
type given to ``Problem``, ``refused`` or ``MessageRefused`` (a member, a literal or a module constant), and
every literal compared with a slug, must be a member, and a literal status must be the member's.
``test_the_services_name_problem_types_by_member`` then holds the services to the members: the only slugs left
as text are the sealed-message format's codes (``MessageRefused``, which ``shared`` raises and cannot name the
kit's members), and only the kit makes a problem from a slug.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import NamedTuple

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
CALLS = {"Problem", "refused", "MessageRefused", "from_slug"}
# The one place a problem is made from a slug (data, not code): stored answers and the format's codes.
FROM_SLUG_ALLOWED = {"services/kit/problems/_envelope.py", "services/kit/problems/_problem.py"}


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


def _member(node: ast.expr) -> str | None:
    """The slug of ``ProblemType.NAME`` (an unknown name as ``ProblemType.NAME``: no member has that slug)."""
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "ProblemType":
        return ProblemType[node.attr].value if node.attr in ProblemType.__members__ else f"ProblemType.{node.attr}"
    return None


class Named(NamedTuple):
    """A problem type a module names: where, the slug, the status given with it as a literal, and how it is
    named (a ``member``, or as ``text``: a literal or a module constant)."""

    line: int
    slug: str
    status: int | None
    how: str
    call: str


def problem_types_in_source(source: str) -> list[Named]:
    """Every problem type a module names in a call of ``Problem``, ``refused``, ``MessageRefused`` or
    ``from_slug``, or compares with a slug."""
    tree = ast.parse(source)
    constants = _constants(tree)
    found: list[Named] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name not in CALLS:
                continue
            first = node.args[0]
            member, text = _member(first), _literal(first, constants)
            if member is None and text is None:
                continue
            status = node.args[1] if name in ("Problem", "from_slug") and len(node.args) > 1 else None
            literal = status.value if isinstance(status, ast.Constant) and isinstance(status.value, int) else None
            how = "member" if member is not None else "text"
            found.append(Named(node.lineno, member or text or "", literal, how, name))
        elif isinstance(node, ast.Compare) and len(node.comparators) == 1:
            sides = [node.left, node.comparators[0]]
            if any("slug" in ast.unparse(side) for side in sides):
                for side in sides:
                    if (slug := _member(side)) is not None:
                        found.append(Named(node.lineno, slug, None, "member", "=="))
                    elif (slug := _literal(side, {})) is not None:
                        found.append(Named(node.lineno, slug, None, "text", "=="))
    return found


def slugs_in_source(source: str) -> list[tuple[int, str, int | None]]:
    """(line, slug, literal status or None) for every problem type a module names."""
    return [(named.line, named.slug, named.status) for named in problem_types_in_source(source)]


def _product() -> list[tuple[str, Named]]:
    return [
        (f"{path.relative_to(ROOT)}:{named.line}", named)
        for package in PRODUCT
        for path in sorted((ROOT / package).rglob("*.py"))
        for named in problem_types_in_source(path.read_text(encoding="utf-8"))
    ]


def test_every_problem_type_the_product_raises_is_in_the_vocabulary() -> None:
    found = _product()
    assert len({named.slug for _, named in found}) > 30  # the scan sees the services' call sites
    unknown = [(where, named.slug) for where, named in found if known_type(named.slug) is None]
    assert unknown == [], "add these problem types to services.kit.problems.ProblemType, with their status"
    wrong_status = [
        (where, named.slug, named.status)
        for where, named in found
        if named.status is not None and named.status != ProblemType(named.slug).status
    ]
    assert wrong_status == []


def test_the_services_name_problem_types_by_member() -> None:
    found = _product()
    assert sum(named.how == "member" for _, named in found) > 60  # the scan sees the members at the call sites
    # As text only the sealed-message format's codes, which shared raises (it cannot import the kit) and the
    # services raise beside it, inside the blocks that translate the format's errors (envelope_problems).
    as_text = [(where, named.call, named.slug) for where, named in found if named.how == "text"]
    assert [item for item in as_text if item[1] != "MessageRefused"] == []
    from_slug = [where for where, named in found if named.call == "from_slug"]
    assert {where.rpartition(":")[0] for where in from_slug} <= FROM_SLUG_ALLOWED
    # And the one door is used only there: a problem from a slug is the kit's, for data, never a service's.
    outside = [
        str(path.relative_to(ROOT))
        for package in PRODUCT
        for path in sorted((ROOT / package).rglob("*.py"))
        if "from_slug(" in path.read_text(encoding="utf-8") and str(path.relative_to(ROOT)) not in FROM_SLUG_ALLOWED
    ]
    assert outside == []


def test_the_scan_finds_slugs_statuses_members_and_comparisons() -> None:
    source = (
        'SLUG = "limit-exceeded"\n'
        'Problem("made-up", 418, "Teapot")\n'
        "Problem(SLUG, 422, title)\n"
        'refused("unknown-key", message)\n'
        'if slug == "registry-refused": pass\n'
        "Problem(ProblemType.NOT_FOUND)\n"
        "if problem.slug == ProblemType.MESSAGE_ID_CONFLICT: pass\n"
        'Problem.from_slug("thing-refused", 409, "Not this one")\n'
        "Problem(ProblemType.NO_SUCH_MEMBER)\n"
        "Problem(problem_type)\n"
    )
    assert slugs_in_source(source) == [
        (2, "made-up", 418),
        (3, "limit-exceeded", 422),
        (4, "unknown-key", None),
        (5, "registry-refused", None),
        (6, "not-found", None),
        (7, "message-id-conflict", None),
        (8, "thing-refused", 409),
        (9, "ProblemType.NO_SUCH_MEMBER", None),
    ]
    assert [named.how for named in problem_types_in_source(source)] == ["text"] * 4 + ["member"] * 2 + ["text"] + [
        "member"
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


def test_a_slug_as_text_is_refused_and_from_slug_says_the_same_as_a_member() -> None:
    with pytest.raises(TypeError, match="ProblemType"):
        Problem("not-found", 404, "No submission with this id")  # type: ignore[arg-type]
    stored = Problem.from_slug(
        "not-found", 404, "No submission with this id", "detail", headers={"Retry-After": "1"}, x=1
    )
    newer = Problem(ProblemType.NOT_FOUND, "No submission with this id", "detail", headers={"Retry-After": "1"}, x=1)
    assert stored.document() == newer.document()
    assert (stored.slug, stored.status, stored.headers) == (newer.slug, newer.status, newer.headers)
    assert str(stored) == str(newer) == "not-found: No submission with this id"
    assert type(stored.slug) is type(newer.slug) is str
    # A slug outside the vocabulary still answers (an answer stored by an older version, say).
    assert Problem.from_slug("thing-refused", 409, "Not this one").type is None


def test_extended_adds_members_and_keeps_the_rest() -> None:
    problem = Problem(ProblemType.NOT_FOUND, "t", "d", headers={"Retry-After": "1"}, x=1)
    more = problem.extended(final=True)
    assert more.document() == {**problem.document(), "final": True}
    assert (more.slug, more.status, more.headers) == (problem.slug, problem.status, problem.headers)
    assert "final" not in problem.document()
    assert Problem.from_slug("thing-refused", 409, "t").extended(y=2).document()["type"].endswith(":thing-refused")


@pytest.mark.parametrize(
    "args",
    [
        ("not-found",),
        ("not-found", "a title"),
        (ProblemType.NOT_FOUND, "a", "b", "c"),
        ("not-found", 404),
        ("not-found", 404, "a title"),
        (ProblemType.NOT_FOUND, 404, "a title"),  # the older form's status, by position
    ],
)
def test_a_problem_given_as_the_older_form_is_a_programming_error(args: tuple[object, ...]) -> None:
    with pytest.raises(TypeError):
        Problem(*args)  # type: ignore[arg-type]


def test_an_argument_given_twice_is_a_programming_error() -> None:
    with pytest.raises(TypeError, match="multiple values for argument 'title'"):
        Problem(ProblemType.NOT_FOUND, "a", title="b")  # type: ignore[misc]
    with pytest.raises(TypeError, match="multiple values for argument 'detail'"):
        Problem(ProblemType.NOT_FOUND, "t", "d", detail="e")  # type: ignore[misc]


# --- the format's errors as answers ----------------------------------------------------------------------------


def test_a_refusal_is_answered_under_its_code_with_the_vocabularys_status() -> None:
    assert (refused("unknown-key", "x").status, refused("wrong-recipient", "x").status) == (403, 422)
    # A code outside the vocabulary (none is raised today) is answered under its code, as a refusal (422).
    assert (refused("made-up-code", "m").slug, refused("made-up-code", "m").status) == ("made-up-code", 422)
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
