"""A stand-in signal record: the signals package accepts any object with these attributes (it never imports the
ledger's ``SignalRecord``, which the tests also check against)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Rec:
    channel: str
    seq: int
    epoch: str
    ts: int
    payload: dict
    publisher: str = ""
    dedupe_key: str | None = None
    raw: bytes = field(default=b"", repr=False, compare=False)

    @property
    def event_id(self) -> str:
        return f"{self.epoch}:{self.seq}"
