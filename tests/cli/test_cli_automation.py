"""``alfax webhook|alerts|hub-users`` against a real server (issue 5)."""

from __future__ import annotations

import json

import httpx


def run(srv, *args):
    res = srv.cli(*args)
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


def test_webhook_show_rotate_set_and_the_alert_log(alfax_server, fresh_account):
    acc = str(fresh_account.account_id)
    shown = json.loads(run(alfax_server, "webhook", "show", "--account", acc, "--json"))
    assert shown["accountId"] == fresh_account.account_id and "/tv/" in shown["url"]
    text = run(alfax_server, "webhook", "show", "--account", acc)
    assert shown["url"] in text and "any source address" in text
    rotated = json.loads(run(alfax_server, "webhook", "rotate", "--account", acc, "--json"))
    assert rotated["url"] != shown["url"]
    assert httpx.post(shown["url"], content=b"buy 0.001 BTCUSDT", trust_env=False).status_code == 404
    text = run(alfax_server, "webhook", "set", "--account", acc, "--secret", "pine", "--allow", "tradingview")
    assert "52.89.214.238" in text and "set (alerts must carry secret=" in text
    r = httpx.post(rotated["url"], content=b"byu 1 BTCUSDT", trust_env=False)
    assert r.status_code == 401  # not an allowed source address: refused and logged
    run(alfax_server, "webhook", "set", "--account", acc, "--secret", "", "--allow", "off")
    r = httpx.post(rotated["url"], content=b"byu 1 BTCUSDT", trust_env=False)
    assert r.status_code == 400 and r.json()["errors"][0]["code"] == "E003"
    text = run(alfax_server, "alerts", "list", "--account", acc)
    assert "E003" in text and "E019" in text and "rejected" in text
    alert_id = str(r.json()["alertId"])
    shown = json.loads(run(alfax_server, "alerts", "show", "--account", acc, alert_id))
    assert shown["errors"][0]["hint"] and shown["errors"][0]["token"] == "byu"
    bad = alfax_server.cli("webhook", "set", "--account", acc)
    assert bad.returncode == 1 and "nothing to change" in bad.stderr


def test_hub_users_add_and_list(alfax_server, fresh_account):
    acc = str(fresh_account.account_id)
    out = run(alfax_server, "hub-users", "add", "--account", acc, "--email", f"u{acc}@alfax.local",
              "--password", "correct-horse")
    assert f"u{acc}@alfax.local" in out
    assert f"u{acc}@alfax.local" in run(alfax_server, "hub-users", "list")
    login = httpx.post(alfax_server.base_url + "/api/v1/session", trust_env=False,
                       data={"user[email]": f"u{acc}@alfax.local", "user[password]": "correct-horse"})
    assert login.status_code == 200 and login.json()["data"]["token"]
