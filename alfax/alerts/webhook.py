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
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from alfax.domain.errors import Err, VenueError

MAX_BODY = 64 * 1024  # the grammar stops at 4 KiB (E018); reading a bit more lets it say so precisely

_NOT_FOUND = orjson.dumps(VenueError(Err.NOT_FOUND).as_dict())


class WebhookStore(Protocol):
    def lookup(self, token: str) -> Any: ...  # alfax.ledger.webhooks.Webhook | None


class Intake(Protocol):
    async def accept(self, account_id: int, body: bytes, *, token_id: str, source_ip: str = "",
                     secret: str | None = None) -> Any: ...

    async def refuse_source(self, account_id: int, body: bytes, *, token_id: str, source_ip: str) -> Any: ...


def source_ip(request: Request, trusted_proxies: frozenset[str]) -> str:
    peer = request.client.host if request.client else ""
    if peer in trusted_proxies:
        fwd = request.headers.get("x-forwarded-for", "")
        hops = [h.strip() for h in fwd.split(",") if h.strip()]
        if hops:
            return hops[-1]
    return peer


def _json(status: int, body: dict | bytes) -> Response:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return Response(raw, status_code=status, media_type="application/json")


def webhook_routes(webhooks: WebhookStore, intake: Intake, *,
                   trusted_proxies: frozenset[str] = frozenset(),
                   account_of: Callable[[int], int] = int) -> list[Route]:
    """``account_of`` maps the webhook's account to the one that trades now: a challenge's URL keeps working when a
    stage passes and the next stage's account takes over (as its API key does)."""

    async def tradingview(request: Request) -> Response:
        hook = webhooks.lookup(request.path_params["token"])
        if hook is None or not hook.enabled:
            return _json(404, _NOT_FOUND)
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                break
        ip = source_ip(request, trusted_proxies)
        account = account_of(hook.account_id)
        if not hook.allows(ip):
            receipt = await intake.refuse_source(account, body, token_id=hook.token_id, source_ip=ip)
        else:
            receipt = await intake.accept(account, body, token_id=hook.token_id, source_ip=ip, secret=hook.secret)
        return _json(receipt.http_status, receipt.body)

    return [Route("/tv/{token}", tradingview, methods=["POST"])]
