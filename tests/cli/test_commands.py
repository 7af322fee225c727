"""The ``iplos`` command line keeps every command and option it had, and its package holds commands only.

``commands.json`` records every command of ``iplos`` with its help text and each parameter's options, default,
environment variable and help, as they were before the tooling left ``iplos_cli/`` (issue 11). A command or an
option that changes shows up here as a difference; a deliberate change updates the file (``python -m
tests.cli.test_commands > tests/cli/commands.json``).
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path
from typing import Any

import typer.main
from typer.testing import CliRunner

from iplos_cli.main import app

ROOT = Path(__file__).resolve().parents[2]
RECORDED = Path(__file__).with_name("commands.json")


def command_tree(command: Any, path: tuple[str, ...] = ()) -> dict[str, Any]:
    """Every command under ``command`` (typer's command object, its own click) by its path (``"audit verify"``),
    with its help and parameters."""
    params = [
        {
            "name": p.name,
            "opts": [*p.opts, *p.secondary_opts],
            "kind": "argument" if "Argument" in type(p).__name__ else "option",
            "required": p.required,
            "default": "callable" if callable(p.default) else repr(p.default),
            "multiple": p.multiple,
            "envvar": p.envvar,
            "help": getattr(p, "help", None),
        }
        for p in command.params
    ]
    tree: dict[str, Any] = {" ".join(path) or "iplos": {"help": command.help, "params": params}}
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        tree.update(command_tree(sub, (*path, name)))
    return tree


def test_every_command_and_option_is_as_recorded() -> None:
    recorded = json.loads(RECORDED.read_text(encoding="utf-8"))
    assert command_tree(typer.main.get_command(app)) == recorded
    # The guard's own guard: the file covers the commands the README lists, so an empty file cannot pass.
    assert {"keys init", "generate", "serve", "up", "submit", "confirm", "report", "soak", "demo"} <= set(recorded)
    assert {"audit tpf-blindness", "audit verify", "audit prove"} <= set(recorded)


def test_the_cli_package_holds_commands_only() -> None:
    """Each module of ``iplos_cli`` defines typer commands and no class: the work lives in the packages the
    commands call (``iplos_chain``, ``iplos_testkit``, ``iplos_audit``)."""
    modules = sorted(p for p in (ROOT / "iplos_cli").glob("*.py") if p.name != "__init__.py")
    assert modules
    for module in modules:
        tree = ast.parse(module.read_text(encoding="utf-8"))
        commands = [
            node.name
            for node in tree.body
            if isinstance(node, ast.FunctionDef)
            and any(
                isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute) and d.func.attr in ("command", "callback")
                for d in node.decorator_list
            )
        ]
        classes = [node.name for node in tree.body if isinstance(node, ast.ClassDef)]
        assert commands, f"{module.name} defines no command"
        assert classes == [], f"{module.name} defines {classes}: a class belongs in the package the command calls"
    assert (ROOT / "iplos_cli" / "__init__.py").read_text(encoding="utf-8").strip() == ""


def test_serve_names_the_services_it_knows() -> None:
    result = CliRunner().invoke(app, ["serve", "archive"])
    assert result.exit_code == 2
    assert "the service is one of gateway, tpf, registry" in result.output


if __name__ == "__main__":
    json.dump(command_tree(typer.main.get_command(app)), sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
