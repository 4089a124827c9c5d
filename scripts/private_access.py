"""Count reads and writes of other objects' private attributes (run by .ci/run).

Two rules, each printed with its offenders:

- ``tests/``: fewer than ``TESTS_LIMIT`` matches of ``name._attr`` on lines that are not
  imports, ``self``/``cls``/``bpcpay``/``os``/``sys`` aside (the measure of issue 14, the same
  as ``grep -rhvE '^\\s*(from|import) ' tests | grep -oE '\\b[a-z_][a-z0-9_]*\\._[a-z][a-z0-9_]*'
  | grep -vE '^(self|cls|bpcpay|os|sys)\\._' | wc -l``). Tests reach the code through its seams.
- ``bpcpay/``: none across modules. An attribute ``x._name`` is private to the module that
  defines ``_name`` (an assignment to ``self._name``/``cls._name``, a class-level name or a
  method); reading it in any other module, or importing a ``_name`` from another module, is
  an offence. Dunder names and namedtuple's ``_replace`` are public protocol; ``self._x`` and
  ``cls._x`` are an object's own state; importing a private module is how a package hides its
  layout, not a reach-in.

Usage: ``python scripts/private_access.py`` (exit 1 when a rule fails).
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS_LIMIT = 10

_IMPORT_LINE = re.compile(r"^\s*(from|import) ")
_ACCESS = re.compile(r"\b[a-z_][a-z0-9_]*\._[a-z][a-z0-9_]*")
_EXEMPT = re.compile(r"^(self|cls|bpcpay|os|sys)\._")


def tests_offences() -> list[str]:
    """Every counted ``name._attr`` in tests/, as ``path:line: match``."""
    found = []
    for path in sorted((ROOT / "tests").rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(lines, 1):
            if _IMPORT_LINE.match(line):
                continue
            for match in _ACCESS.findall(line):
                if not _EXEMPT.match(match):
                    found.append(f"{path.relative_to(ROOT)}:{number}: {match}")
    return found


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _defined_here(tree: ast.Module) -> set[str]:
    """The private names a module defines: attributes it assigns, class members, functions."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names.add(node.value)  # __slots__ entries, setattr(self, "_x", ...)
    return {name for name in names if _private(name)}


#: Underscore names that are public protocol: namedtuple's methods.
_PUBLIC_PROTOCOL = frozenset({"_replace", "_asdict", "_fields", "_make"})


def _is_module(path: Path, node: ast.ImportFrom, name: str) -> bool:
    """Whether ``from <node.module> import name`` imports a module (a private module is how a
    package hides its layout; importing it is not a reach-in)."""
    base = path.parent
    for _ in range(node.level - 1):
        base = base.parent
    if node.level == 0:
        base = ROOT
    target = base.joinpath(*(node.module.split(".") if node.module else []), name)
    return target.with_suffix(".py").is_file() or (target / "__init__.py").is_file()


def _exported(module: str, name: str) -> bool:
    """Whether a standard-library module lists ``name`` in its ``__all__``."""
    try:
        imported = __import__(module)
    except ImportError:
        return False
    return name in getattr(imported, "__all__", ())


def bpcpay_offences() -> list[str]:
    """Private names a module of bpcpay/ uses that another module (or library) defines.

    ``self._x`` and ``cls._x`` are the object's own state (a base class's, at most), as in the
    tests' rule; ``self._client._x`` is not.
    """
    found = []
    for path in sorted((ROOT / "bpcpay").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        own = _defined_here(tree)
        where = path.relative_to(ROOT)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    if _private(alias.name) and not _is_module(path, node, alias.name):
                        found.append(f"{where}:{node.lineno}: imports {alias.name}")
            elif isinstance(node, ast.Attribute) and _private(node.attr):
                base = node.value
                if isinstance(base, ast.Name) and base.id in {"self", "cls"}:
                    continue
                if node.attr in own or node.attr in _PUBLIC_PROTOCOL:
                    continue
                if isinstance(base, ast.Name) and _exported(base.id, node.attr):
                    continue
                found.append(f"{where}:{node.lineno}: {ast.unparse(node)}")
    return found


def main() -> int:
    tests = tests_offences()
    package = bpcpay_offences()
    for line in tests:
        print(line)
    print(
        f"tests/: {len(tests)} reads or writes of another object's private attribute "
        f"(limit: fewer than {TESTS_LIMIT})"
    )
    for line in package:
        print(line)
    print(f"bpcpay/: {len(package)} across modules (limit: none)")
    return 0 if len(tests) < TESTS_LIMIT and not package else 1


if __name__ == "__main__":
    sys.exit(main())
