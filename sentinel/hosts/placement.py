"""Which worker host runs which agent: a pure function of the roster and the hosts alive.

An agent's home is ``alive[index % len(alive)]``, ``index`` being its place in the roster
and ``alive`` the hosts still running, in order. So the same roster on the same hosts is
placed the same way in every run, and when a host is lost only its own agents move (each
to the host the same rule picks among the survivors); nobody else's sandbox is disturbed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sentinel.errors import HostError


@dataclass
class Placement:
    """Agents to hosts (1-based host numbers).

    Args:
        agent_ids: The roster, in order (the world's agent ids).
        hosts: How many worker hosts the run started with.
    """

    agent_ids: Sequence[str]
    hosts: int
    alive: list[int] = field(init=False)
    home: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        if self.hosts < 1:
            raise HostError(f"a run needs at least one worker host, not {self.hosts}")
        self.alive = list(range(1, self.hosts + 1))
        self._index = {agent_id: index for index, agent_id in enumerate(self.agent_ids)}
        self.home = {agent_id: self._pick(agent_id) for agent_id in self.agent_ids}

    def _pick(self, agent_id: str) -> int:
        return self.alive[self._index[agent_id] % len(self.alive)]

    def agents_on(self, host: int) -> list[str]:
        """The agents placed on ``host``, in roster order."""
        return [agent_id for agent_id in self.agent_ids if self.home[agent_id] == host]

    def lose(self, host: int) -> dict[str, int]:
        """``host`` is gone: re-place its agents on the survivors; who moved where.

        Raises:
            HostError: It was the last host.
        """
        if host not in self.alive:
            return {}
        self.alive.remove(host)
        if not self.alive:
            raise HostError(f"every worker host was lost (the last, host {host}, just now)")
        moved = {agent_id: self._pick(agent_id) for agent_id in self.agents_on(host)}
        self.home.update(moved)
        return moved
