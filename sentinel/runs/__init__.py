"""Recorded runs as data: frames of agents, rooms, decisions and tool calls over time."""

from sentinel.runs.run import Run, RunRecordSummary

__all__ = ["Run", "RunRecordSummary"]
