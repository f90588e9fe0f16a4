"""Recovery entry point (``from alfax.ledger.recovery import recover``): snapshot + journal replay.

See ``alfax.ledger.snapshot`` for the implementation.
"""

from .snapshot import RecoveryError, ReplayClock, Snapshot, clock_setter, recover

__all__ = ["RecoveryError", "ReplayClock", "Snapshot", "clock_setter", "recover"]
