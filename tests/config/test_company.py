"""The shipped company loads, and bad files fail with file, field and reason."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest

from sentinel.config import load_company
from sentinel.config.rooms import RoomKind
from sentinel.errors import ConfigError

CONFIG = Path(__file__).resolve().parents[2] / "config"


@pytest.fixture
def company_dir(tmp_path: Path) -> Path:
    target = tmp_path / "company"
    shutil.copytree(CONFIG, target)
    return target


def test_shipped_company_matches_the_roster() -> None:
    company = load_company(CONFIG)
    assert len(company.personas) == 60
    shifts = Counter(p.identity.shift_set for p in company.personas)
    assert shifts == {0: 9, 1: 17, 2: 17, 3: 17}
    for shift_set in (1, 2, 3):
        roles = Counter(
            p.identity.role for p in company.personas if p.identity.shift_set == shift_set
        )
        assert roles["CEO"] == 1
        assert roles["Developer"] + roles["Lead Developer"] + roles["DevOps Engineer"] == 4
        assert roles["Designer"] + roles["Lead Designer"] == 3
    always = Counter(p.identity.department for p in company.personas if p.identity.shift_set == 0)
    assert always == {"Works Council": 3, "Occupational Psychology": 3, "Occupational Medicine": 3}
    plan = company.floor_plan
    assert 24 <= len(plan.rooms) <= 28
    assert {room.floor for room in plan.rooms} == {0, 1}
    kinds = Counter(room.kind for room in plan.rooms)
    assert kinds[RoomKind.KITCHEN] >= 1
    assert kinds[RoomKind.BATHROOM] >= 2
    # Every tool the synthesis rules use is in every persona's capabilities.
    assert company.personas
    for persona in company.personas:
        assert {"window", "headphones"} <= set(persona.capabilities.tools)


def test_routes_cross_the_stairwell() -> None:
    plan = load_company(CONFIG).floor_plan
    assert plan.route("g-kitchen", "u-council") == [
        "g-kitchen", "g-corridor", "stairwell", "u-corridor", "u-council",
    ]  # fmt: skip
    assert plan.route("g-kitchen", "g-kitchen") == ["g-kitchen"]


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize(
    ("file", "old", "new", "field", "reason"),
    [
        ("agents/AGENT-02.toml", "extraversion = ", "extraversion = 7", "personality.extraversion", "less than or equal to 1"),
        ("agents/AGENT-02.toml", "[identity]", "[identity]\ncolour = \"red\"", "identity.colour", "Extra inputs are not permitted"),
        ("agents/AGENT-02.toml", 'lunch_time = "', 'lunch_time = "25:00', "preferences.lunch_time", "not a time of day"),
        ("agents/AGENT-02.toml", 'reports_to = "AGENT-01"', 'reports_to = "AGENT-99"', "identity.reports_to", "unknown agent"),
        ("agents/AGENT-02.toml", 'favorite_room = "', 'favorite_room = "nowhere', "preferences.favorite_room", "unknown room"),
        ("agents/AGENT-02.toml", "shift_set = 1", "shift_set = 2", "staffing", "shift set 1 has 16"),
        ("rooms.toml", '["u-corridor", "stairwell"],', "", None, "not connected"),
        ("rooms.toml", '["g-corridor", "g-kitchen"],', '["g-corridor", "g-attic"],', "doors", "unknown room 'g-attic'"),
        ("simulation.toml", "time_scale = 1.0", "time_scale = 0.0", "time_scale", "greater than 0"),
        ("simulation.toml", "start_hour = 14", "start_hour = 12", None, "overlap"),
    ],
)  # fmt: skip
def test_bad_files_name_file_field_and_reason(
    company_dir: Path, file: str, old: str, new: str, field: str | None, reason: str
) -> None:
    _edit(company_dir / file, old, new)
    with pytest.raises(ConfigError) as caught:
        load_company(company_dir)
    message = str(caught.value)
    assert reason in message
    if field is not None:
        assert caught.value.field is not None
        assert caught.value.field.startswith(field)
    assert caught.value.path is not None
    assert caught.value.path.name in {Path(file).name, "simulation.toml"}


def test_missing_and_broken_files(company_dir: Path) -> None:
    (company_dir / "rooms.toml").unlink()
    with pytest.raises(ConfigError, match=r"rooms\.toml: file not found"):
        load_company(company_dir)
    shutil.copy(CONFIG / "rooms.toml", company_dir / "rooms.toml")
    (company_dir / "agents" / "AGENT-05.toml").write_text("[identity\n")
    with pytest.raises(ConfigError, match=r"AGENT-05\.toml: not valid TOML"):
        load_company(company_dir)


def test_file_name_must_be_the_id(company_dir: Path) -> None:
    agents = company_dir / "agents"
    (agents / "AGENT-05.toml").rename(agents / "someone.toml")
    with pytest.raises(ConfigError, match="file name must be the agent id"):
        load_company(company_dir)


def test_direct_reports_must_agree(company_dir: Path) -> None:
    _edit(
        company_dir / "agents" / "AGENT-01.toml",
        'direct_reports = ["AGENT-02", ',
        "direct_reports = [",
    )
    with pytest.raises(ConfigError, match="direct_reports do not list AGENT-02"):
        load_company(company_dir)
