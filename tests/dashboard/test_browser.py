"""The dashboard in a real Chromium: live views during a run, operator actions, latency,
time travel over the finished run, and the browser's own chain check on a tampered store.

One short run (0.1 simulated hours, the 60-persona roster, a red team) is watched live with
operator actions; the finished store is then browsed, then copied and tampered with. The
control planes' decisions and the judge's verdicts (at the run's end) of that run are shown
live and in time travel; a second store, where the judge's drift verdict made the API plane
roll back a route (tests/control/drifting_run.py), shows the rollback and the verdicts.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import statistics
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page

from sentinel.agents import run
from sentinel.agents.options import RunOptions
from sentinel.agents.runtime import RunSummary
from sentinel.audit import AuditStore
from sentinel.dashboard import BackgroundServer, create_app
from sentinel.dashboard.live import LiveDashboard, start_live
from tests.control.drifting_run import DriftingRun, drifting_run, two_route_gateway

CONFIG = Path(__file__).resolve().parents[2] / "config"
TOKEN = "operator-token-for-the-test-0123456789"  # noqa: S105 - a test's token
HOURS = 0.1
"""360 ticks: ~35 s of wall time here, long enough to watch and to pause."""
AGENTS = 140
"""The roster grown to 140 personas (Gaia's rules): 60 or more of them on duty at once, the
load the issue's latency goal names."""
LATENCY_P50_MS = 100.0
"""Issue 18: event to screen at most 100 ms at the median."""
WAIT_MS = 30_000


@dataclass
class LiveRun:
    dashboard: LiveDashboard
    store: Path
    stop: threading.Event = field(default_factory=threading.Event)
    result: dict[str, RunSummary] = field(default_factory=dict)
    thread: threading.Thread | None = None

    def start(self) -> None:
        options = RunOptions(
            config=CONFIG,
            agents=AGENTS,
            hours=HOURS,
            store=self.store,
            seed=7,
            compromised=0.1,
            staggered=False,  # the load at once: 60 and more on duty from the first tick
        )

        def body() -> None:
            self.result["summary"] = run(
                options, stop=self.stop, on_tick=self.dashboard.operator.on_tick
            )

        self.thread = threading.Thread(target=body, daemon=True)
        self.thread.start()

    def finish(self) -> RunSummary:
        assert self.thread is not None
        self.thread.join(timeout=120)
        assert not self.thread.is_alive(), "the run did not finish"
        return self.result["summary"]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveRun]:
    store = tmp_path_factory.mktemp("dashboard") / "live.db"
    dashboard = start_live(store, CONFIG, port=0, token=TOKEN)
    handle = LiveRun(dashboard, store)
    yield handle
    handle.stop.set()
    if handle.thread is not None:
        handle.thread.join(timeout=120)
    dashboard.stop()


@pytest.fixture(scope="module")
def finished(live: LiveRun) -> Path:
    """The live run's store once it has finished."""
    if live.thread is None:
        live.start()
    assert live.finish().chain_verified
    return live.store


@pytest.fixture
def served(finished: Path) -> Iterator[str]:
    server = BackgroundServer(create_app(finished, config=CONFIG), port=0)
    server.start()
    yield server.url
    server.stop()


def _count(page: Page) -> int:
    return int(page.inner_text("#count").split()[0])


def _quiet_while_paused(page: Page) -> int:
    """No event of the run for a second; the events shown when paused.

    The kernel probes' recorder flushes what the kernel saw (sandboxes exiting after the last
    tick) from its own thread: only the run's own events must stop.
    """
    script = "window.sentinelDashboard.events.filter(e => e.stream !== 'probes').length"
    paused_at = _count(page)
    before = page.evaluate(script)
    page.wait_for_timeout(1000)
    assert page.evaluate(script) == before, "events were written while the run was paused"
    return paused_at


def _operator(page: Page, action: str, token: str) -> str:
    page.fill("#token", token)
    page.click(f"button[data-action={action}]")
    page.wait_for_function(
        f"document.getElementById('operator-result').textContent.startsWith('{action}: ')"
    )
    return page.inner_text("#operator-result")


def _verdicts_arrived(page: Page, summary: RunSummary) -> None:
    """The judge ran over the run's last window when it ended: its verdicts arrive live."""
    judged = summary.control["judge"]["verdicts"]
    assert judged > 0
    page.wait_for_function(
        "document.querySelectorAll('#judge-body tr[data-agent]').length > 0", timeout=WAIT_MS
    )
    assert f"{judged} verdicts" in page.inner_text("[data-testid=judge-counts]")


def test_every_view_updates_live_and_operator_actions_are_recorded(
    live: LiveRun, page: Page, artefacts: Path
) -> None:
    page.goto(live.dashboard.url)  # before the run exists: the page waits for its store
    page.wait_for_function("document.getElementById('mode').textContent === 'live'")
    assert page.is_visible("#operator-on")
    live.start()
    page.wait_for_function(
        "document.querySelectorAll('.agent').length > 10"
        " && document.getElementById('chain').classList.contains('ok')",
        timeout=WAIT_MS,
    )
    first_count = _count(page)
    first_minute = page.inner_text("#clock").split(" ")[0]
    page.wait_for_function(  # a later snapshot moved the clock; the gateway has rules
        f"!document.getElementById('clock').textContent.startsWith({json.dumps(first_minute)})"
        f" && Number(document.getElementById('count').textContent.split(' ')[0]) > {first_count}"
        " && document.querySelectorAll('#gateway-body tr[data-rule]').length > 0"
        " && document.querySelectorAll('#control-body .plane').length === 3",
        timeout=WAIT_MS,
    )
    assert page.locator("#timeline-rows tr[data-link=ok]").count() > 0
    metrics = page.locator("[data-metrics]").all_inner_texts()
    assert len(metrics) >= 20 and all("ppm" in m for m in metrics if m)
    assert page.locator("svg[data-floor='1'] .room").count() >= 10
    page.locator(".agent").first.click()
    page.wait_for_selector("[data-testid=inspector-fields]")
    assert "persona" in page.inner_text("#inspector-body")
    page.screenshot(path=artefacts / "live.png", full_page=True)

    # A wrong token is refused and recorded; the right one pauses the run.
    assert _operator(page, "pause", "wrong-token-wrong-token") == (
        "pause: refused (no or wrong operator token)"
    )
    assert _operator(page, "pause", TOKEN) == "pause: accepted"
    page.wait_for_function("document.getElementById('mode').textContent === 'live · paused'")
    paused_at = _quiet_while_paused(page)
    target = page.eval_on_selector("#quarantine-agent", "e => e.value")
    assert _operator(page, "quarantine", TOKEN) == "quarantine: accepted"
    page.select_option("#chaos-kind", "fire_drill")
    assert _operator(page, "chaos", TOKEN) == "chaos: accepted"
    page.select_option("#chaos-kind", "phone_ring")
    page.select_option("#chaos-room", "g-kitchen")
    assert _operator(page, "chaos", TOKEN) == "chaos: accepted"
    assert _operator(page, "resume", TOKEN) == "resume: accepted"
    page.wait_for_function(
        f"Number(document.getElementById('count').textContent.split(' ')[0]) > {paused_at + 5}"
    )
    page.select_option("#agent-pick", target)
    page.wait_for_function(
        "document.getElementById('inspector-body').textContent.includes('QUARANTINED')"
    )
    assert page.locator("#operator-log li").count() == 6
    page.screenshot(path=artefacts / "operator.png", full_page=True)

    summary = live.finish()
    assert summary.chain_verified
    page.wait_for_function(
        f"document.getElementById('chain').textContent === 'chain: {summary.events} links verified'",
        timeout=WAIT_MS,
    )
    _verdicts_arrived(page, summary)
    latencies: list[float] = page.evaluate("window.sentinelLatencies")
    arrivals: list[float] = page.evaluate("window.sentinelArrivals")
    report = {
        "arrival_p50_ms": statistics.median(arrivals),
        "events": len(latencies),
        "p50_ms": statistics.median(latencies),
        "p90_ms": statistics.quantiles(latencies, n=10)[-1],
        "max_ms": max(latencies),
        "agents_in_roster": AGENTS,
        "peak_on_duty": summary.peak_on_duty,
    }
    assert summary.peak_on_duty >= 60, report
    (artefacts / "latency.json").write_text(json.dumps(report, indent=2) + "\n")
    assert report["p50_ms"] <= LATENCY_P50_MS, report

    # The actions are events of the trail, the token never is.
    with AuditStore(live.store, create=False) as store:
        actions = [e.payload for e in store.read(type="operator.action")]
    assert [(a["action"], a["decision"]) for a in actions] == [
        ("pause", "refused"),
        ("pause", "accepted"),
        ("quarantine", "accepted"),
        ("chaos", "accepted"),
        ("chaos", "accepted"),
        ("resume", "accepted"),
    ]
    assert actions[2]["target"] == target
    assert TOKEN not in live.store.read_bytes().decode("latin-1")
    assert target in live.dashboard.operator.quarantined


def test_a_finished_store_is_browsed_verified_and_travelled(
    served: str, finished: Path, page: Page, artefacts: Path
) -> None:
    with AuditStore(finished, create=False) as store:
        total = len(store)
    page.goto(served)
    page.wait_for_function(
        f"document.getElementById('chain').textContent === 'chain: {total} links verified'",
        timeout=WAIT_MS,
    )
    assert page.is_visible("#operator-off")  # read-only: no run attached
    refused = httpx.post(f"{served}api/operator", json={"action": "pause"}, timeout=10)
    assert refused.status_code == 409
    with AuditStore(finished, create=False) as store:
        decisions = [e.payload["plane"] for e in store.read(type="control.decision")]
        verdicts = [e.payload for e in store.read(type="judge.verdict")]
    planes = page.locator("#control-body .plane")
    assert sorted(planes.evaluate_all("els => els.map(e => e.dataset.plane)")) == sorted(
        set(decisions)
    )
    for plane in set(decisions):
        counts = page.inner_text(
            f"#control-body .plane[data-plane={plane}] [data-testid=plane-counts]"
        )
        assert counts.startswith(f"{decisions.count(plane)} decisions · ")
    rows = page.locator("#judge-body tr[data-agent]")
    latest = {(v["agent_id"], v["evaluation"]): v["status"] for v in verdicts}
    assert rows.count() == min(len(latest), 60)
    shown = rows.evaluate_all(
        "els => els.map(e => [e.dataset.agent, e.dataset.evaluation, e.dataset.status])"
    )
    assert all(latest[(agent, evaluation)] == status for agent, evaluation, status in shown)
    page.select_option("#agent-pick", shown[0][0])  # the run is over: nobody on the floor
    page.wait_for_selector("[data-testid=inspector-verdicts] b")

    # Time travel: halfway through, agents are on duty and the clock is earlier.
    end_clock = page.inner_text("#clock")
    page.eval_on_selector(
        "#scrubber",
        f"s => {{ s.value = {total // 2}; s.dispatchEvent(new Event('input')); }}",
    )
    page.wait_for_function("document.getElementById('mode').textContent === 'time travel'")
    assert page.inner_text("#clock") != end_clock
    assert f"at event #{total // 2} of {total}" in page.inner_text("#travel-label")
    assert page.locator(".agent").count() > 10
    assert page.inner_text("#judge-body") == "No verdicts yet."  # the judge ran at the end
    halfway = page.inner_text("#control-body .plane[data-plane=agent] [data-testid=plane-counts]")
    assert int(halfway.split()[0]) < decisions.count("agent")
    top = int(page.inner_text("#timeline-rows tr >> nth=0 >> td >> nth=0"))
    assert top == total // 2  # the timeline ends where the scrubber is
    page.locator(".agent").first.click()
    page.wait_for_selector("[data-testid=inspector-fields]")
    page.select_option("#filter-type", "runtime.decision")
    page.wait_for_function(
        "[...document.querySelectorAll('#timeline-rows tr td:nth-child(3)')]"
        ".every(td => td.textContent === 'runtime.decision')"
    )
    types = page.locator("#timeline-rows tr td:nth-child(3)").all_inner_texts()
    assert types and set(types) == {"runtime.decision"}
    page.screenshot(path=artefacts / "time-travel.png", full_page=True)
    page.click("#live")
    page.wait_for_function(
        f"document.getElementById('clock').textContent === {json.dumps(end_clock)}"
    )


def _tamper(source: Path, target: Path, position: int, *, rehash: bool) -> None:
    """Change one stored event's bytes (and, with ``rehash``, its hash to match them)."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    with sqlite3.connect(target) as db:
        db.execute("DROP TRIGGER events_no_update")
        canonical, prev = db.execute(
            "SELECT canonical, prev_hash FROM events WHERE position = ?", (position,)
        ).fetchone()
        changed = bytes(canonical).replace(b'"node":"', b'"node":"X', 1)
        assert changed != canonical
        db.execute("UPDATE events SET canonical = ? WHERE position = ?", (changed, position))
        if rehash:
            digest = hashlib.sha256(bytes(prev) + changed).digest()
            db.execute("UPDATE events SET hash = ? WHERE position = ?", (digest, position))


@pytest.mark.parametrize("rehash", [False, True], ids=["bytes-changed", "bytes-and-hash-changed"])
def test_the_browser_hash_check_turns_red_on_a_tampered_store(
    finished: Path, page: Page, artefacts: Path, tmp_path: Path, rehash: bool
) -> None:
    with AuditStore(finished, create=False) as store:
        total = len(store)
    position = total - 20
    tampered = tmp_path / "tampered.db"
    _tamper(finished, tampered, position, rehash=rehash)
    broken = position + 1 if rehash else position  # a re-hashed event breaks the next link
    server = BackgroundServer(create_app(tampered, config=CONFIG), port=0)
    server.start()
    try:
        page.goto(server.url)
        page.wait_for_function(
            "document.getElementById('chain').classList.contains('bad')", timeout=WAIT_MS
        )
        assert page.inner_text("#chain").startswith(f"chain: BROKEN at #{broken} ")
        row = page.locator(f"#timeline-rows tr[data-position='{broken}']")
        assert row.get_attribute("data-link") == "bad"
        assert page.locator("#timeline-rows tr[data-link=bad]").count() == 1
        if not rehash:
            page.screenshot(path=artefacts / "tampered.png", full_page=True)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def rolled_back(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, DriftingRun]]:
    """A store where a failed drift verdict made the API plane roll back its route."""
    folder = tmp_path_factory.mktemp("rollback")
    gateway = two_route_gateway(folder / "ledger.db")
    try:
        ran = drifting_run(folder / "run.db", gateway)
    finally:
        gateway.close()
    yield folder / "run.db", ran


def test_a_route_rollback_and_the_verdict_behind_it_are_shown(
    rolled_back: tuple[Path, DriftingRun], page: Page, artefacts: Path
) -> None:
    store, ran = rolled_back
    with AuditStore(store, create=False) as opened:
        total = len(opened)
        acted = next(
            e.position
            for e in opened.read(type="control.decision")
            if e.payload["plane"] == "api" and e.payload["actions"]
        )
    server = BackgroundServer(create_app(store, config=CONFIG), port=0)
    server.start()
    try:
        page.goto(server.url)
        page.wait_for_function(
            f"document.getElementById('chain').textContent === 'chain: {total} links verified'",
            timeout=WAIT_MS,
        )
        api = page.locator("#control-body .plane[data-plane=api]")
        assert "1 acted" in api.inner_text() and "1 ok / 0 failed" in api.inner_text()
        rows = api.locator("tbody tr").all_inner_texts()
        assert any("rollback_route route offline: applied" in r for r in rows), rows
        assert any("Successful api.verdict_rollback route offline" in r for r in rows), rows
        drift = page.locator(f"#judge-body tr[data-agent='{ran.drifted}'][data-evaluation=drift]")
        assert drift.get_attribute("data-status") == "passed"  # the second window, offline-2
        assert "offline-2" in drift.inner_text()

        # Back to the decision that acted: the failed verdict that caused it, on top.
        page.eval_on_selector(
            "#scrubber", f"s => {{ s.value = {acted}; s.dispatchEvent(new Event('input')); }}"
        )
        page.wait_for_function("document.getElementById('mode').textContent === 'time travel'")
        first = page.locator("#judge-body tr[data-agent]").first
        assert first.get_attribute("data-agent") == ran.drifted
        assert first.get_attribute("data-status") == "failed"
        assert first.get_attribute("class") == "alert"
        assert "offline" in first.inner_text()
        rows = api.locator("tbody tr").all_inner_texts()
        assert any("rollback_route route offline: applied" in r for r in rows), rows
        assert "0 ok / 0 failed" in api.inner_text()  # verified an hour later
        page.screenshot(path=artefacts / "control-judge.png", full_page=True)
    finally:
        server.stop()
