"""Growing the roster: new colleagues drawn from the seed with Gaia's rules, never clones."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from sentinel.agents.options import RunOptions, company_for
from sentinel.config import DEFAULT_COMPANY, load_company
from sentinel.config.company import check_company
from sentinel.config.roster_growth import grow_roster
from sentinel.errors import InvalidInputError

ROSTER = load_company(DEFAULT_COMPANY)


def test_the_roster_stays_and_new_personas_continue_the_ids(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    grown = grow_roster(ROSTER.personas, 400, seed=42)
    assert len(grown) == 400
    assert [p.id for p in grown[:60]] == [p.id for p in ROSTER.personas]
    assert [p.id for p in grown[60:62]] == ["AGENT-61", "AGENT-62"]
    assert grown[-1].id == "AGENT-400"
    assert len({p.id for p in grown}) == 400
    for old, new in zip(ROSTER.personas, grown, strict=False):
        assert old.model_dump(exclude={"identity": {"direct_reports"}}) == new.model_dump(
            exclude={"identity": {"direct_reports"}}
        )
    # The grown company passes the cross-file checks (ids, rooms, reports both ways, no
    # cycles); not the staffing count, which the spec fixes and the grown roster exceeds.
    monkeypatch.setattr("sentinel.config.company._check_staffing", lambda *_: None)
    check_company(
        [(Path(f"agents/{p.id}.toml"), p) for p in grown],
        ROSTER.floor_plan,
        ROSTER.simulation,
        Path(),
    )


def test_growth_is_deterministic_by_seed_and_stable_when_growing_further() -> None:
    assert grow_roster(ROSTER.personas, 150, seed=7) == grow_roster(ROSTER.personas, 150, seed=7)
    other = grow_roster(ROSTER.personas, 150, seed=8)
    assert other[60:] != grow_roster(ROSTER.personas, 150, seed=7)[60:]
    small = grow_roster(ROSTER.personas, 150, seed=7)
    large = grow_roster(ROSTER.personas, 300, seed=7)
    strip = {"identity": {"direct_reports"}}
    assert [p.model_dump(exclude=strip) for p in small] == [
        p.model_dump(exclude=strip) for p in large[:150]
    ]


def test_new_personas_are_varied_people_not_clones() -> None:
    grown = grow_roster(ROSTER.personas, 1000, seed=42)[60:]
    assert len({p.identity.name for p in (*ROSTER.personas, *grown)}) == 1000
    assert len({p.background.bio for p in grown}) > 900
    assert len({p.personality.model_dump_json() for p in grown}) == len(grown)
    assert len({p.preferences.lunch_time for p in grown}) >= 6
    assert len({p.preferences.coffee for p in grown}) >= 5
    assert len({p.identity.role for p in grown}) >= 10
    engineers = Counter(p.identity.role for p in grown if p.identity.department == "Engineering")
    assert len(engineers) >= 3, engineers  # members' roles vary within a department
    # Departments and shift sets keep the roster's shape: always-on stays always-on.
    roster_keys = {(p.identity.department, p.identity.shift_set) for p in ROSTER.personas}
    assert {(p.identity.department, p.identity.shift_set) for p in grown} <= roster_keys
    shares = Counter(p.identity.shift_set for p in grown)
    assert set(shares) == {0, 1, 2, 3}
    assert all(abs(shares[s] / len(grown) - 17 / 60) < 0.06 for s in (1, 2, 3)), shares
    # Each reports to its department's lead of its shift set, who lists it.
    by_id = {p.id: p for p in grow_roster(ROSTER.personas, 1000, seed=42)}
    for persona in grown:
        lead = by_id[persona.identity.reports_to or ""]
        assert lead.identity.department == persona.identity.department
        assert persona.id in lead.identity.direct_reports
        tools = {p.capabilities.tools == persona.capabilities.tools for p in ROSTER.personas}
        assert True in tools  # a role's tools are the company's, copied from the roster


def test_a_run_beyond_the_roster_gets_the_grown_company() -> None:
    company = company_for(ROSTER, RunOptions(agents=120, seed=5))
    assert len(company.personas) == 120
    assert company.personas[:60] != ()
    assert company_for(ROSTER, RunOptions(agents=120, seed=5)) == company
    assert company_for(ROSTER, RunOptions(agents=20)).personas == ROSTER.personas[:20]


def test_more_agents_than_ids_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="exceeds 9999"):
        grow_roster(ROSTER.personas, 10_000, seed=1)
    with pytest.raises(InvalidInputError, match="empty roster"):
        grow_roster((), 3, seed=1)
