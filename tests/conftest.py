"""Shared test set-up: a fast, reproducible hypothesis profile and the two published data splits.

Keep this file small and generic; fixtures used by one test file belong in that file. The Chromium
set-up is here because two files drive the browser (the built site, and the students' front ends).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from hypothesis import settings

from solutions.ch1_titanic import Split, line_c_data, line_f_data
from solutions.ch6_deep import Baselines, baseline_accuracies

#: Hypothesis profile of the course's suite: few examples, no per-example deadline (the machine is
#: shared and slow), and derandomised so that a run is reproducible. Choose another profile with
#: ``HYPOTHESIS_PROFILE=<name>`` (for instance ``thorough`` for a longer search before a release).
settings.register_profile("course", max_examples=25, deadline=None, derandomize=True)
settings.register_profile("thorough", max_examples=500, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "course"))


@pytest.fixture(scope="session")
def line_f_split() -> Split:
    """Line F's data: mode fill, max scaling, ``randperm`` split under seed 42 (713/178). Do not mutate."""
    return line_f_data()


@pytest.fixture(scope="session")
def line_c_split() -> Split:
    """Line C's data: mode fill, standardised, ``train_test_split`` with 808 (712/179). Do not mutate."""
    return line_c_data()


@pytest.fixture(scope="session")
def line_c_baselines(line_c_split: Split) -> Baselines:
    """Validation accuracies of the default baselines on line C's split (fitted once: LightGBM is slow)."""
    return baseline_accuracies(*line_c_split)


# --- the real browser of the `browser` tests (Debian's Chromium, driven by Playwright) -------------

#: Where Debian's ``chromium`` package puts the browser; Playwright's own download is never used.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_INSTALL_HINT = "install it with: sudo apt-get update && sudo apt-get install -y chromium"
#: Headless, and quiet on a machine without internet: no background requests, no first-run pages.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium; its absence fails in CI and skips elsewhere, saying how to install it."""
    if CHROMIUM.is_file():
        return CHROMIUM
    message = f"the browser tests need Chromium at {CHROMIUM}; {CHROMIUM_INSTALL_HINT}"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def is_local_url(url: str, base_url: str) -> bool:
    """Whether a URL is served by the test's own local server (or is inline data): others are blocked."""
    return url.startswith(base_url) or urlsplit(url).scheme in {"data", "blob", "about"}


@pytest.fixture(scope="session")
def playwright(chromium: Path):
    """The one Playwright of the session: its sync API allows a single running instance per thread."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest):
    """One grading service on loopback (SQLite) for the whole session: ``service_fixture.Service``."""
    from service_fixture import shared_service

    return shared_service(tmp_path_factory, request)


@pytest.fixture(scope="session")
def kinds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[bytes, float]]:
    """Chapter 2 notebooks of each quality the service tests submit: kind -> (bytes, expected score)."""
    from service_fixture import notebooks
    from test_grade import generated_course

    return notebooks(generated_course(tmp_path_factory))


def scheduler_address(scheduler_file: Path, log: Path, timeout: float = 60) -> str:
    """The address a ``dask scheduler`` wrote to its ``--scheduler-file``, once the file is whole (the
    scheduler creates it, then writes it)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return json.loads(scheduler_file.read_text())["address"]
        except (OSError, ValueError, KeyError):
            assert time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
            time.sleep(0.2)
