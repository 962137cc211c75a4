"""The Workspaces panel in a real Chromium: an agent's workspace followed through time
travel, files shown as text or hex, and names and contents a hostile agent planted shown
as text (no element of theirs is ever made)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page

from sentinel.dashboard import BackgroundServer, create_app
from tests.dashboard.workspace_store import (
    BINARY,
    HOSTILE_NAME,
    HOSTILE_TEXT,
    WorkspaceRun,
    workspace_run,
)

CONFIG = Path(__file__).resolve().parents[2] / "config"
WAIT_MS = 30_000


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, WorkspaceRun]]:
    recorded = workspace_run(tmp_path)
    server = BackgroundServer(create_app(recorded.store, config=CONFIG), port=0)
    server.start()
    try:
        yield server.url, recorded
    finally:
        server.stop()


def _scrub(page: Page, position: int) -> None:
    page.eval_on_selector(
        "#scrubber", f"s => {{ s.value = {position}; s.dispatchEvent(new Event('input')); }}"
    )


def _notes(page: Page, expected: str) -> None:
    page.wait_for_function(
        "(t) => { const b = document.querySelector('[data-testid=ws-file-body]');"
        " return b && b.textContent === t; }",
        arg=expected,
        timeout=WAIT_MS,
    )


def test_a_workspace_is_followed_through_time_and_shown_safely(
    served: tuple[str, WorkspaceRun], page: Page, artefacts: Path
) -> None:
    url, recorded = served
    page.goto(url)
    agents = page.locator("#ws-snapshots li")
    agents.first.wait_for(timeout=WAIT_MS)
    assert agents.evaluate_all("els => els.map(e => [e.dataset.agent, e.dataset.root])") == [
        ["AGENT-01", recorded.second],
        ["AGENT-02", recorded.other],
    ]
    assert page.inner_text("#ws-label").startswith("3 snapshots up to #")

    page.click("#ws-snapshots li[data-agent=AGENT-01] button")
    page.locator("#ws-tree li[data-path='notes.txt'] button").click()
    _notes(page, "version two\n")

    # Back to the moment of the first snapshot: the followed agent's tree and open file follow.
    _scrub(page, recorded.positions[0])
    _notes(page, "version one\n")
    assert page.get_attribute("#ws-tree", "data-root") == recorded.first
    assert page.inner_text("#ws-label").startswith("1 snapshots up to #")
    _scrub(page, recorded.positions[0] - 1)
    page.wait_for_function(
        "document.getElementById('ws-snapshots').textContent.startsWith('No workspace snapshot')"
    )
    page.click("#live")
    page.locator("#ws-snapshots li[data-agent=AGENT-01]").wait_for(timeout=WAIT_MS)
    _notes(page, "version two\n")

    # A hostile name and hostile contents are text on the page, never markup.
    hostile = page.locator("#ws-tree li").filter(has_text="onerror")
    assert hostile.get_attribute("data-path") == f"src/{HOSTILE_NAME}"
    hostile.locator("button").click()
    _notes(page, HOSTILE_TEXT)
    assert page.locator("#workspaces img, #workspaces script").count() == 0
    assert page.evaluate("window.sentinelPwned") is None
    # A name that is not UTF-8 is listed but cannot be asked for by path.
    latin = page.locator("#ws-tree li[data-path='src/caf\\\\xe9.txt']")
    assert latin.count() == 1 and latin.locator("button").count() == 0

    page.locator("#ws-tree li[data-path='src/blob.bin'] button").click()
    page.wait_for_selector("[data-testid=ws-file-body][data-binary=true]", timeout=WAIT_MS)
    assert "binary, shown as hex" in page.inner_text("[data-testid=ws-file-head]")
    assert page.inner_text("[data-testid=ws-file-body]").startswith(BINARY[:32].hex())
    page.screenshot(path=artefacts / "workspaces.png", full_page=True)
