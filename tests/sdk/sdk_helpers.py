"""Helpers shared by the SDK suites (importable from the tests and from conftest)."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

from alfax_harness import best_bid_ask  # noqa: E402

PRODUCT = "10k-2step"


@dataclass
class Creds:
    api_key: str
    secret: str
    account_id: int | None = None


def operator_creds(server) -> Creds:
    """The operator key ``alfax serve`` writes to ``<db>.operator.json``."""
    doc = json.loads(Path(f"{server.db_path}.operator.json").read_text())
    return Creds(doc["apiKey"], doc["secretKey"])


def min_qty(rules, public_rest, symbol: str = "BTCUSDT", notional: float = 120.0) -> Decimal:
    """A quantity worth a little more than ``notional`` USDT at the current ask."""
    _, ask = best_bid_ask(public_rest, symbol)
    return rules[symbol].qty_for_notional(ask, notional)
