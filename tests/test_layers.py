"""The seams between the layers that import-linter cannot see (the contracts themselves are in
pyproject.toml and run by ``.ci/run`` as ``lint-imports``): a ``_core`` module's ``__all__`` is
the whole of what other modules take from it, and the wire module (bpcpay/_core/_wire.py) only
re-exports.
"""

from __future__ import annotations

import ast
import importlib
import re
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


#: Issue 23's check, as its "done when" states it: aiohttp's helpers module, its request's
#: timer, any underscore name in the aiohttp namespace.
_AIOHTTP_PRIVATE = re.compile(r"aiohttp\.helpers|_timer|aiohttp\._[A-Za-z]")


def _aiohttp_modules() -> list[tuple[Path, ast.Module]]:
    """The package's modules that import aiohttp, parsed."""
    found = []
    for source in SOURCES:
        for path in sorted(source.rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            if re.search(r"^\s*(import aiohttp|from aiohttp)", text, re.M):
                found.append((path, ast.parse(text)))
    return found


def test_bpcpay_reaches_aiohttp_through_its_public_api_only() -> None:
    """No private aiohttp module or name (a minor aiohttp release may change them without
    notice), and a subclass of an aiohttp class reads no underscore attribute it did not set
    itself (reads of another object's underscore attributes are scripts/private_access.py's)."""
    offences = []
    for source in SOURCES:
        for path in sorted(source.rglob("*.py")):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if _AIOHTTP_PRIVATE.search(line):
                    offences.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    for path, tree in _aiohttp_modules():
        where = path.relative_to(ROOT)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("aiohttp"):
                private = [a.name for a in node.names if a.name.startswith("_")]
                if private or "._" in f".{node.module}":
                    offences.append(f"{where}:{node.lineno}: from {node.module} import ...")
            if isinstance(node, ast.ClassDef) and any(
                "aiohttp" in ast.unparse(base) for base in node.bases
            ):
                own = {
                    target.attr
                    for sub in ast.walk(node)
                    if isinstance(sub, ast.Assign | ast.AnnAssign | ast.AugAssign)
                    for target in (sub.targets if isinstance(sub, ast.Assign) else [sub.target])
                    if isinstance(target, ast.Attribute)
                }
                own |= {
                    sub.name
                    for sub in node.body
                    if isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef)
                }
                offences += [
                    f"{where}:{sub.lineno}: {node.name} reads aiohttp's self.{sub.attr}"
                    for sub in ast.walk(node)
                    if isinstance(sub, ast.Attribute)
                    and isinstance(sub.value, ast.Name)
                    and sub.value.id == "self"
                    and sub.attr.startswith("_")
                    and not sub.attr.startswith("__")
                    and sub.attr not in own
                ]
    assert offences == []
