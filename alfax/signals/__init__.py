"""The signal hub's wire layer (issue 5; signals.md §2–§3): pure encoders/decoders, no I/O.

- :mod:`.sse_wire` — WHATWG ``text/event-stream`` frames, the resume-cursor rule.
- :mod:`.phoenix_wire` — the Phoenix channels V2 JSON array codec as AlphaHub speaks it.
- :mod:`.payloads` — ``new_signals`` / head / reset payloads and the Areix Submit Signal validator.

Records are duck-typed: any object with ``channel, seq, epoch, ts, payload`` (and optionally ``raw`` and
``event_id``) works, e.g. the ledger's ``SignalRecord`` — this package never imports ``alfax.ledger``.
"""
