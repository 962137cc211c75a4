"""Durable audit events on NATS JetStream: replicate a store's chain, rebuild it elsewhere.

Each store has one stream (``SENTINEL_<log id>``, R3) with subjects
``sentinel.<log id>.meta`` (identity and verifier keys), ``.event`` (canonical bytes, one
message per event, ``Nats-Msg-Id`` = event id: JetStream drops duplicates, so replaying a
replication is exactly once) and ``.checkpoint`` (signed notes: the stream is a witness).
"""
