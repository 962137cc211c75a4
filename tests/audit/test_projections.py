from __future__ import annotations

import pytest

from sentinel.audit import AGENT_ACTIVITY, AGENT_COSTS, AuditStore, NewEvent, ProjectionRunner
from sentinel.audit.event_types import ModelCall
from sentinel.errors import AuditError
from tests.audit.conftest import fill


def _calls(store: AuditStore, count: int, offset: int = 0) -> None:
    store.append_batch(
        [
            NewEvent.of(
                ModelCall(
                    agent_id=f"A-{i % 4}",
                    request_id=f"r{i + offset}",
                    provider="offline",
                    model="offline",
                    prompt_tokens=100 + i,
                    completion_tokens=20,
                    cost_usd=0.001 * (i % 3),
                    synthesized=i % 2 == 0,
                ),
                stream="gateway",
            )
            for i in range(count)
        ]
    )


def test_incremental_equals_rebuild(store: AuditStore) -> None:
    runner = ProjectionRunner(store, AGENT_COSTS)
    for round_ in range(5):
        _calls(store, 17, offset=round_ * 17)
        fill(store, 4)
        runner.update()
    incremental = runner.state
    assert (
        ProjectionRunner(store, AGENT_COSTS).state == incremental
    )  # resumed from the saved offset
    assert runner.rebuild() == incremental
    assert incremental["A-1"]["calls"] == sum(1 for i in range(17) if i % 4 == 1) * 5
    assert runner.offset == len(store)


def test_activity_counts_by_agent_and_type(store: AuditStore) -> None:
    fill(store, 9)
    _calls(store, 4)
    state = ProjectionRunner(store, AGENT_ACTIVITY).update()
    assert state["A-0"]["by_type"] == {"test.step": 3, "gateway.model_call": 1}
    assert state["A-2"]["last_tick"] == 8


def test_offsets_only_move_forward(store: AuditStore) -> None:
    fill(store, 5)
    ProjectionRunner(store, AGENT_ACTIVITY).update()
    with pytest.raises(AuditError, match="behind the saved 5"):
        store.save_projection_checkpoint("agent_activity", 2, "{}")
