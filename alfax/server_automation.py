"""Composition of issue 5 (the second half of the composition root, kept apart so ``server.py`` stays readable):
TradingView webhooks → alert intake → ordered executor → the engine, and the signal hub (durable log, SSE, Phoenix
WebSocket, provider publish endpoints) with its followers (subscriptions that turn signals into orders).

Flow, one way:

    POST /tv/<token> ──► AlertIntake (persist + dedupe claim, 202) ──► AlertExecutor ──► Runtime.submit ──► engine
    POST /signal ──► SignalHub.publish (durable log) ──► SSE / Phoenix subscribers
                                                    └──► Follower ──► AlertIntake (same path as a webhook alert)
    every receipt ──► user-data stream (alertUpdate) + notifications (en/zh)
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from decimal import Decimal
from dataclasses import dataclass, field
from typing import Any

from alfax.alerts.executor import AlertExecutor
from alfax.alerts.follow import Follower
from alfax.alerts.intake import AlertIntake
from alfax.alerts.notices import alert_notice, signal_notice
from alfax.alerts.receipts import alert_update_event, receipt_of
from alfax.alerts.webhook import TradingViewWebhook
from alfax.ledger.alert_log import SqliteAlertLog
from alfax.ledger.hub_users import SqliteHubUsers
from alfax.ledger.notifications import SqliteNotifications
from alfax.ledger.signal_log import SqliteSignalLog
from alfax.ledger.subscriptions import SqliteSubscriptions
from alfax.ledger.webhooks import SqliteWebhooks
from alfax.signals.hub import SignalHub
from alfax.signals.phoenix import phoenix_routes
from alfax.signals.publish import publish_routes
from alfax.signals.sessions import SessionTokens
from alfax.signals.sse import sse_routes

log = logging.getLogger("alfax.automation")

FINAL = ("executed", "failed", "rejected", "duplicate")


class KeyAccess:
    """``SignalAccess`` over the API-key store and the hub's login sessions: who is publishing or subscribing."""

    def __init__(self, keys: Any, tokens: SessionTokens) -> None:
        self.keys = keys
        self.tokens = tokens

    def account_for_key(self, api_key: str, secret: str | None) -> int | None:
        key = self.keys.lookup(api_key) if api_key else None
        if key is None or not getattr(key, "enabled", True):
            return None
        if secret is not None and not hmac.compare_digest(secret.encode(), key.secret.encode()):
            return None
        return key.account_id

    def account_for_token(self, token: str) -> int | None:
        return self.tokens.account_for(token)


@dataclass
class Automation:
    webhooks: SqliteWebhooks
    alerts: SqliteAlertLog
    notifications: SqliteNotifications
    subscriptions: SqliteSubscriptions
    hub_users: SqliteHubUsers
    signal_log: SqliteSignalLog
    hub: SignalHub
    tokens: SessionTokens
    intake: AlertIntake
    executor: AlertExecutor
    follower: Follower
    routes: list = field(default_factory=list)
    wrap: Any = None  # app -> app with POST /tv/<token> in front (see alfax.alerts.webhook)

    async def start(self) -> None:
        """After a restart: finish alerts received but not executed, then signals missed by followers."""
        n = await self.executor.resume()
        m = await self.follower.catch_up()
        if n or m:
            log.warning("resumed %d alert(s) and %d followed signal(s) after a restart", n, m)

    async def stop(self) -> None:
        """Followers and workers first (their unfinished work stays pending in the logs for the next start), then
        the stores."""
        await self.follower.close()
        await self.executor.close()
        for store in (self.webhooks, self.alerts, self.notifications, self.subscriptions, self.hub_users,
                      self.signal_log):
            store.close()


def build_automation(rt: Any, stream_hub: Any, *, trusted_proxies: frozenset[str] = frozenset()) -> Automation:
    """Wire issue 5 onto a Runtime (``rt``) and its user-stream hub."""
    db = rt.config.db_path
    webhooks = SqliteWebhooks(db)
    alerts = SqliteAlertLog(db, synchronous=rt.config.synchronous)
    notifications = SqliteNotifications(db)
    subscriptions = SqliteSubscriptions(db)
    hub_users = SqliteHubUsers(db)
    signal_log = SqliteSignalLog(db, synchronous=rt.config.synchronous)
    def now_ms() -> int:  # wall time: TradingView's ts= and the hub's timestamps are real time, not venue time
        return time.time_ns() // 1_000_000

    hub = SignalHub(signal_log, now_ms)
    tokens = SessionTokens(now_ms)

    def notify(account_id: int, kind: str, content: dict, ref: str) -> None:
        # a blocking SQLite write: off the event loop (the webhook's 202 must not wait for it)
        asyncio.get_running_loop().run_in_executor(None, notifications.add, account_id, kind, content, now_ms(), ref)

    def on_receipt(account_id: int, receipt: dict) -> None:
        stream_hub.push_user(account_id, alert_update_event(receipt, now_ms()))
        if receipt.get("status") in FINAL:
            notice = alert_notice(receipt)
            if notice is not None:
                notify(account_id, notice[0], notice[1], f"alert:{receipt.get('alertId')}")

    def order_exists(account_id: int, symbol: str, client_order_id: str) -> Any:
        """The order (or algo order) an alert placed before a crash, found by its deterministic client id — open
        in the engine or in history; None if it was never placed. The object lets the executor add the TP/SL legs
        of an entry that was placed but not finished."""
        v = rt.venue
        return (v.open_order(account_id, symbol, 0, client_order_id)
                or rt.reader.get_order(account_id, symbol, 0, client_order_id)
                or v.open_algo(account_id, 0, client_order_id)
                or rt.reader.get_algo(account_id, 0, client_order_id))

    def equity(account_id: int) -> Decimal:
        return Decimal(rt.venue.summary(account_id).margin_balance).scaleb(-8)

    executor = AlertExecutor(rt.venue, rt.submit, alerts, now_ms=now_ms, order_exists=order_exists,
                             on_receipt=on_receipt)
    intake = AlertIntake(alerts, executor, symbols=set(rt.instruments), now_ms=now_ms, on_receipt=on_receipt)
    executor.gate = intake.wait_idle
    follower = Follower(intake, subscriptions, read_after=signal_log.read_after, now_ms=now_ms, equity=equity,
                        account_of=rt.venue.stage_account)

    def notify_followers(published: Any) -> None:
        rec = published.record
        kind, content = signal_notice(rec.channel, rec.payload)
        for sub in subscriptions.list(channel=rec.channel):
            notify(rt.venue.stage_account(sub["accountId"]), kind, content, f"signal:{rec.channel}:{rec.seq}")

    hub.listeners.append(follower.on_published)
    hub.listeners.append(notify_followers)
    access = KeyAccess(rt.keys, tokens)
    routes = [
        *publish_routes(hub, access, now_ms=now_ms),
        *sse_routes(hub, access),
        *phoenix_routes(hub, hub_users, tokens),
    ]
    auto = Automation(webhooks, alerts, notifications, subscriptions, hub_users, signal_log, hub, tokens, intake,
                      executor, follower, routes)
    auto.wrap = lambda app: TradingViewWebhook(app, webhooks, intake, trusted_proxies=trusted_proxies,
                                               account_of=rt.venue.stage_account)
    return auto


def alert_view(row: Any) -> dict:
    """``GET /alfax/v1/alert(s)``: the receipt (the same shape as the ``alertUpdate`` stream event) plus what
    was received (the redacted body, token handle, source address)."""
    return {**receipt_of(row), "body": row.body, "tokenId": row.token_id, "sourceIp": row.source_ip,
            "receivedTime": row.received_ms, "updateTime": row.updated_ms}
