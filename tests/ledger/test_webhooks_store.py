"""Per-account webhook settings: unguessable tokens, rotation, secret and allow-list (alfax/ledger/webhooks.py)."""

from __future__ import annotations

from alfax.domain.alert_model import TRADINGVIEW_WEBHOOK_IPS
from alfax.ledger.notifications import SqliteNotifications
from alfax.ledger.webhooks import SqliteWebhooks


def test_token_is_per_account_unguessable_and_survives_reopen(tmp_path):
    db = tmp_path / "a.db"
    hooks = SqliteWebhooks(db)
    a, b = hooks.ensure(1, 1000), hooks.ensure(2, 1000)
    assert a.token != b.token and len(a.token) >= 32  # 192 random bits, url-safe
    assert hooks.ensure(1, 2000).token == a.token  # ensure never rotates
    assert hooks.lookup(a.token).account_id == 1 and hooks.lookup(b.token).account_id == 2
    assert hooks.lookup("nope") is None and hooks.lookup("") is None and hooks.lookup("x" * 500) is None
    hooks.close()
    again = SqliteWebhooks(db)
    assert again.lookup(a.token).account_id == 1
    again.close()


def test_rotate_invalidates_the_old_url_at_once(tmp_path):
    hooks = SqliteWebhooks(tmp_path / "a.db")
    old = hooks.ensure(7, 1000)
    new = hooks.rotate(7, 5000)
    assert new.token != old.token and new.rotated_ms == 5000 and new.created_ms == 1000
    assert hooks.lookup(old.token) is None and hooks.lookup(new.token).account_id == 7
    assert new.to_dict("https://x.example")["url"] == f"https://x.example/tv/{new.token}"


def test_secret_allow_list_and_enabled(tmp_path):
    hooks = SqliteWebhooks(tmp_path / "a.db")
    w = hooks.set_secret(3, "s3cret", 1)
    assert w.secret == "s3cret" and w.to_dict()["secretSet"] is True
    assert hooks.set_secret(3, "", 2).secret is None
    w = hooks.set_allow_ips(3, list(TRADINGVIEW_WEBHOOK_IPS) + ["52.89.214.238"], 3)
    assert w.allow_ips == TRADINGVIEW_WEBHOOK_IPS  # de-duplicated, order kept
    assert w.allows("52.32.178.7") and not w.allows("127.0.0.1")
    assert hooks.set_allow_ips(3, [], 4).allows("127.0.0.1")  # empty: any source
    assert hooks.set_enabled(3, False, 5).enabled is False


def test_notifications_are_listed_newest_first_within_a_window(tmp_path):
    notes = SqliteNotifications(tmp_path / "a.db")
    for i in range(5):
        notes.add(1, "signal", {"en": f"n{i}", "zh": f"信号{i}"}, 1000 + i, ref=f"r{i}")
    notes.add(2, "signal", {"en": "other", "zh": "其他"}, 1002)
    rows = notes.list(1)
    assert [r["content"]["en"] for r in rows] == ["n4", "n3", "n2", "n1", "n0"]
    assert rows[0]["content"]["zh"] == "信号4" and rows[0]["ref"] == "r4"
    assert [r["ts"] for r in notes.list(1, 1001, 1003)] == [1003, 1002, 1001]
    assert len(notes.list(1, limit=2)) == 2 and [r["accountId"] for r in notes.list(2)] == [2]
