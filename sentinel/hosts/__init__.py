"""Multi-host runs: a coordinator stepping the world, worker hosts running the agents.

:func:`~sentinel.hosts.run.run_hosts` (``sentinel-run run --hosts N``) starts N worker
hosts (:mod:`sentinel.hosts.worker`), each a process in its own network namespace
(:mod:`sentinel.hosts.network`) with its own sandboxes and audit chain; the coordinator
places agents on them (:mod:`sentinel.hosts.placement`) and calls them as its backend
(:mod:`sentinel.hosts.remote`). :mod:`sentinel.hosts.merged` is the Lamport-ordered view
over every host's store (``sentinel-run audit query --hosts``).
"""
