"""A deterministic script of host inputs, so backends can be compared under load."""

from __future__ import annotations

import random

from sentinel.world import Action, Backend, World


def drive(world: World, ticks: int, *, backend: Backend, seed: int = 1, every: int = 7) -> None:
    """Step ``world`` for ``ticks`` ticks, giving random orders every ``every`` ticks."""
    rng = random.Random(seed)
    rooms = world.params.room_ids
    agents = len(world.agent_ids)
    done = 0
    while done < ticks:
        for _ in range(max(1, agents // 10)):
            agent = rng.randrange(agents)
            choice = rng.random()
            if choice < 0.4:
                world.move(agent, rng.choice(rooms))
            elif choice < 0.7:
                world.act(agent, rng.choice(list(Action)))
            elif choice < 0.8:
                world.feel(agent, rng.uniform(-0.5, 0.5), rng.uniform(-0.3, 0.3))
            else:
                world.set_flags(agent, deadline=rng.random() < 0.5, conflict=rng.random() < 0.2)
        if rng.random() < 0.2:
            world.open_window(rng.choice(rooms), rng.random() < 0.5)
        if rng.random() < 0.2:
            world.open_door(rng.choice(rooms), rng.random() < 0.5)
        if rng.random() < 0.1:
            world.delay_arrival(rng.randrange(agents), rng.randrange(0, 60))
        if rng.random() < 0.2:
            world.set_thermostat(rng.choice(rooms), rng.uniform(-5.0, 5.0))
        batch = min(every, ticks - done)
        world.step(batch, backend=backend)
        done += batch
