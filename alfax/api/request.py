"""The per-request object handed to every handler."""

from __future__ import annotations

from typing import TYPE_CHECKING

from alfax.domain.errors import Err, VenueError
from alfax.domain.instruments import Instrument
from alfax.domain.keys import ApiKey

from .params import Params

if TYPE_CHECKING:
    from .app import Edge
    from .context import ApiContext


class Req:
    __slots__ = ("edge", "ctx", "p", "key", "now", "ip", "method", "path", "body", "headers")

    def __init__(self, edge: "Edge", p: Params, now: int, ip: str, method: str, path: str, body: bytes) -> None:
        self.edge = edge
        self.ctx: ApiContext = edge.ctx
        self.p = p
        self.key: ApiKey | None = None
        self.now = now
        self.ip = ip
        self.method = method
        self.path = path
        self.body = body
        self.headers: list = []  # raw ASGI (name, value) pairs; set by the dispatcher

    def header(self, name: bytes) -> str | None:
        for k, v in self.headers:
            if k == name:
                return v.decode("latin-1")
        return None

    @property
    def account_id(self) -> int:
        """The key's account — for a challenge, its newest stage (the key follows the challenge)."""
        assert self.key is not None
        return self.ctx.venue.stage_account(self.key.account_id)

    def instrument(self, name: str = "symbol") -> Instrument:
        sym = self.p.req(name)
        inst = self.edge.instruments.get(sym) or self.edge.instruments.get(sym.upper())
        if inst is None:
            raise VenueError(Err.BAD_SYMBOL)
        return inst

    def opt_instrument(self, name: str = "symbol") -> Instrument | None:
        sym = self.p.get(name)
        if sym is None:
            return None
        inst = self.edge.instruments.get(sym) or self.edge.instruments.get(sym.upper())
        if inst is None:
            raise VenueError(Err.BAD_SYMBOL)
        return inst

    def inst_of(self, symbol: str) -> Instrument:
        return self.edge.instruments[symbol]

    def require_account(self) -> int:
        acc = self.account_id
        if not self.ctx.venue.has_account(acc):
            raise VenueError(Err.REJECTED_MBX_KEY)
        return acc


class Raw(bytes):
    """A handler result that is already JSON bytes."""


class Yaml(bytes):
    """A handler result that is a YAML document (served as application/yaml)."""

