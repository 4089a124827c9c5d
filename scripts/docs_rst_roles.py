"""A griffe extension for the API reference (mkdocs.yml loads it): the docstrings use a few
reStructuredText habits that Markdown shows literally, so it rewrites them as the API
reference is built. The docstrings themselves stay as they are.

- ``:class:`~bpcpay.Timeout``` (also ``:meth:``, ``:func:``, ``:data:``, ``:mod:``,
  ``:attr:``, ``:exc:``) becomes ``Timeout`` in code style (the last dotted part with ``~``);
- a paragraph ending in ``::`` before an indented example ends in ``:``;
- RST's double backticks become Markdown's single ones.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:class|meth|func|data|mod|attr|exc|obj):`(~?)([^`]+)`")
_LITERAL_INTRO = re.compile(r"::$", re.M)
_DOUBLE_BACKTICKS = re.compile(r"``([^`]+)``")


def _role(match: re.Match[str]) -> str:
    tilde, target = match.groups()
    return f"`{target.rsplit('.', 1)[-1] if tilde else target}`"


def markdown(text: str) -> str:
    """The docstring with its reStructuredText habits turned into Markdown."""
    text = _DOUBLE_BACKTICKS.sub(r"`\1`", text)
    text = _ROLE.sub(_role, text)
    return _LITERAL_INTRO.sub(":", text)


class RstRoles(griffe.Extension):
    """Rewrites each docstring once, as griffe loads the object."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = markdown(obj.docstring.value)
