"""SqliteSubscriptions: accounts bound to signal channels, their sizing, and a forward-only delivery cursor."""

from __future__ import annotations

from decimal import Decimal

import pytest

from alfax.domain.errors import VenueError
from alfax.ledger.subscriptions import SqliteSubscriptions


def test_add_get_list_and_reopen(tmp_path):
    path = tmp_path / "alfax.db"
    subs = SqliteSubscriptions(path)
    a = subs.add(1, "alpha", "fixed_qty", "0.0100", now_ms=5)
    b = subs.add(1, "beta", "notional", Decimal("250"), max_notional="1000", leverage=3, epoch="e1", last_seq=7,
                 now_ms=6)
    c = subs.add(2, "alpha", "equity_pct", 5, enabled=False, now_ms=7)
    assert a == {"subId": a["subId"], "accountId": 1, "channel": "alpha", "mode": "fixed_qty", "value": "0.01",
                 "maxNotional": None, "leverage": None, "enabled": True, "cursor": {"epoch": None, "seq": 0},
                 "createdMs": 5, "updatedMs": 5}
    assert (b["value"], b["maxNotional"], b["leverage"], b["cursor"]) == ("250", "1000", 3, {"epoch": "e1", "seq": 7})
    assert c["value"] == "5" and c["enabled"] is False
    assert b["subId"] > a["subId"] and c["subId"] > b["subId"]
    assert [s["subId"] for s in subs.list()] == [a["subId"], b["subId"], c["subId"]]
    assert [s["subId"] for s in subs.list(account_id=1)] == [a["subId"], b["subId"]]
    assert [s["subId"] for s in subs.list(channel="alpha")] == [a["subId"], c["subId"]]
    assert [s["subId"] for s in subs.list(account_id=2, channel="alpha")] == [c["subId"]]
    assert subs.list(channel="nope") == [] and subs.get(999) is None
    subs.close()
    again = SqliteSubscriptions(path)
    assert again.get(b["subId"]) == b
    again.close()


@pytest.mark.parametrize("kw, param", [
    ({"mode": "mirror"}, "mode"),
    ({"value": "0"}, "value"),
    ({"value": "-1"}, "value"),
    ({"value": 0.5}, "value"),  # a float: money never passes through binary floating point
    ({"value": "abc"}, "value"),
    ({"value": "NaN"}, "value"),
    ({"max_notional": "0"}, "maxNotional"),
    ({"leverage": 0}, "leverage"),
    ({"leverage": 126}, "leverage"),
    ({"leverage": True}, "leverage"),
    ({"channel": ""}, "channel"),
    ({"channel": "x" * 129}, "channel"),
    ({"last_seq": -1}, "lastSeq"),
])
def test_invalid_input_is_a_binance_shaped_error(tmp_path, kw, param):
    subs = SqliteSubscriptions(tmp_path / "a.db")
    args = {"account_id": 1, "channel": "alpha", "mode": "notional", "value": "10", **kw}
    with pytest.raises(VenueError) as e:
        subs.add(**args)
    assert e.value.code == -1130 and e.value.http_status == 400
    assert f"'{param}'" in e.value.msg
    assert subs.list() == []  # nothing half-written
    subs.close()


def test_remove_only_the_owners_subscription(tmp_path):
    subs = SqliteSubscriptions(tmp_path / "a.db")
    s = subs.add(1, "alpha", "notional", "10")
    assert subs.remove(s["subId"], 2) is False and subs.get(s["subId"]) is not None
    assert subs.remove(s["subId"], 1) is True and subs.get(s["subId"]) is None
    assert subs.remove(s["subId"], 1) is False
    subs.close()


def test_cursor_only_moves_forward_and_enable_toggles(tmp_path):
    subs = SqliteSubscriptions(tmp_path / "a.db")
    s = subs.add(1, "alpha", "notional", "10")["subId"]
    assert subs.set_cursor(s, "e1", 3) is True
    assert subs.set_cursor(s, "e1", 2) is False  # a late writer (catch-up overlapping live) cannot rewind it
    assert subs.set_cursor(s, "e1", 3) is False
    assert subs.get(s)["cursor"] == {"epoch": "e1", "seq": 3}
    assert subs.set_cursor(s, "e2", 9) is True  # a channel reset changes the epoch; seqs keep counting
    assert subs.get(s)["cursor"] == {"epoch": "e2", "seq": 9}
    assert subs.set_enabled(s, 2, False) is False and subs.get(s)["enabled"] is True
    assert subs.set_enabled(s, 1, False, now_ms=50) is True
    got = subs.get(s)
    assert got["enabled"] is False and got["updatedMs"] == 50
    subs.close()
