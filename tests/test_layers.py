"""The seams between the layers that import-linter cannot see (the contracts themselves are in
pyproject.toml and run by ``.ci/run`` as ``lint-imports``): a ``_core`` module's ``__all__`` is
the whole of what other modules take from it, and the wire module (bpcpay/_core/_wire.py) only
re-exports.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import bpcpay._core._wire as wire

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [ROOT / "bpcpay", ROOT / "bpcpay_demo"]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported_names() -> list[tuple[str, str, str]]:
    """Every ``from <module> import <name>`` in the package, as (importer, module, name)."""
    found = []
    for source in SOURCES:
        for path in sorted(source.rglob("*.py")):
            importer = _module_name(path)
            package = importer if path.name == "__init__.py" else importer.rpartition(".")[0]
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.ImportFrom):
                    continue
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    module = ".".join([*base, *([node.module] if node.module else [])])
                else:
                    module = node.module or ""
                found += [(importer, module, alias.name) for alias in node.names]
    return found


def test_what_other_modules_take_from_a_core_module_is_in_its_all() -> None:
    missing = sorted(
        f"{importer} takes {name} from {module}"
        for importer, module, name in _imported_names()
        if module.startswith("bpcpay._core.")
        and name not in getattr(importlib.import_module(module), "__all__", ())
    )
    assert missing == []


def test_the_wire_module_defines_nothing_of_its_own() -> None:
    owners = ["_bodies", "_converter", "_endpoints", "_requests"]
    modules = [importlib.import_module(f"bpcpay._core.{owner}") for owner in owners]
    for name in wire.__all__:
        owned = [
            m for m in modules if name in m.__all__ and getattr(m, name) is getattr(wire, name)
        ]
        assert len(owned) == 1, name
