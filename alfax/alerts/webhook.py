"""``POST /tv/<token>``: the TradingView webhook (issue 5; signals.md §1.1, §1.5).

TradingView cannot sign requests or set headers, gives up after 3 s and never shows the answer to the user. So:
the unguessable token in the path names the account (unknown token → the same 404 as an unknown path, so tokens
cannot be probed); an optional source-address allow-list and body secret harden it; the body is read raw (JSON or
text, whatever the Content-Type says) and handed to the intake, which persists it and answers 202 before anything
executes. A refused source address is logged as an alert too (E019), because the account owner is the one who
needs to see it.

The source address is the socket peer unless the peer is a configured trusted proxy, in which case the last
``X-Forwarded-For`` hop is used (a client can prepend anything to that header; only the proxy's own hop is
trustworthy).
"""

from __future__ import annotations

from typing import Any, Callable, Protocol

import orjson

from alfax.domain.errors import Err, VenueError

MAX_BODY = 64 * 1024  # the grammar stops at 4 KiB (E018); reading a bit more lets it say so precisely
PREFIX = "/tv/"

_NOT_FOUND = orjson.dumps(VenueError(Err.NOT_FOUND).as_dict())
_JSON = (b"content-type", b"application/json")


class WebhookStore(Protocol):
    def lookup(self, token: str) -> Any: ...  # alfax.ledger.webhooks.Webhook | None


class Intake(Protocol):
    async def accept(self, account_id: int, body: bytes, *, token_id: str, source_ip: str = "",
                     secret: str | None = None) -> Any: ...

    async def refuse_source(self, account_id: int, body: bytes, *, token_id: str, source_ip: str) -> Any: ...


def source_ip(scope: dict, trusted_proxies: frozenset[str]) -> str:
    client = scope.get("client")
    peer = client[0] if client else ""
    if peer in trusted_proxies:
        for name, value in scope.get("headers", ()):
            if name == b"x-forwarded-for":
                hops = [h.strip() for h in value.decode("latin-1").split(",") if h.strip()]
                if hops:
                    return hops[-1]
    return peer


class TradingViewWebhook:
    """ASGI front for ``POST /tv/<token>``; every other request goes to ``app``.

    Raw ASGI rather than a Starlette route: a burst of alerts (every user's strategy firing on the same bar close)
    must be answered within TradingView's 3 s, and the framework's request/response objects and middleware stack
    cost more per request than the lookup, the parse and the durable write together."""

    def __init__(self, app: Any, webhooks: WebhookStore, intake: Intake, *,
                 trusted_proxies: frozenset[str] = frozenset(), account_of: Callable[[int], int] = int) -> None:
        """``account_of`` maps the webhook's account to the one that trades now: a challenge's URL keeps working
        when a stage passes and the next stage's account takes over (as its API key does)."""
        self.app = app
        self.webhooks = webhooks
        self.intake = intake
        self.trusted_proxies = trusted_proxies
        self.account_of = account_of

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        status, body = await self._handle(scope, receive)
        await send({"type": "http.response.start", "status": status,
                    "headers": [_JSON, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def _handle(self, scope, receive) -> tuple[int, bytes]:
        token = scope["path"][len(PREFIX):]
        hook = self.webhooks.lookup(token) if scope["method"] == "POST" and "/" not in token else None
        if hook is None or not hook.enabled:
            return 404, _NOT_FOUND  # unknown, rotated or disabled: the same answer as an unknown path
        body = b""
        more = True
        while more:
            msg = await receive()
            if msg["type"] != "http.request":
                return 400, _NOT_FOUND  # the client went away
            body += msg.get("body", b"")
            more = msg.get("more_body", False) and len(body) <= MAX_BODY
        ip = source_ip(scope, self.trusted_proxies)
        account = self.account_of(hook.account_id)
        if not hook.allows(ip):
            receipt = await self.intake.refuse_source(account, body, token_id=hook.token_id, source_ip=ip)
        else:
            receipt = await self.intake.accept(account, body, token_id=hook.token_id, source_ip=ip,
                                               secret=hook.secret)
        return receipt.http_status, orjson.dumps(receipt.body)
