"""Durable audit events on NATS JetStream: replicate a store's chain, rebuild it elsewhere.

Each store has one stream (``SENTINEL_<log id>``, R3) with subjects
``sentinel.<log id>.meta`` (identity and verifier keys), ``.events`` (consecutive events,
canonical bytes framed by ``sentinel.durable.event_batch``, ``Nats-Msg-Id`` =
``events-<first>-<last>``: JetStream drops duplicates, so replaying a replication is exactly
once) and ``.checkpoint`` (signed notes: the stream is a witness). The mirror also reads
``.event`` (one event per message, the format before batching).
"""
