"""The few detected host facts a launch reads, as plain frozen records.

A launch needs the verdict of each layer it applies, where bubblewrap is and which of its
hardening options exist, the Landlock ABI, and where each cgroup controller lives. They
come from :class:`~sentinel.sandbox.capabilities.HostCapabilities` (pydantic models, with
twenty more facts) through :func:`launch_facts`; the launch cache
(:mod:`sentinel.sandbox.launch_cache`) stores them, so a cached launch imports neither
pydantic nor the detectors.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from sentinel.frozen_record import FrozenRecord, record_dict

if TYPE_CHECKING:
    from sentinel.sandbox.capabilities import HostCapabilities

UNAVAILABLE = "unavailable"
""":attr:`sentinel.sandbox.capabilities.Verdict.UNAVAILABLE`'s value (a ``StrEnum``)."""


class LayerVerdict(FrozenRecord):
    """One layer's verdict with the reason and the fix (see ``LayerReport``)."""

    verdict: str
    reason: str
    fix: str

    @property
    def unavailable(self) -> bool:
        """Whether the layer cannot be used on this host."""
        return self.verdict == UNAVAILABLE


class ControllerFacts(FrozenRecord):
    """One cgroup controller (see ``CgroupController``)."""

    usable: bool
    hierarchy: str | None
    path: str | None
    reason: str


class ControllerView(Protocol):
    """One cgroup controller as :class:`~sentinel.sandbox.cgroup.AgentCgroup` reads it."""

    @property
    def usable(self) -> bool: ...  # noqa: D102 - see CgroupController
    @property
    def hierarchy(self) -> str | None: ...  # noqa: D102
    @property
    def path(self) -> str | None: ...  # noqa: D102
    @property
    def reason(self) -> str: ...  # noqa: D102


class CgroupView(Protocol):
    """The cgroup layout (``CgroupFacts`` or :class:`CgroupLayout`)."""

    @property
    def controllers(self) -> Mapping[str, ControllerView]: ...  # noqa: D102

    @property
    def v2_mount(self) -> str | None: ...  # noqa: D102


class CgroupLayout(FrozenRecord):
    """The cgroup controllers by name (see ``CgroupFacts``)."""

    controllers: Mapping[str, ControllerFacts]
    v2_mount: str | None = None
    """Where the unified (v2) hierarchy is mounted (a hybrid host has one too)."""


class LaunchFacts(FrozenRecord):
    """What a launch reads of the host's detection."""

    layers: Mapping[str, LayerVerdict]
    bwrap_path: str | None
    bwrap_options: tuple[str, ...]
    landlock_abi: int
    cgroups: CgroupLayout

    def layer(self, name: str) -> LayerVerdict:
        """The verdict on layer ``name``.

        Raises:
            KeyError: No layer has that name; the message lists the known names.
        """
        try:
            return self.layers[name]
        except KeyError:
            known = ", ".join(self.layers)
            raise KeyError(f"no layer named {name!r}; known layers: {known}") from None


def launch_facts(capabilities: HostCapabilities | LaunchFacts) -> LaunchFacts:
    """The launch's facts out of a full detection (a :class:`LaunchFacts` as it is)."""
    if isinstance(capabilities, LaunchFacts):
        return capabilities
    return LaunchFacts(
        layers={
            report.name: LayerVerdict(str(report.verdict), report.reason, report.fix)
            for report in capabilities.layers
        },
        bwrap_path=capabilities.bwrap.path,
        bwrap_options=tuple(capabilities.bwrap.options),
        landlock_abi=capabilities.landlock.abi,
        cgroups=CgroupLayout(
            {
                name: ControllerFacts(found.usable, found.hierarchy, found.path, found.reason)
                for name, found in capabilities.cgroups.controllers.items()
            },
            capabilities.cgroups.v2_mount,
        ),
    )


def facts_to_json(facts: LaunchFacts) -> dict[str, Any]:
    """A JSON-ready dict that :func:`facts_from_json` turns back into equal facts."""
    return record_dict(facts)


def facts_from_json(data: Mapping[str, Any]) -> LaunchFacts:
    """The facts :func:`facts_to_json` wrote.

    Raises:
        KeyError, TypeError, ValueError: ``data`` does not have the facts' shape.
    """
    return LaunchFacts(
        layers={str(name): LayerVerdict(**report) for name, report in data["layers"].items()},
        bwrap_path=data["bwrap_path"],
        bwrap_options=tuple(str(option) for option in data["bwrap_options"]),
        landlock_abi=int(data["landlock_abi"]),
        cgroups=CgroupLayout(
            {
                str(name): ControllerFacts(**found)
                for name, found in data["cgroups"]["controllers"].items()
            },
            data["cgroups"].get("v2_mount"),
        ),
    )
