"""The docs site's third-party assets, served from the site itself so that it works offline.

The site draws its diagrams with mermaid. mkdocs-material would load it from a CDN each time a
page is viewed, so offline the diagrams stayed raw text and search never finished starting.
This module fetches one pinned build of mermaid (``dist/mermaid.min.js`` and its MIT
``LICENSE``) from the npm registry with npm itself, checks the package against the integrity
pinned here, and keeps it in ``.cache/docs-assets/`` (not committed: a 3 MB minified file is
nothing a reviewer can read; its version and hash here are). It is two things:

- a script: ``python scripts/docs_assets.py`` fetches what is missing (``.ci/run`` runs it
  before the offline ``mkdocs build``);
- an mkdocs hook (``hooks:`` in mkdocs.yml): the build copies the cached files into the site
  under ``javascripts/vendor/``, fetching them first when missing (``mkdocs serve`` on a
  machine with npm just works), and fails with what to run when they cannot be had.

Imports only the standard library (and mkdocs, in the hook functions).
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "docs-assets"

#: The mermaid release the site ships: the last of major version 11, the one mkdocs-material
#: drives (its own loader names mermaid@11).
MERMAID_VERSION = "11.17.2"
#: The npm registry's integrity of that package (``npm view mermaid@VERSION dist.integrity``):
#: a re-published or tampered package is refused.
MERMAID_INTEGRITY = (
    "sha512-V6K3C8EBdEsPFZXSKMJe6ppQOENxuHARr9GvHX4hh47lAbhMRD9qf4oEK7LoaRQxULMa80/"
    "qt5gHO73aCleBBg=="
)
#: What the site takes from the package: its path in the package -> its path in the site.
MERMAID_FILES = {
    "package/dist/mermaid.min.js": "javascripts/vendor/mermaid.min.js",
    "package/LICENSE": "javascripts/vendor/mermaid.LICENSE.txt",
}


def mermaid_dir() -> Path:
    """Where the pinned mermaid files are cached."""
    return CACHE / f"mermaid-{MERMAID_VERSION}"


def missing() -> list[str]:
    """The site paths whose cached file is not there yet."""
    return [site for site in MERMAID_FILES.values() if not (mermaid_dir() / site).is_file()]


def _integrity(tarball: Path) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()


def fetch() -> None:
    """Fetch the pinned mermaid package with npm, check it, and cache the site's files.

    Raises:
        RuntimeError: npm is missing or failed, or the package is not the pinned one.
    """
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is not installed: it fetches mermaid for the docs site")
    with tempfile.TemporaryDirectory() as tmp:
        packed = subprocess.run(
            [npm, "pack", f"mermaid@{MERMAID_VERSION}", "--json", "--pack-destination", tmp],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if packed.returncode != 0:
            raise RuntimeError(f"npm pack mermaid@{MERMAID_VERSION} failed: {packed.stderr}")
        tarball = Path(tmp) / json.loads(packed.stdout)[0]["filename"]
        if _integrity(tarball) != MERMAID_INTEGRITY:
            raise RuntimeError(f"mermaid@{MERMAID_VERSION} is not the pinned package")
        CACHE.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=CACHE))  # beside the final place: rename is atomic
        try:
            with tarfile.open(tarball) as archive:
                for member, site in MERMAID_FILES.items():
                    source = archive.extractfile(member)
                    if source is None:
                        raise RuntimeError(f"{member} is missing from mermaid@{MERMAID_VERSION}")
                    target = staging / site
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(source.read())
            final = mermaid_dir()
            shutil.rmtree(final, ignore_errors=True)
            staging.rename(final)  # whole or not at all: a half-written cache is never used
        finally:
            shutil.rmtree(staging, ignore_errors=True)


# --- the mkdocs hook ----------------------------------------------------------------------------


def on_config(config: Any) -> Any:
    """Make sure the assets are cached; fetch them if not (a build offline fails here, saying
    what to run, instead of shipping a site whose diagrams need the network)."""
    if missing():
        from mkdocs.exceptions import PluginError

        try:
            fetch()
        except RuntimeError as exc:
            raise PluginError(
                f"the docs site's offline assets are missing ({exc}); run "
                "'python scripts/docs_assets.py' once with access to the npm registry"
            ) from None
    return config


def on_files(files: Any, config: Any) -> Any:
    """Add the cached files to the site, as if they were under docs/."""
    from mkdocs.structure.files import File

    for site in MERMAID_FILES.values():
        files.append(File.generated(config, site, abs_src_path=str(mermaid_dir() / site)))
    return files


def main() -> int:
    """Fetch what is missing; print where the files are."""
    if missing():
        try:
            fetch()
        except RuntimeError as exc:
            print(f"docs_assets: {exc}", file=sys.stderr)
            return 1
    print(f"mermaid {MERMAID_VERSION}: {mermaid_dir()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
