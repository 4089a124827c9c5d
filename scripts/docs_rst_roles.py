"""Griffe extensions for the API reference (mkdocs.yml loads them): the docstrings and comments
use a few habits that Markdown shows literally or that griffe does not read, so these rewrite
them as the API reference is built. The source stays as it is.

:class:`RstRoles` rewrites each docstring:

- ``:class:`~bpcpay.Timeout``` (also ``:meth:``, ``:func:``, ``:data:``, ``:mod:``,
  ``:attr:``, ``:exc:``) becomes ``Timeout`` in code style (the last dotted part with ``~``);
- a paragraph ending in ``::`` before an indented example ends in ``:``;
- RST's double backticks become Markdown's single ones;
- a source tag ``[doc: redirect-integration, two-step]`` links each page it names to BPC's
  own page (:func:`bpc_page_url`), so the reference links every published fact to where BPC
  publishes it.

:class:`AttributeComments` gives a module or class attribute documented the Sphinx way, with
``#:`` lines right above it, that text as its docstring (griffe reads only a string after the
assignment), so the constants render with their meaning; it is rewritten as above.

As an mkdocs hook (mkdocs.yml's ``hooks``), :func:`on_page_markdown` links the source tags of
the reference's own pages too (the request-body tables of ``reference/bodies.md``).
"""

from __future__ import annotations

import ast
import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:class|meth|func|data|mod|attr|exc|obj):`(~?)([^`]+)`")
_LITERAL_INTRO = re.compile(r"::$", re.M)
_DOUBLE_BACKTICKS = re.compile(r"``([^`]+)``")
DOC_TAG = re.compile(r"\[doc:\s*([^\]\[]+)\]")
#: A fenced code block, from its opening fence line to its closing one (any indentation).
_FENCED = re.compile(r"(^[ \t]*```.*?^[ \t]*```[ \t]*$)", re.S | re.M)

#: BPC's pages for API v2, as /work/shared/bpc-api-v2.md (tests/contract/bpc-api-v2.md) names
#: them: ``structure/<name>-apiv2.html``, but for the few that live elsewhere.
BPC_ROOT = "https://dev.bpcbt.com/en/integration"
_STRUCTURE_PAGES = (
    "redirect-integration",
    "webhooks",
    "api-keys",
    "api-versions",
    "cancel-refund",
    "direct-integration",
    "stored-payment-methods",
)
_OTHER_PAGES = {
    "two-step": f"{BPC_ROOT}/apiv2/structure/two-step.html",
    "test-cards": f"{BPC_ROOT}/structure/test-cards.html",
    "sdk_core_apiv2": f"{BPC_ROOT}/apiv2/sdk/sdk_core_apiv2.html",
}


def bpc_page_url(page: str) -> str | None:
    """The address of BPC's page named ``page`` in a ``[doc: page]`` tag; None when unknown."""
    if page in _STRUCTURE_PAGES:
        return f"{BPC_ROOT}/apiv2/structure/{page}-apiv2.html"
    return _OTHER_PAGES.get(page)


def _role(match: re.Match[str]) -> str:
    tilde, target = match.groups()
    return f"`{target.rsplit('.', 1)[-1] if tilde else target}`"


#: One item of a tag: a page's name, then maybe a remark (``two-step: the rules are ours``).
_TAG_ITEM = re.compile(r"(\s*)([a-z][\w-]*[a-z0-9])(.*)", re.S)


def _doc_tag(match: re.Match[str]) -> str:
    items = []
    for item in match.group(1).split(","):
        parts = _TAG_ITEM.fullmatch(item)
        url = bpc_page_url(parts.group(2)) if parts else None
        if parts is None or url is None:
            items.append(item)  # a remark (``inferred``): as written
        else:
            space, page, rest = parts.groups()
            items.append(f"{space}[{page}]({url}){rest}")
    linked = ",".join(items)
    return rf"\[doc: {linked.strip()}\]" if linked != match.group(1) else match.group(0)


def _prose(text: str) -> str:
    text = _DOUBLE_BACKTICKS.sub(r"`\1`", text)
    text = _ROLE.sub(_role, text)
    text = DOC_TAG.sub(_doc_tag, text)
    return _LITERAL_INTRO.sub(":", text)


def markdown(text: str) -> str:
    """The docstring with its reStructuredText habits turned into Markdown; fenced code
    blocks (the examples) are left exactly as written."""
    parts = _FENCED.split(text)
    # split() with one group: prose at even indexes, the fenced blocks at odd ones.
    return "".join(part if index % 2 else _prose(part) for index, part in enumerate(parts))


class RstRoles(griffe.Extension):
    """Rewrites each docstring once, as griffe loads the object."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = markdown(obj.docstring.value)


def on_page_markdown(markdown_text: str, *, page: Any, **kwargs: Any) -> str:
    """mkdocs hook: the ``[doc: page]`` tags of a page of ``reference/`` as links."""
    if not page.file.src_uri.startswith("reference/"):
        return markdown_text
    return DOC_TAG.sub(_doc_tag, markdown_text)


def comment_above(lines: list[str], lineno: int) -> str | None:
    """The text of the ``#:`` lines right above line ``lineno`` (1-based), or None."""
    found: list[str] = []
    index = lineno - 2
    while index >= 0 and lines[index].lstrip().startswith("#:"):
        found.append(lines[index].lstrip()[2:].strip())
        index -= 1
    return "\n".join(reversed(found)) or None


class AttributeComments(griffe.Extension):
    """Gives each attribute documented by ``#:`` lines (and by no string) its docstring."""

    def on_attribute_instance(
        self, *, node: ast.AST | griffe.ObjectNode, attr: griffe.Attribute, **kwargs: Any
    ) -> None:
        if attr.docstring is not None or attr.lineno is None:
            return
        filepath = attr.filepath
        collection = attr.lines_collection
        if isinstance(filepath, list) or filepath not in collection:
            return  # a namespace package, or a module without source
        text = comment_above(collection[filepath], attr.lineno)
        if text is not None:
            attr.docstring = griffe.Docstring(markdown(text), lineno=attr.lineno - 1, parent=attr)
