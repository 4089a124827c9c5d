"""PEP 562 lazy exports for ``bpcpay.webhooks`` and ``bpcpay.webhooks.stores``. Pure.

A package lists which names live in which submodule; the submodule is imported on the first
access to one of them, so importing the package stays cheap.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence

# typing.TYPE_CHECKING without importing typing (a few ms at import): type checkers treat any
# TYPE_CHECKING this way.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, where: Mapping[str, str], exported: Sequence[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A module ``__getattr__`` and ``__dir__`` for ``package``.

    Args:
        package: the package's ``__name__``.
        where: exported name -> the relative module that defines it (``"._router"``).
        exported: the package's ``__all__``.

    Returns:
        ``(__getattr__, __dir__)``; the first caches each value in the package's namespace.
    """

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        vars(importlib.import_module(package))[name] = value  # later lookups are plain
        return value

    def __dir__() -> list[str]:
        return sorted(exported)

    return __getattr__, __dir__
