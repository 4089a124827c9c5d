"""The BUILT docs site works offline, in a real browser: every page's diagrams render as SVG at
a readable size, search answers on every page, and no request leaves the site.

The site comes from ``$BPCPAY_DOCS_SITE`` (``.ci/run`` builds it without network, then points
the test suite at it) or is built here with ``mkdocs build --strict``. It is served on loopback
and browsed with headless Chromium (found as tests/test_browser_demo.py finds it), every request
for another host refused and recorded: the page must work without them. Material renders each
diagram into a closed shadow root; an init script opens them so that the test can look inside.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import importlib.util
import os
import re
import subprocess
import sys
import tarfile
import threading
import types
from collections.abc import AsyncIterator, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, Route, async_playwright, expect
from test_browser_demo import CHROMIUM_ARGS, chromium

ROOT = Path(__file__).resolve().parent.parent
SITE_ENV = "BPCPAY_DOCS_SITE"
WAIT_MS = 15_000
#: Rendered text of a diagram is at least this tall (the redirect flow's was about 5 px).
MIN_TEXT_PX = 12
#: Pages browsed at once (each page loads the search index and mermaid afresh).
TABS = 3

__all__ = ["chromium"]  # the fixture, shared with the demo's browser test

_OPEN_SHADOW_ROOTS = """
const attach = Element.prototype.attachShadow;
Element.prototype.attachShadow = function (init) {
  return attach.call(this, Object.assign({}, init, { mode: "open" }));
};
"""

_DIAGRAMS = """() => [...document.querySelectorAll("div.mermaid")].map((host) => {
  const svg = host.shadowRoot && host.shadowRoot.querySelector("svg");
  if (!svg) return null;
  const heights = [...svg.querySelectorAll("text")].map((t) => t.getBoundingClientRect().height)
    .filter((h) => h > 0);
  return { role: svg.getAttribute("aria-roledescription"), texts: heights.length,
           smallest: Math.min(...heights) };
})"""


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    given = os.environ.get(SITE_ENV)
    if given:
        built = Path(given)
        assert (built / "index.html").is_file(), f"${SITE_ENV}={given} holds no built site"
        return built
    built = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(built)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return built


@pytest.fixture(scope="session")
def served(site: Path) -> Iterator[str]:
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest_asyncio.fixture
async def browser(chromium: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


def _pages(site: Path) -> list[str]:
    """Every page of the site, as a path from its root."""
    pages = [
        "/" + str(index.parent.relative_to(site)).removeprefix(".") + "/"
        for index in site.rglob("index.html")
    ]
    return sorted(page.replace("//", "/") for page in pages)


def _diagrams_in_the_sources() -> int:
    return sum(
        page.read_text(encoding="utf-8").count("```mermaid\n")
        for page in (ROOT / "docs").rglob("*.md")
    )


async def _search(page: Page, query: str) -> int:
    """Type ``query`` into the site's search; the number of results it shows."""
    box = page.locator("input.md-search__input")
    await box.click()
    await box.fill("")
    await box.press_sequentially(query)  # Material searches on key events
    results = page.locator(".md-search-result__item")
    await expect(results.first).to_be_visible()
    return await results.count()


@pytest.mark.asyncio
async def test_the_built_site_works_offline(browser: Browser, site: Path, served: str) -> None:
    left: list[str] = []  # requests for anything but the site itself

    async def only_the_site(route: Route) -> None:
        url = route.request.url
        if url.startswith(("data:", "blob:")) or urlsplit(url).netloc == urlsplit(served).netloc:
            await route.continue_()
        else:
            left.append(url)
            await route.abort()

    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    await context.add_init_script(_OPEN_SHADOW_ROOTS)
    await context.route("**/*", only_the_site)
    errors: list[str] = []
    diagrams: list[dict[str, object]] = []
    pages = _pages(site)
    assert len(pages) >= 15 and "/redirect-flow/" in pages  # the control: the walk finds them
    tabs = asyncio.Queue[Page]()
    for _ in range(TABS):
        tab = await context.new_page()
        tab.set_default_timeout(WAIT_MS)
        tab.on("pageerror", lambda error: errors.append(str(error)))
        tabs.put_nowait(tab)

    async def check(path: str) -> None:
        page = await tabs.get()
        try:
            await page.goto(served + path)
            # Material swaps each <pre class="mermaid"> for a rendered <div class="mermaid">.
            await page.wait_for_function(
                """() => document.querySelectorAll("pre.mermaid").length === 0 &&
                    [...document.querySelectorAll("div.mermaid")].every(
                      (d) => d.shadowRoot && d.shadowRoot.querySelector("svg"))"""
            )
            for diagram in await page.evaluate(_DIAGRAMS):
                assert diagram is not None and diagram["role"] == "sequence", (path, diagram)
                assert diagram["texts"] > 5, path
                assert diagram["smallest"] >= MIN_TEXT_PX, (path, diagram)
                diagrams.append(diagram)
            assert await _search(page, "webhook") > 0, path
            await expect(page.locator(".md-search-result__meta")).not_to_have_text(
                re.compile("Initializing")
            )
        finally:
            tabs.put_nowait(page)

    await asyncio.gather(*(check(path) for path in pages))
    await context.close()
    assert len(diagrams) == _diagrams_in_the_sources() >= 3
    assert left == []
    assert errors == []


# --- where the site's mermaid comes from (scripts/docs_assets.py) ---------------------------------


def _docs_assets() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(
        "docs_assets", ROOT / "scripts" / "docs_assets.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fake_npm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An ``npm`` on PATH whose ``pack`` hands over a package of our own making (the registry
    unreachable, or lying); returns the tarball it hands over."""
    package = tmp_path / "package"
    (package / "dist").mkdir(parents=True)
    (package / "dist" / "mermaid.min.js").write_text("window.mermaid = {};\n")
    (package / "LICENSE").write_text("MIT\n")
    tarball = tmp_path / "mermaid-0.0.0.tgz"
    with tarfile.open(tarball, "w:gz") as archive:
        archive.add(package, arcname="package")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    npm = bin_dir / "npm"
    npm.write_text(
        "#!/bin/sh\n"
        'while [ "$1" != "--pack-destination" ]; do shift; done\n'
        f'cp {tarball} "$2/"\n'
        f'echo \'[{{"filename": "{tarball.name}"}}]\'\n'
    )
    npm.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return tarball


def test_a_package_that_is_not_the_pinned_one_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assets = _docs_assets()
    monkeypatch.setattr(assets, "CACHE", tmp_path / "cache")
    tarball = _fake_npm(tmp_path, monkeypatch)
    with pytest.raises(RuntimeError, match="is not the pinned package"):
        assets.fetch()
    assert assets.missing() == list(assets.MERMAID_FILES.values())  # nothing half-written
    # The control: the same package, pinned, is taken, and the site gets its files.
    digest = base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    monkeypatch.setattr(assets, "MERMAID_INTEGRITY", f"sha512-{digest}")
    assets.fetch()
    assert assets.missing() == []
    mermaid = assets.mermaid_dir() / "javascripts" / "vendor" / "mermaid.min.js"
    assert mermaid.read_text() == "window.mermaid = {};\n"


def test_without_npm_the_build_says_what_to_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mkdocs.exceptions import PluginError

    assets = _docs_assets()
    monkeypatch.setattr(assets, "CACHE", tmp_path / "cache")
    monkeypatch.setenv("PATH", str(tmp_path))  # no npm anywhere
    with pytest.raises(PluginError, match=r"run 'python scripts/docs_assets.py' once"):
        assets.on_config({})
