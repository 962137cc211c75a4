"""Scale: one simulated hour of the office with more agents than the roster (not in CI).

Runs the main job as ``sentinel-run run --agents N --hours H`` does (offline provider,
the whole gateway pipeline, pooled warm sandboxes, the audit store appended per tick and
verified) and prints what it measured as JSON::

    .venv/bin/python benches/scale_run.py --agents 1000 --hours 1
    .venv/bin/python benches/scale_run.py --agents 1000 --hours 1 --hosts 4   # as root

``--hosts N`` runs it as ``sentinel-run run --hosts N`` does: the coordinator steps the
world here, N worker hosts (each a process in its own network namespace, with its own
gateway, sandboxes and audit chain) run the agents' decisions and tool work.
``agent_ticks_per_s`` is agents on duty (peak) times ticks over the wall time.

``agents_per_s`` is agent-seconds simulated per wall-clock second: the agents on duty
(peak) times the simulated seconds, over the wall time. ``decisions_per_s`` counts the
gateway's answers (synthesized, learned, forwarded, refused) per wall-clock second. It
takes minutes, so it lives here rather than in the pytest-benchmark suite (CI's budget).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from sentinel.agents import RunOptions, run
from sentinel.agents.sandbox_pool import DEFAULT_CAPACITY
from sentinel.hosts.run import run_hosts

CONFIG = Path(__file__).resolve().parents[1] / "config"


def main() -> None:
    """Run once and print the measurements."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--shift", default="morning")
    parser.add_argument("--sandboxes", type=int, default=DEFAULT_CAPACITY)
    parser.add_argument("--hosts", type=int, default=0, help="worker hosts (0: one process)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sentinel-scale-") as scratch:
        options = RunOptions(
            config=CONFIG,
            agents=args.agents,
            hours=args.hours,
            shift=args.shift,
            store=Path(scratch) / "scale.db",
            sandboxes=args.sandboxes,
        )
        started = time.perf_counter()
        summary = run_hosts(options, args.hosts) if args.hosts else run(options)
        wall = time.perf_counter() - started
    decisions = sum(summary.decisions.values())
    print(
        json.dumps(
            {
                "hosts": args.hosts,
                "agents": summary.agents,
                "peak_on_duty": summary.peak_on_duty,
                "simulated_hours": summary.simulated_hours,
                "wall_s": round(wall, 1),
                "agents_per_s": round(
                    summary.peak_on_duty * summary.simulated_hours * 3600 / wall, 1
                ),
                "ticks_per_s": round(summary.ticks / wall, 1),
                "agent_ticks_per_s": round(summary.peak_on_duty * summary.ticks / wall, 1),
                "events_per_s": round(summary.events / wall, 1),
                "decisions": decisions,
                "decisions_per_s": round(decisions / wall, 1),
                "tool_calls": summary.tool_calls,
                "tool_failures": summary.tool_failures,
                "work": summary.work,
                "sandboxes": summary.sandboxes,
                "events": summary.events,
                "chain_verified": summary.chain_verified,
                "ok": summary.ok,
                "hosts_lost": [h["host"] for h in summary.hosts if h["lost"]],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
