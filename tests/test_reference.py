"""The API reference as readers get it: links to BPC's pages, the constants, and the built site.

- Every endpoint's method links the BPC pages its facts come from, and every ``[doc: page]``
  tag of the source names a page the reference can link (``scripts/docs_rst_roles.py`` holds
  the one rule for BPC's page addresses and the docstring rewrites).
- Every constant bpcpay exports is on the Constants page, with its meaning (a ``#:`` comment,
  read by the reference's griffe extension).
- The built site (``$BPCPAY_DOCS_SITE`` from ``.ci/run``, else built here): both clients with
  every method and their resources, no markup left unrendered (a cross-reference mkdocs'
  ``--strict`` does not see, a reStructuredText role, a broken fence), the Errors page written
  for users, the constants' values, BPC's pages linked.

A project check (noxfile.py's PROJECT_CHECKS): it needs the docs tools of the dev extra.
"""

from __future__ import annotations

import html as html_module
import importlib
import importlib.util
import re
import types
from pathlib import Path
from typing import Any

from test_docs_site import site
from test_docstring_examples import (
    PUBLIC_MODULES,
    classes_with_methods,
    public_methods,
    resources_of,
)

import bpcpay
from bpcpay import AsyncBpcPay, BpcPay

__all__ = ["site"]  # the built docs site's fixture, shared with tests/test_docs_site.py

ROOT = Path(__file__).resolve().parent.parent


# --- links to BPC's pages --------------------------------------------------------------------


def _load_script(name: str) -> types.ModuleType:
    path = ROOT / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_script_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: The reference's own rules: BPC's page addresses, the docstring rewrites, the ``#:`` reader.
REFERENCE = _load_script("docs_rst_roles")
_PAGE_NAMES = re.compile(r"[a-z][a-z_-]+[a-z0-9]")


def _pages_of(endpoint: Any) -> list[str]:
    """The BPC pages an endpoint's facts come from: its source's, or those its note names."""
    if endpoint.source.startswith("doc:"):
        return [page.strip() for page in endpoint.source[4:].split(",")]
    named = _PAGE_NAMES.findall(endpoint.note or "")
    return [page for page in named if REFERENCE.bpc_page_url(page) is not None]


def test_each_endpoint_method_links_the_bpc_pages_it_comes_from() -> None:
    from bpcpay._core._endpoints import ENDPOINTS

    missing = []
    for name, endpoint in ENDPOINTS.items():
        attribute, method = name.split(".")
        for client in (AsyncBpcPay, BpcPay):
            doc = getattr(resources_of(client)[attribute], method).__doc__ or ""
            for page in _pages_of(endpoint):
                url = REFERENCE.bpc_page_url(page)
                if f"]({url})" not in doc:
                    missing.append(f"{client.__name__}.{name}: {page}")
    assert missing == []
    # Published endpoints and inferred ones whose operation BPC publishes (cancel, refunds).
    assert _pages_of(ENDPOINTS["payments.cancel"]) == ["cancel-refund"]


def test_every_source_tag_names_a_page_the_reference_links() -> None:
    # A ``[doc: page]`` tag is rendered as links to BPC's pages; a page the rule cannot place
    # would be left as plain text.
    tags = [
        match
        for path in sorted((ROOT / "bpcpay").rglob("*.py"))
        for match in REFERENCE.DOC_TAG.finditer(path.read_text(encoding="utf-8"))
    ]
    assert len(tags) > 20
    named = {
        first.group(1)
        for tag in tags
        for item in tag.group(1).split(",")
        if (first := re.match(r"\s*([a-z][\w-]*[a-z0-9])", item)) is not None
    }
    assert {page for page in named if REFERENCE.bpc_page_url(page) is None} == {"inferred"}
    linked = REFERENCE.markdown("as published [doc: two-step, test-cards] here")
    assert linked == (
        r"as published \[doc: [two-step](https://dev.bpcbt.com/en/integration/apiv2/structure/"
        r"two-step.html), [test-cards](https://dev.bpcbt.com/en/integration/structure/"
        r"test-cards.html)\] here"
    )


def test_the_reference_rewrites_leave_the_examples_as_written() -> None:
    # RST's double backticks, roles and doc tags are rewritten in the prose only: a fenced
    # example keeps its ``` fence, its dunders and its code as written.
    doc = (
        "Use ``x`` and :class:`~bpcpay.Timeout` [doc: webhooks]::\n\n"
        "Examples:\n    ```python\n    print(type(e).__name__, ``a``)  # [doc: webhooks]\n    ```\n"
    )
    text = REFERENCE.markdown(doc)
    assert text.startswith("Use `x` and `Timeout` \\[doc: [webhooks](https://")
    assert "    ```python\n    print(type(e).__name__, ``a``)  # [doc: webhooks]\n    ```" in text


# --- the constants ---------------------------------------------------------------------------


def _directives(page: str) -> list[str]:
    text = (ROOT / "docs" / "reference" / page).read_text(encoding="utf-8")
    return re.findall(r"^::: ([\w.]+)$", text, re.M)


def test_every_exported_constant_is_on_the_constants_page_with_its_meaning() -> None:
    import griffe

    shown = _directives("constants.md")
    names = {target.rsplit(".", 1)[-1] for target in shown}
    exported = {
        name
        for module_name in PUBLIC_MODULES
        for name in importlib.import_module(module_name).__all__
        if name.isupper() or name == "__version__"
    }
    assert exported - names == set()
    # The defaults the issue names, which bpcpay does not export, are there too.
    assert {"DEFAULT_CONNECT_TIMEOUT", "DEFAULT_READ_TIMEOUT", "DEFAULT_MAX_WEBHOOK_BYTES"} <= names
    loaded = griffe.load(
        "bpcpay",
        search_paths=[str(ROOT)],
        extensions=griffe.load_extensions(REFERENCE.AttributeComments()),
        resolve_aliases=True,
        resolve_external=False,
    )
    undocumented = [target for target in shown if not loaded[target.split(".", 1)[1]].docstring]
    assert undocumented == []


def test_a_comment_above_an_attribute_is_its_docstring() -> None:
    lines = ["x = 1", "#: The first line", "#: and the second.", "LIMIT = 3", "OTHER = 4"]
    assert REFERENCE.comment_above(lines, 4) == "The first line\nand the second."
    assert REFERENCE.comment_above(lines, 5) is None
    assert REFERENCE.comment_above(lines, 1) is None


# --- the built reference (the site .ci/run builds, or one built here) -------------------------

_TAGS = re.compile(r"<[^>]+>")


def _page(built: Path, name: str) -> str:
    return (built / "reference" / name / "index.html").read_text(encoding="utf-8")


def _text(html: str) -> str:
    article = html[html.index("<article") :]
    return html_module.unescape(_TAGS.sub("", article))


def test_the_clients_page_lists_every_method_of_both_clients_and_their_resources(
    site: Path,
) -> None:
    html = _page(site, "clients")
    wanted = []
    for owner, cls in classes_with_methods():
        if owner.split(".")[0] not in ("AsyncBpcPay", "BpcPay"):
            continue
        if owner.startswith("BpcPay.") or owner.endswith(".webhooks"):
            # The sync resources have the methods of the async ones shown; client.webhooks'
            # are the functions of the Webhooks page.
            continue
        path = f"bpcpay.{owner}" if "." not in owner else f"{cls.__module__}.{cls.__name__}"
        wanted += [f'id="{path}.{name}"' for name, _ in public_methods(cls)]
    assert len(wanted) == 18  # 4 + 4 methods of the clients, 10 of their four resources
    assert [anchor for anchor in wanted if anchor not in html] == []
    for resource in ("sessions", "payments", "refunds", "payment_methods"):
        assert f'href="#client-{resource}"' in html  # reachable from the clients' docstrings


def test_the_reference_has_no_unrendered_markup(site: Path) -> None:
    # mkdocs' --strict does not see an unresolved cross-reference (autorefs logs it elsewhere):
    # it is left as "[text][target]". Nor a reStructuredText role, nor a broken code fence.
    for page in sorted((site / "reference").glob("*/index.html")):
        text = _text(page.read_text(encoding="utf-8"))
        assert re.search(r"\]\[[\w.-]+\]", text) is None, page
        assert re.search(r":(class|meth|func|data|attr|exc|mod):`", text) is None, page
        assert "``" not in text, page


def test_the_errors_page_is_written_for_users(site: Path) -> None:
    text = _text(_page(site, "errors"))
    assert text.lstrip().startswith("Errors")
    assert "_exceptions" not in text
    for word in ("status_code", "request_id", "outcome_unknown", "transport_error"):
        assert word in text
    html = _page(site, "errors")
    errors = [name for name in bpcpay.__all__ if name.endswith("Error")]
    assert len(errors) == 19
    assert [name for name in errors if f'id="bpcpay.{name}"' not in html] == []


def test_the_constants_page_shows_each_value(site: Path) -> None:
    text = _text(_page(site, "constants"))
    for shown in (
        "DEFAULT_BASE_URL = 'https://dev.bpcbt.com/api2'",
        "DEFAULT_CONNECT_TIMEOUT = 5.0",
        "DEFAULT_MAX_WEBHOOK_BYTES = 1024 * 1024",
        "DEFAULT_LEASE: Final = 20.0",
        "NOT_GIVEN: Final = NotGiven.NOT_GIVEN",
    ):
        assert shown in text


def test_the_reference_links_bpc_pages(site: Path) -> None:
    html = "".join(p.read_text("utf-8") for p in (site / "reference").glob("*/index.html"))
    pages = [
        "redirect-integration",
        "webhooks",
        "api-keys",
        "api-versions",
        "cancel-refund",
        "direct-integration",
        "stored-payment-methods",
        "two-step",
        "test-cards",
        "sdk_core_apiv2",
    ]
    assert [page for page in pages if f'href="{REFERENCE.bpc_page_url(page)}"' not in html] == []
