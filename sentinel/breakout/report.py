"""The suite's report: host facts, per-scenario results, the layer matrix.

Three renderings of one :class:`SuiteReport`: JSON (the committed
``docs/security-test-report.json`` has this schema), Markdown for people, and JUnit XML
for CI systems (one test case per scenario; an escape is a failure, an error an error).
"""

from __future__ import annotations

import json
import os
import platform
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import sentinel
from sentinel.breakout.runner import ScenarioReport
from sentinel.sandbox.capabilities import HostCapabilities

EXIT_INCONCLUSIVE: Final = 3
"""Exit status when nothing escaped but some verdicts are inconclusive (1: an escape, an
error, a control that ran and did not escape, or a wrong layer claim; 0: every verdict
blocked, each with a negative control that escaped)."""
VERDICTS: Final = ("blocked", "inconclusive", "escaped", "error")


def host_facts(caps: HostCapabilities, layers: list[str]) -> dict[str, Any]:
    """What the report's reader needs to know about the host the suite ran on."""
    return {
        "kernel": platform.release(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "landlock_abi": caps.landlock.abi,
        "bwrap_version": caps.bwrap.version,
        "cgroup_layout": caps.cgroups.layout,
        "cgroup_controllers": {
            name: controller.hierarchy
            for name, controller in sorted(caps.cgroups.controllers.items())
        },
        "seccomp_actions": caps.seccomp.actions_available,
        "nft_version": caps.network.nft_version,
        "layers_in_force": layers,
        "python": platform.python_version(),
        "sentinel_version": sentinel.__version__,
    }


@dataclass
class SuiteReport:
    """One run of the suite."""

    host: dict[str, Any]
    scenarios: list[ScenarioReport]
    started: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    duration_s: float = 0.0
    matrix: bool = False
    egress_check: str = ""
    """Evidence that the allow-listed gateway was reachable (network results mean something)."""
    marker: str = ""
    """The run's decoy token: every decoy, planted file and listener greeting carries it."""
    arena: str = ""
    """The run's scratch directory (workspaces, decoys), removed at the end."""

    @property
    def escaped(self) -> list[ScenarioReport]:
        """Scenarios that got out of the full sandbox."""
        return [r for r in self.scenarios if r.verdict == "escaped"]

    @property
    def errors(self) -> list[ScenarioReport]:
        """Scenarios whose attacker failed in an unexpected way."""
        return [r for r in self.scenarios if r.verdict == "error"]

    @property
    def inconclusive(self) -> list[ScenarioReport]:
        """Scenarios that proved nothing on this host (never counted as blocked)."""
        return [r for r in self.scenarios if r.verdict == "inconclusive"]

    @property
    def failed_controls(self) -> list[ScenarioReport]:
        """Negative controls that ran and did not escape."""
        return [r for r in self.scenarios if r.control_failed]

    @property
    def wrong_claims(self) -> list[ScenarioReport]:
        """Scenarios whose matrix found a load-bearing layer they do not claim."""
        return [r for r in self.scenarios if r.unexpected_layers]

    @property
    def failed(self) -> bool:
        """An escape, an error, a control that ran and did not escape, or a wrong claim."""
        return bool(self.escaped or self.errors or self.failed_controls or self.wrong_claims)

    @property
    def ok(self) -> bool:
        """Every verdict blocked (each earned by an escaping control), every claim held."""
        return not self.failed and not self.inconclusive

    @property
    def exit_code(self) -> int:
        """0 when :attr:`ok`, 1 when :attr:`failed`, else :data:`EXIT_INCONCLUSIVE`."""
        if self.failed:
            return 1
        return EXIT_INCONCLUSIVE if self.inconclusive else 0

    def to_json(self) -> dict[str, Any]:
        """The committed JSON schema."""
        return {
            "host": self.host,
            "started": self.started,
            "duration_s": round(self.duration_s, 1),
            "egress_check": self.egress_check,
            "marker": self.marker,
            "summary": self.summary(),
            "scenarios": [_scenario_json(r, matrix=self.matrix) for r in self.scenarios],
        }

    def summary(self) -> dict[str, int]:
        """Counts by verdict, by evidence source, and of the negative controls."""
        counts = {"scenarios": len(self.scenarios)} | dict.fromkeys(VERDICTS, 0)
        for report in self.scenarios:
            counts[report.verdict] += 1
        counts["host_evidence"] = sum(1 for r in self.scenarios if r.evidence_source == "host")
        counts["self_reported"] = len(self.scenarios) - counts["host_evidence"]
        counts["controls_escaped"] = sum(
            1 for r in self.scenarios if r.control.outcome and r.control.outcome.result == "escaped"
        )
        counts["controls_failed"] = len(self.failed_controls)
        counts["controls_skipped"] = sum(1 for r in self.scenarios if r.control.skipped_because)
        return counts


def _scenario_json(report: ScenarioReport, *, matrix: bool) -> dict[str, Any]:
    scenario = report.scenario
    control = report.control
    data: dict[str, Any] = {
        "id": scenario.id,
        "family": scenario.family.value,
        "attempt": scenario.attempt,
        "expected_layers": list(scenario.expected_layers),
        "verdict": report.verdict,
        "verdict_reason": report.verdict_reason,
        "result": report.outcome.result,
        "evidence": report.outcome.evidence,
        "evidence_source": report.evidence_source,
        "negative_control": (
            {"skipped_because": control.skipped_because}
            if control.outcome is None
            else {
                "runs_as": control.runs_as(scenario.control),
                "result": control.outcome.result,
                "evidence": control.outcome.evidence,
            }
        ),
    }
    if matrix:
        data["matrix"] = {
            "layer_off": {
                layer: {"result": o.result, "evidence": o.evidence}
                for layer, o in report.matrix.items()
            },
            "layer_alone": {
                layer: {"result": o.result, "evidence": o.evidence}
                for layer, o in report.alone.items()
            },
        }
        data["load_bearing_layers"] = report.load_bearing
        data["sufficient_layers"] = report.sufficient
    return data


def write_json(report: SuiteReport, path: Path) -> None:
    """The JSON report."""
    path.write_text(json.dumps(report.to_json(), indent=2, sort_keys=False) + "\n")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(report: SuiteReport) -> str:
    """The Markdown report (``docs/security-test-report.md`` is one)."""
    summary = report.summary()
    host = report.host
    lines = [
        "# Sentinel breakout suite: security test report",
        "",
        "Generated by `sentinel-run breakout"
        + (" --matrix" if report.matrix else "")
        + " --report DIR`; do not edit by hand.",
        "",
        f"- run started {report.started}, {report.duration_s:.0f} s",
        f"- **{summary['scenarios']} scenarios: {summary['blocked']} blocked, "
        f"{summary['inconclusive']} inconclusive, {summary['escaped']} escaped, "
        f"{summary['error']} errors**",
        "- blocked means earned: the attempt failed in the sandbox *and* its negative control "
        "escaped without it on this host; inconclusive: the attempt failed but the control "
        "could not run here or did not escape (nothing is proven either way)",
        f"- evidence: {summary['host_evidence']} results observed by the host (files, "
        f"listeners, the runner's accounting, targets checked outside), "
        f"{summary['self_reported']} self-reported by the attacker program",
        f"- negative controls: {summary['controls_escaped']} escaped without the sandbox (as they "
        f"must), {summary['controls_failed']} did not, {summary['controls_skipped']} not runnable "
        "(reason per scenario below)",
        f"- egress allow-list check: {report.egress_check}",
        "",
        "## Host",
        "",
        "| fact | value |",
        "|---|---|",
        *(f"| {key} | {_cell(json.dumps(value))} |" for key, value in host.items()),
        "",
        "Layer names: `bwrap`, `landlock`, `seccomp`, `cgroups`, `netns` are the switchable",
        "sandbox layers. Always on: `uid` (agent code runs as an unprivileged uid without",
        "capabilities), `workspace-fs` (the workspace, /tmp and /dev/shm on a size-limited",
        "nosuid, noexec file system of their own), `runner` (a clean environment, wall-clock",
        "and output limits, the policy's rlimits).",
        "",
    ]
    for family in dict.fromkeys(r.scenario.family for r in report.scenarios):
        rows = [r for r in report.scenarios if r.scenario.family is family]
        lines += [f"## {family.value}", ""]
        header = (
            "| scenario | attempt | expected layers | verdict | evidence | evidence from "
            "| negative control |"
        )
        rule = "|---|---|---|---|---|---|---|"
        if report.matrix:
            header += " load-bearing (off → escape) | sufficient (alone → blocked) |"
            rule += "---|---|"
        lines += [header, rule]
        for r in rows:
            ran = r.control.outcome
            control = (
                f"not run: {r.control.skipped_because}"
                if ran is None
                else f"{ran.result} (as {r.control.runs_as(r.scenario.control)}): {ran.evidence}"
            )
            evidence = r.outcome.evidence
            if r.verdict == "inconclusive" or r.outcome.result != r.verdict:
                evidence = f"{r.outcome.result}: {evidence} ({r.verdict_reason})"
            row = (
                f"| `{r.scenario.id}` | {_cell(r.scenario.attempt)} | "
                f"{', '.join(r.scenario.expected_layers)} | **{r.verdict}** | "
                f"{_cell(evidence)} | evidence: {r.evidence_source} | {_cell(control)} |"
            )
            if report.matrix:
                row += f" {', '.join(r.load_bearing) or '-'} | {', '.join(r.sufficient) or '-'} |"
            lines.append(row)
        lines.append("")
    if report.matrix:
        lines += _matrix_table(report)
    return "\n".join(lines) + "\n"


def _matrix_table(report: SuiteReport) -> list[str]:
    off = list(report.scenarios[0].matrix) if report.scenarios else []
    alone = list(report.scenarios[0].alone) if report.scenarios else []
    header = [f"off: {x}" for x in off] + [f"alone: {x}" for x in alone]
    lines = [
        "## Layer matrix",
        "",
        "Left: the attempt with that one layer switched **off** (everything else on); an",
        "escape there makes the layer *load-bearing*. Right: the attempt with **only** that",
        "layer on (`none`: no layer at all); blocked there makes the layer *sufficient*.",
        "The unprivileged uid is in force in every cell. More than one sufficient layer",
        "is defence in depth.",
        "",
        "| scenario | " + " | ".join(header) + " |",
        "|---|" + "---|" * len(header),
    ]
    for r in report.scenarios:
        cells = [r.matrix[x].result if x in r.matrix else "" for x in off]
        cells += [r.alone[x].result if x in r.alone else "" for x in alone]
        marked = [f"**{c}**" if c == "escaped" else c for c in cells]
        lines.append(f"| `{r.scenario.id}` | " + " | ".join(marked) + " |")
    totals = [
        f"{sum(1 for r in report.scenarios if x in r.load_bearing)} load-bearing" for x in off
    ]
    totals += [f"{sum(1 for r in report.scenarios if x in r.sufficient)} sufficient" for x in alone]
    lines += ["| scenarios | " + " | ".join(totals) + " |", ""]
    return lines


def write_markdown(report: SuiteReport, path: Path) -> None:
    """The Markdown report."""
    path.write_text(render_markdown(report))


def write_junit(report: SuiteReport, path: Path) -> None:
    """JUnit XML: one test case per scenario, grouped by family."""
    summary = report.summary()
    suites = ET.Element(
        "testsuites", name="sentinel-breakout", tests=str(summary["scenarios"]),
        failures=str(summary["escaped"] + summary["controls_failed"]), errors=str(summary["error"]),
        time=f"{report.duration_s:.1f}",
    )  # fmt: skip
    for family in dict.fromkeys(r.scenario.family for r in report.scenarios):
        rows = [r for r in report.scenarios if r.scenario.family is family]
        suite = ET.SubElement(suites, "testsuite", name=family.value, tests=str(len(rows)))
        for r in rows:
            case = ET.SubElement(
                suite, "testcase", classname=f"breakout.{family.value}", name=r.scenario.id,
                time=f"{r.duration_s:.3f}",
            )  # fmt: skip
            if r.verdict == "escaped":
                ET.SubElement(case, "failure", message="escaped").text = r.outcome.evidence
            elif r.verdict == "error":
                ET.SubElement(case, "error", message="attacker error").text = r.outcome.evidence
            elif r.control_failed:
                assert r.control.outcome is not None  # noqa: S101 - control_failed implies it
                ET.SubElement(
                    case, "failure", message="negative control did not escape"
                ).text = r.control.outcome.evidence
            elif r.verdict == "inconclusive":
                ET.SubElement(case, "skipped", message="inconclusive").text = r.verdict_reason
            ET.SubElement(case, "system-out").text = (
                f"{r.scenario.attempt}\nexpected layers: {', '.join(r.scenario.expected_layers)}\n"
                f"verdict: {r.verdict}\nevidence ({r.evidence_source}): {r.outcome.evidence}"
            )
    ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)


def write_all(report: SuiteReport, directory: Path) -> dict[str, Path]:
    """Write ``report.json``, ``report.md`` and ``junit.xml`` into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": directory / "report.json",
        "markdown": directory / "report.md",
        "junit": directory / "junit.xml",
    }
    write_json(report, paths["json"])
    write_markdown(report, paths["markdown"])
    write_junit(report, paths["junit"])
    return paths
