"""Sphinx extension of the course site: the style rules the theme lacks for WCAG 2.1 AA contrast.

In dark mode pydata-sphinx-theme 0.17 marks the searched words of each search result
(``span.highlighted``) with a dark yellow background (``--pst-color-target``) and leaves them the link
colour, a contrast of about 2:1 where WCAG 2.1 AA asks 3:1 for the result's bold title (axe-core's
``color-contrast``; ``tests/test_browser.py`` scans the search page with its results). The rule below
gives them the page's text colour instead, about 4.6:1 on that background.

The stylesheet is written into the site's ``_static`` folder after the build and linked from every
page; it lives here, as a string, so that the site's sources digest (``autograder/**/*.py``) sees it.
``_config.yml`` lists this module among the Sphinx extensions.
"""

from __future__ import annotations

from pathlib import Path

#: The stylesheet's name in the site's ``_static`` folder.
CSS_NAME = "course-accessibility.css"
CSS = """/* Written by autograder/site_style.py: contrast the theme lacks (WCAG 2.1 AA). */
html[data-theme="dark"] span.highlighted {
  color: var(--pst-color-text-base);
}
"""


def write_css(static_dir: Path) -> bool:
    """Write the stylesheet into ``static_dir`` unless it is there already; return whether it changed."""
    path = static_dir / CSS_NAME
    if path.is_file() and path.read_text(encoding="utf-8") == CSS:
        return False
    static_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(CSS, encoding="utf-8")
    return True


def _write_after_build(app, exception) -> None:
    if exception is None and app.builder.format == "html":
        write_css(Path(app.outdir) / "_static")


def setup(app):
    """Register with Sphinx."""
    app.add_css_file(CSS_NAME)
    app.connect("build-finished", _write_after_build)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
