"""docs/architecture.md stays true: every path and module it names exists, and it names every
subpackage of ``bpcpay``, every other import package at the root (``bpcpay_demo``) and every
folder of ``tests``.

What counts as a name (fenced blocks, such as the mermaid diagrams, are not read):

- a **path**: a word of a backticked span that contains a ``/`` or ends in a file extension
  (``.py``, ``.md``, ``.toml`` ...), e.g. ``bpcpay/_core/_endpoints.py``, ``.ci/run``, the
  ``scripts/gen_sync.py`` of ``python scripts/gen_sync.py --check``. A path with a ``/`` is
  resolved from the repository root; a bare file name (``_sql.py``) from the folder of the path
  named last before it, or else from the root. A ``*`` is a glob that must match something;
  a word with ``<`` or ``{`` is a placeholder, and one that starts with ``/`` is a URL path, not
  a file;
- a **module**: a backticked ``bpcpay.x.y``, which must be a module of the package, or an
  attribute reachable from one (``bpcpay.webhooks.sign``);
- a **link** to another page (``[What is inferred](inferred.md)``), resolved in ``docs/``.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "architecture.md"

#: Paths the doc names before they exist: written on another branch (issue 14), described as
#: they will be once it lands. Remove an entry when its path lands (a test below says when).
PENDING: set[str] = set()

_FENCE = re.compile(r"^```.*?^```", re.S | re.M)
_SPAN = re.compile(r"`([^`\n]+)`")
_LINK = re.compile(r"\]\(([^)#:]+)(?:#[^)]*)?\)")
_EXTENSIONS = (".py", ".md", ".toml", ".yml", ".yaml", ".cfg", ".ini", ".txt", ".json", ".png")
_MODULE = re.compile(r"bpcpay(\.[A-Za-z_]\w*)+")


def _prose() -> str:
    return _FENCE.sub("", DOC.read_text(encoding="utf-8"))


def _words() -> list[str]:
    return [word for span in _SPAN.findall(_prose()) for word in span.split()]


def _is_path(word: str) -> bool:
    if any(mark in word for mark in ("://", "<", "{")) or word.startswith(("/", "-")):
        return False
    return "/" in word or word.endswith(_EXTENSIONS)


def _exists(path: Path) -> bool:
    return any(path.parent.glob(path.name)) if "*" in path.name else path.exists()


def named_paths() -> list[tuple[str, Path | None]]:
    """Each path word of the doc, in order, with where it resolves (None: nowhere)."""
    found: list[tuple[str, Path | None]] = []
    folder = ROOT
    for word in filter(_is_path, _words()):
        if "/" in word:
            target = ROOT / word
            folder = target if word.endswith("/") else target.parent
            found.append((word, target if _exists(target) else None))
            continue
        # A bare file name: beside the path named last, or at the root.
        candidates = [folder / word, ROOT / word]
        found.append((word, next((c for c in candidates if _exists(c)), None)))
    return found


def _resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        base = ROOT.joinpath(*parts[:cut])
        if base.with_suffix(".py").is_file() or (base / "__init__.py").is_file():
            obj: object = importlib.import_module(".".join(parts[:cut]))
            for attr in parts[cut:]:
                if not hasattr(obj, attr):
                    return False
                obj = getattr(obj, attr)
            return True
    return False


def test_every_path_the_doc_names_exists() -> None:
    paths = named_paths()
    assert len(paths) >= 50  # the rules above still find the doc's paths
    stale = [word for word, target in paths if target is None and word not in PENDING]
    assert not stale, f"docs/architecture.md names paths that do not exist: {stale}"


def test_every_module_the_doc_names_resolves() -> None:
    modules = sorted({word for word in _words() if _MODULE.fullmatch(word)})
    assert modules  # the rule still finds them
    stale = [name for name in modules if not _resolves(name)]
    assert not stale, f"docs/architecture.md names modules that do not resolve: {stale}"


def test_every_page_the_doc_links_exists() -> None:
    links = _LINK.findall(_prose())
    assert links
    stale = [link for link in links if not (DOC.parent / link).is_file()]
    assert not stale, f"docs/architecture.md links pages that do not exist: {stale}"


def test_the_code_map_names_every_package_and_every_test_folder() -> None:
    words = set(_words())
    folders = [p for p in ROOT.iterdir() if (p / "__init__.py").is_file() and p.name != "bpcpay"]
    folders += [p for p in (ROOT / "bpcpay").iterdir() if (p / "__init__.py").is_file()]
    folders += [p for p in (ROOT / "tests").iterdir() if p.is_dir() and any(p.glob("test_*.py"))]
    assert len(folders) >= 12
    names = [f"{folder.relative_to(ROOT).as_posix()}/" for folder in folders]
    missing = [name for name in names if name not in words]
    assert not missing, f"docs/architecture.md's code map does not name: {missing}"


def test_a_pending_path_is_one_that_has_not_landed() -> None:
    named = {word for word, _ in named_paths()}
    for path in PENDING:
        assert path in named, f"{path} is pending but the doc no longer names it: drop it"
        assert not (ROOT / path).exists(), f"{path} landed: remove it from PENDING"
