"""The dependency direction of the packages: imports point down, never back up."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

GATEWAY = Path(__file__).resolve().parent.parent / "gateway"

# package -> the gateway packages it must not import (directly, at any level of its modules)
FORBIDDEN = {
    "neutral": {"chat", "tools", "upstream", "handlers", "schemas", "tokens", "reqlog", "app", "config"},
    "tools": {"chat", "upstream", "handlers", "schemas", "tokens", "reqlog", "app"},
    "upstream": {"chat", "handlers", "schemas", "tools", "tokens", "reqlog", "app"},
    "schemas": {"chat", "handlers", "upstream", "tokens", "reqlog", "app"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.startswith("gateway.")}


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_a_package_imports_only_what_lies_below_it(package):
    offences = []
    for path in sorted((GATEWAY / package).rglob("*.py")):
        if "pb" in path.relative_to(GATEWAY).parts:
            continue
        for name in _imports(path):
            top = name.split(".")[1]
            if top in FORBIDDEN[package]:
                offences.append(f"{path.relative_to(GATEWAY)} imports {name}")
    assert offences == []


def test_the_neutral_model_imports_nothing_else_of_the_gateway():
    for path in (GATEWAY / "neutral").rglob("*.py"):
        assert {name for name in _imports(path) if not name.startswith("gateway.neutral")} == set(), path
