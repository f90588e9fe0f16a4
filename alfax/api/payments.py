"""Payment providers for challenge purchases, and minting (issue 4).

A provider ``start``s a payment for a purchase and either settles it at once (``stub``: self-hosted venues and
tests) or later through its webhook (``signed``: any real provider behind an adapter that signs its callback).
Webhook bodies are verified with HMAC-SHA256 over ``"<timestamp>.<raw body>"`` (header ``X-Alfax-Signature``,
``X-Alfax-Timestamp`` within 5 minutes, Stripe's scheme), so a forged or replayed callback mints nothing.

Minting = a new account, ``StartChallenge`` pinning the product's rules, and a read+trade API key whose secret
the buyer fetches once. It is idempotent: the challenge id is fixed when the purchase is created, so a retry (or a
restart after a crash mid-mint) finds the challenge and only finishes what is missing.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass

import orjson

from alfax.domain.commands import CreateAccount, StartChallenge
from alfax.domain.enums import Permission
from alfax.domain.errors import Err, VenueError
from alfax.domain.events import AccountCreated

WEBHOOK_TOLERANCE_MS = 300_000


@dataclass(frozen=True)
class Started:
    settled: bool  # paid already (stub) or waiting for the provider's webhook
    provider_ref: str
    checkout_url: str = ""


class StubProvider:
    """Settles at once. For self-hosted venues where the operator gives challenges away, and for tests."""

    name = "stub"

    def start(self, purchase: dict) -> Started:
        return Started(True, f"stub-{purchase['purchase_id']}")


class SignedWebhookProvider:
    """A real payment provider behind an adapter: the payment is pending until the adapter posts a signed
    ``{"purchaseId", "status": "paid"|"failed", "providerRef"}`` to ``POST /alfax/payments/webhook``."""

    def __init__(self, name: str, secret: str, checkout_base: str = "") -> None:
        self.name, self.secret, self.checkout_base = name, secret.encode(), checkout_base

    def start(self, purchase: dict) -> Started:
        url = f"{self.checkout_base}{purchase['purchase_id']}" if self.checkout_base else ""
        return Started(False, "", url)

    def sign(self, timestamp_ms: int, body: bytes) -> str:
        return hmac.new(self.secret, str(timestamp_ms).encode() + b"." + body, hashlib.sha256).hexdigest()

    def verify(self, timestamp: str | None, signature: str | None, body: bytes, now_ms: int) -> dict:
        try:
            ts = int(timestamp or "")
        except ValueError:
            raise VenueError(Err.MANDATORY_PARAM, param="X-Alfax-Timestamp") from None
        if abs(now_ms - ts) > WEBHOOK_TOLERANCE_MS:
            raise VenueError(Err.INVALID_TIMESTAMP)
        if not signature or not hmac.compare_digest(self.sign(ts, body), signature.strip().lower()):
            raise VenueError(Err.INVALID_SIGNATURE)
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise VenueError(Err.INVALID_PARAMETER, param="body") from None
        if not isinstance(doc, dict) or doc.get("status") not in ("paid", "failed"):
            raise VenueError(Err.INVALID_PARAMETER, param="status")
        return doc


def default_providers(webhook_secret: str = "") -> dict:
    out: dict = {"stub": StubProvider()}
    if webhook_secret:
        out["signed"] = SignedWebhookProvider("signed", webhook_secret)
    return out


async def mint(ctx, purchase: dict, now_ms: int) -> dict:
    """Create the challenge of a paid purchase (idempotent)."""
    if purchase["status"] == "minted":
        return purchase
    product = ctx.products[purchase["product_id"]]
    cid = purchase["challenge_id"]
    venue = ctx.venue
    accounts = venue.challenge_accounts.get(cid)
    if accounts:
        account_id = accounts[0]
    else:
        events = await ctx.submit(CreateAccount(0, f"challenge {cid[:8]}"))
        account_id = next(e.account_id for e in events if type(e) is AccountCreated)
        await ctx.submit(StartChallenge(account_id=account_id, challenge_id=cid, product=product.source))
    key = ctx.keys.create(account_id, frozenset({Permission.READ, Permission.TRADE}), f"challenge {cid[:8]}")
    return ctx.purchases.set_status(purchase["purchase_id"], "minted", now_ms, account_id=account_id,
                                    api_key=key.api_key, api_secret=key.secret)


def new_ids() -> tuple[str, str, str]:
    """(purchase/payout id, challenge id, run id): canonical UUID strings."""
    return str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
