"""The platform plane's sandbox layer over one real sandbox (shared by the plane's tests)."""

from __future__ import annotations

from sentinel.sandbox.warm import Sandbox


class OneSandbox:
    """The sandbox layer of one real sandbox: never failed, always warm."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def agents(self) -> list[str]:
        return [self.sandbox.agent_id]

    def pid(self, agent_id: str) -> int | None:
        return self.sandbox.pid()

    def failed(self, agent_id: str) -> bool:
        return False

    def warm(self, agent_id: str) -> bool:
        return True
