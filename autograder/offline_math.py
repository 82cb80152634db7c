"""Sphinx extension of the course site: MathJax served from the site itself, never from a CDN.

Sphinx's ``sphinx.ext.mathjax`` loads MathJax from a CDN by default, so a reader offline (or behind
a proxy, or a test that blocks outside requests) sees raw TeX. This extension copies MathJax 3 from
the pinned PyPI package ``django-static-mathjax`` (MathJax's own ``es5`` build, no Django needed:
the package is a folder of static files) into the site's ``_static/mathjax/`` and points
``mathjax_path`` at it. ``_config.yml`` lists it among the Sphinx extensions.

Only what a page can load is copied: the entry script and the folders MathJax loads from beside it
on demand (TeX extensions for ``autoload`` and ``\\require``, the CHTML fonts, and the menu's
accessibility parts), with MathJax's licence. Files are written only when they change.
"""

from __future__ import annotations

import shutil
from pathlib import Path

#: The import name of the PyPI package ``django-static-mathjax`` and MathJax's folder inside it.
PACKAGE = "mathjax"
DIST_SUBDIR = ("static", "mathjax")
#: MathJax's browser build inside that folder.
BUILD = "es5"
#: Sphinx's default combined component (TeX and MathML input, CommonHTML output).
ENTRY = "tex-mml-chtml.js"
#: What MathJax may load from beside its entry script at run time, relative to ``BUILD``.
ON_DEMAND = ("input", "output/chtml", "a11y", "ui", "sre", "adaptors")
#: Where the copy goes, inside the site's ``_static`` folder.
SITE_DIR = "mathjax"
LICENSE = "LICENSE"


def mathjax_dist() -> Path:
    """MathJax's distribution folder in the installed package (its ``package.json`` names the version)."""
    import mathjax

    root = Path(mathjax.__file__).resolve().parent.joinpath(*DIST_SUBDIR)
    if not (root / BUILD / ENTRY).is_file():
        raise RuntimeError(f"{root / BUILD / ENTRY} is missing: reinstall django-static-mathjax "
                           f"(pinned in requirements.lock)")
    return root


def site_files() -> dict[str, Path]:
    """What the site gets: path under ``_static/mathjax/`` -> file in the package."""
    dist = mathjax_dist()
    build = dist / BUILD
    files = {ENTRY: build / ENTRY, LICENSE: dist / LICENSE}
    for part in ON_DEMAND:
        for path in sorted((build / part).rglob("*")):
            if path.is_file():
                files[path.relative_to(build).as_posix()] = path
    return files


def copy_mathjax(static_dir: Path) -> list[str]:
    """Copy MathJax into ``static_dir / SITE_DIR`` (only files whose bytes differ); return what changed."""
    dest_root = static_dir / SITE_DIR
    changed = []
    for rel, src in site_files().items():
        dest = dest_root / rel
        if dest.is_file() and dest.stat().st_size == src.stat().st_size and dest.read_bytes() == src.read_bytes():
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
        changed.append(rel)
    return changed


def _use_local_mathjax(app, config) -> None:
    """Point Sphinx's MathJax at the site's own copy (a path relative to ``_static``)."""
    config.mathjax_path = f"{SITE_DIR}/{ENTRY}"


def _copy_after_build(app, exception) -> None:
    if exception is None and app.builder.format == "html":
        copy_mathjax(Path(app.outdir) / "_static")


def setup(app):
    """Register with Sphinx."""
    mathjax_dist()  # fail at start-up, not after the build, if the package is missing
    app.connect("config-inited", _use_local_mathjax)
    app.connect("build-finished", _copy_after_build)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
