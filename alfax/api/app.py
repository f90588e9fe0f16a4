"""The Binance edge as an ASGI app: ``create_app(ctx) -> Starlette``.

HTTP requests are dispatched by a dict lookup on (method, path) from the endpoint table, reading the raw query
bytes from the scope and the raw body once (no Starlette ``Request`` on the hot path). Everything else
(WebSocket, lifespan, and any http route added later to ``app.router``) goes to the regular Starlette stack.

Errors: ``VenueError`` → ``{"code","msg"}`` with the table's HTTP status; anything unexpected is logged and
answered 400 ``-1000`` (never a 5xx, never a stack trace).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Match

from alfax.domain.errors import Err, VenueError

from . import openapi
from .auth import Authenticator, Security
from .context import ApiContext
from .endpoints import ENDPOINTS, Endpoint, route_map
from .listenkeys import ListenKeys
from .market import ExchangeInfoCache
from .params import Params, parse_into
from .ratelimit import RateLimitConfig, RateLimited, RateLimiter
from .request import Req, Yaml

log = logging.getLogger("alfax.api")

MAX_BODY = 256 * 1024
_JSON_CT = (b"content-type", b"application/json")
_YAML_CT = (b"content-type", b"application/yaml")
_H_WEIGHT = b"x-mbx-used-weight-1m"
_H_ORD10 = b"x-mbx-order-count-10s"
_H_ORD1M = b"x-mbx-order-count-1m"
_UNKNOWN_BODY = orjson.dumps(VenueError(Err.UNKNOWN).as_dict())


class Edge:
    """State of the edge: routes, limiter, key cache, listen keys, cached documents."""

    def __init__(self, ctx: ApiContext, endpoints: tuple[Endpoint, ...] = ENDPOINTS,
                 rate_config: RateLimitConfig | None = None, time_fn=time.time) -> None:
        self.ctx = ctx
        self.instruments = ctx.venue.instruments
        self.endpoints = endpoints
        self.routes = route_map(endpoints)
        cfg = RateLimitConfig.from_any(rate_config if rate_config is not None else ctx.rate_limits)
        self.limiter = RateLimiter(cfg, time_fn)
        self.auth = Authenticator(ctx.keys)
        self.listen_keys = ListenKeys()
        self.exchange_info = ExchangeInfoCache(self.instruments, cfg.rate_limits_json())
        self.openapi_yaml = openapi.render(endpoints, cfg.rate_limits_json())
        self.starlette: Starlette | None = None

    # ------------------------------------------------------------------ the HTTP dispatcher
    async def handle_http(self, scope, receive, send, fallback) -> None:
        method = scope["method"]
        path = scope["path"]
        ep = self.routes.get((method, path))
        if ep is None and self._fallback_matches(scope):
            await fallback(scope, receive, send)
            return
        client = scope.get("client")
        ip = client[0] if client else ""
        limiter = self.limiter
        status = 200
        extra: list = []
        try:
            # body: read once, whatever the method (python-binance sends DELETE with a form body)
            body = b""
            more = True
            while more:
                msg = await receive()
                if msg["type"] != "http.request":
                    return  # disconnected
                chunk = msg.get("body", b"")
                if chunk:
                    body = body + chunk if body else chunk
                    if len(body) > MAX_BODY:
                        raise VenueError(Err.TOO_MANY_PARAMETERS)
                more = msg.get("more_body", False)
            if ep is None:
                limiter.add_weight(ip, 1)
                raise VenueError(Err.NOT_FOUND)
            query = scope.get("query_string", b"")
            d: dict[str, str] = {}
            if body:
                if body[:1] == b"{" or body[:1] == b"[":
                    _json_body_into(body, d)
                else:
                    parse_into(body, d)
            if query:
                parse_into(query, d)
            params = Params(d)
            now = self.ctx.clock.now_ms()
            if not ep.exempt:
                try:
                    w = ep.weight_for(params)
                except Exception:
                    w = 1
                limiter.add_weight(ip, w)
            req = Req(self, params, now, ip, method, path, body)
            req.headers = scope["headers"]
            sec = ep.security
            if sec is not Security.NONE:
                hdr = _header(scope, b"x-mbx-apikey")
                if sec is Security.USER_STREAM:
                    req.key = self.auth.key_for(hdr, sec)
                else:
                    req.key = self.auth.verify(hdr, sec, query, body, d, now)
                if ep.counts_as_order:
                    n10, n60 = limiter.add_order(req.key.account_id)
                    extra = [(_H_ORD10, str(n10).encode()), (_H_ORD1M, str(n60).encode())]
            result = await ep.handler(req)
            out = result if isinstance(result, bytes) else orjson.dumps(result)
        except RateLimited as e:
            status = e.http_status
            out = orjson.dumps(e.as_dict())
            extra = [(b"retry-after", str(e.retry_after).encode())]
        except VenueError as e:
            status = e.http_status
            out = orjson.dumps(e.as_dict())
        except Exception:
            log.exception("unexpected error on %s %s", method, path)
            status = 400
            out = _UNKNOWN_BODY
        headers = [
            _YAML_CT if type(out) is Yaml else _JSON_CT,
            (b"content-length", str(len(out)).encode()),
            (_H_WEIGHT, str(limiter.used_weight(ip)).encode()),
        ]
        if extra:
            headers.extend(extra)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": out})

    def _fallback_matches(self, scope) -> bool:
        app = self.starlette
        if app is None:
            return False
        for route in app.router.routes:
            try:
                m, _ = route.matches(scope)
            except Exception:
                continue
            if m is not Match.NONE:
                return True
        return False


def _header(scope, name: bytes) -> bytes | None:
    for k, v in scope["headers"]:
        if k == name:
            return v
    return None


def _json_body_into(body: bytes, d: dict[str, str]) -> None:
    """A JSON object body (some SDKs): flatten scalar values into params; anything else is ignored."""
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        parse_into(body, d)
        return
    if not isinstance(obj, dict):
        return
    for k, v in obj.items():
        if isinstance(v, bool):
            d[str(k)] = "true" if v else "false"
        elif isinstance(v, (str, int, float)):
            d[str(k)] = str(v)
        elif isinstance(v, (list, dict)):
            d[str(k)] = orjson.dumps(v).decode()


class _EdgeMiddleware:
    def __init__(self, app, edge: Edge) -> None:
        self.app = app
        self.edge = edge

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            await self.edge.handle_http(scope, receive, send, self.app)
        else:
            await self.app(scope, receive, send)


def create_app(ctx: ApiContext, *, rate_config: RateLimitConfig | None = None, time_fn=time.time,
               routes: list[Any] | None = None, endpoints: tuple[Endpoint, ...] = ENDPOINTS) -> Starlette:
    """Build the Starlette app. ``routes`` (e.g. WebSocket routes) are served by the regular Starlette router;
    ``app.state.edge`` exposes the edge, ``app.state.listen_keys`` the listen-key registry."""
    edge = Edge(ctx, endpoints=endpoints, rate_config=rate_config, time_fn=time_fn)
    app = Starlette(routes=routes or [], middleware=[Middleware(_EdgeMiddleware, edge=edge)])
    edge.starlette = app
    app.state.edge = edge
    app.state.listen_keys = edge.listen_keys
    return app
