"""The live bus: what a run does, published on Eclipse Zenoh as it happens.

Key space (``<run>`` is the run's id, a store's log id by default)::

    sentinel/<run>/world/tick                 one tick summary per tick
    sentinel/<run>/agent/<agent_id>/state     an agent's lifecycle and world actions
    sentinel/<run>/agent/_all/state           the agent plane's observation (``agent.state``)
    sentinel/<run>/gateway/<agent_id>/decision  gateway decisions and model calls
    sentinel/<run>/sandbox/<agent_id>/event   sandbox executions and violations
    sentinel/<run>/control/<target>/decision  control-plane decisions
    sentinel/<run>/probe/<agent_id>/activity  kernel-probe batches (``probe.activity``)
    sentinel/<run>/probe/summary              the kernel probes' run summary
    sentinel/<run>/audit/checkpoint           signed checkpoints (their notes)
    sentinel/<run>/audit/history              a queryable: committed events, from the store
    sentinel/<run>/runtime/<type>             the runtime's own events

Payloads are compact JSON; an event's carries its canonical text and both hashes, so a
subscriber (the bus-fed dashboard, :mod:`sentinel.dashboard.bus_feed`; the bus-fed control
planes, :mod:`sentinel.control.bus_source`) checks each chain link.
Publishing is gated on Zenoh's matching status: with no subscriber, nothing is encoded or
sent, so a run nobody watches pays only a boolean test.
"""

from sentinel.bus.keys import KEY_FAMILIES, key_for_event, tick_key
from sentinel.bus.publisher import BusPublisher
from sentinel.bus.subscriber import BusSubscriber

__all__ = ["KEY_FAMILIES", "BusPublisher", "BusSubscriber", "key_for_event", "tick_key"]
