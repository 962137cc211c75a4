"""Playwright driving Debian's chromium (never a downloaded browser), and the artefacts directory."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM_NAMES = ("chromium", "chromium-browser")
"""Debian's package installs /usr/bin/chromium (noxfile.py DASHBOARD_DEBIAN_PACKAGES)."""
ARTEFACTS_ENV = "SENTINEL_ARTEFACTS_DIR"
"""Where screenshots and the latency report go (default: tmp/artefacts/dashboard in the repo)."""
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Debian chromium; missing, the tests fail (CI installs it), never skip."""
    executable = next((p for p in map(shutil.which, CHROMIUM_NAMES) if p), None)
    if executable is None:
        pytest.fail("chromium is not installed: apt-get install -y chromium (nox -s tests does)")
    # Chromium refuses its own sandbox as root without user namespaces set up for it; the
    # page is our own, served from loopback.
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=args)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page, 1400x1000, failing the test on any JavaScript error."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert not errors, f"JavaScript errors: {errors}"


@pytest.fixture(scope="session")
def artefacts() -> Path:
    """The directory screenshots are kept in after the run (documented in docs/architecture.md)."""
    path = Path(os.environ.get(ARTEFACTS_ENV) or REPO / "tmp" / "artefacts") / "dashboard"
    path.mkdir(parents=True, exist_ok=True)
    return path
