"""``alfax products|challenges|payouts|audit``: argument errors offline, then every command against the session's
real ``alfax serve`` on loopback (tests/integration/server_fixtures.py)."""

from __future__ import annotations

import json
import uuid

import pytest

from alfax_harness import PYTHON, mark_price

from alfax.cli.main import main

BTC = "BTCUSDT"


# ---------------------------------------------------------------------------------------------- offline


@pytest.mark.parametrize("argv", [
    ["products"],
    ["products", "show"],
    ["products", "show", "two words"],
    ["challenges"],
    ["challenges", "list", "--status", "WON"],
    ["challenges", "show"],
    ["challenges", "show", "not-a-uuid"],
    ["challenges", "show", "0"],
    ["challenges", "start", "--product", "10k-2step"],
    ["challenges", "start", "--account", "5"],
    ["challenges", "start", "--account", "0", "--product", "10k-2step"],
    ["challenges", "start", "--account", "5", "--product", "10k-2step", "--stage", "STAGE_9"],
    ["challenges", "fail", "5"],
    ["challenges", "fail", "5", "--reason", "   "],
    ["challenges", "fail", "x", "--reason", "r"],
    ["challenges", "fail", "5", "--reason", "x" * 501],
    ["payouts"],
    ["payouts", "list", "--status", "lost"],
    ["payouts", "list", "--challenge", "abc"],
    ["payouts", "approve"],
    ["payouts", "reject", "p1"],
    ["audit", "--limit", "0"],
    ["audit", "--limit", "1001"],
    ["audit", "--limit", "ten"],
])
def test_argument_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as ei:
        main(argv)
    assert ei.value.code == 2
    err = capsys.readouterr().err
    assert "usage:" in err and "error:" in err


def test_help_lists_the_challenge_commands():
    import subprocess

    res = subprocess.run([PYTHON, "-m", "alfax.cli.main", "--help"], capture_output=True, text=True, timeout=30)
    assert res.returncode == 0
    for cmd in ("products", "challenges", "payouts", "audit"):
        assert cmd in res.stdout


def test_api_errors_exit_1_under_python_m(tmp_path):
    """Under ``python -m alfax.cli.main`` a server error is a clean exit 1 (CliError of the running module)."""
    import subprocess

    from alfax_harness import free_port

    db = tmp_path / "x.db"
    (tmp_path / "x.db.operator.json").write_text(json.dumps({"apiKey": "k", "secretKey": "s"}))
    res = subprocess.run([PYTHON, "-m", "alfax.cli.main", "challenges", "list", "--db", str(db), "--url",
                          f"http://127.0.0.1:{free_port()}"], capture_output=True, text=True, timeout=30)
    assert res.returncode == 1 and "cannot reach alfax" in res.stderr and "Traceback" not in res.stderr


# ---------------------------------------------------------------------------------------------- live server


def ok(srv, *args: str) -> str:
    res = srv.cli(*args)
    assert res.returncode == 0, f"alfax {' '.join(args)} -> {res.returncode}\n{res.stdout}\n{res.stderr}"
    return res.stdout


def ok_json(srv, *args: str):
    return json.loads(ok(srv, *args, "--json"))


def fails(srv, *args: str, code: int) -> str:
    res = srv.cli(*args)
    assert res.returncode == 1, f"alfax {' '.join(args)} -> {res.returncode}\n{res.stdout}\n{res.stderr}"
    assert f"code {code}:" in res.stderr and "Traceback" not in res.stderr, res.stderr
    return res.stderr


def open_position(srv, account, rules) -> None:
    rest = srv.rest(account)
    try:
        qty = rules[BTC].qty_for_notional(mark_price(rest, BTC), 300)
        rest.ok("POST", "/fapi/v1/order", {"symbol": BTC, "side": "BUY", "type": "MARKET", "quantity": str(qty)})
        pos = [p for p in rest.ok("GET", "/fapi/v2/positionRisk", {"symbol": BTC}) if float(p["positionAmt"])]
        assert pos
    finally:
        rest.close()


def test_products(alfax_server):
    rows = ok_json(alfax_server, "products", "list")
    two = next(r for r in rows if r["productId"] == "10k-2step")
    assert two["accountSize"] == "10000" and two["stages"] == ["STAGE_1", "STAGE_2", "FUNDED"]
    table = ok(alfax_server, "products", "list")
    assert table.splitlines()[0].split()[:2] == ["productId", "title"] and "10k-2step" in table
    assert "STAGE_1>STAGE_2>FUNDED" in table

    p = ok_json(alfax_server, "products", "show", "10k-2step")
    assert p["productId"] == "10k-2step" and p["rulesVersion"] == two["rulesVersion"] and p["onSale"] is True
    text = ok(alfax_server, "products", "show", "10k-2step")
    assert text.startswith("Product 10k-2step: ") and "Stages (fractions of the start balance):" in text
    assert "STAGE_2" in text and "FUNDED" in text and two["rulesVersion"] in text
    err = fails(alfax_server, "products", "show", "nope", code=-4609)
    assert "Unknown productId 'nope'" in err


def test_demo_account_is_a_challenge(alfax_server):
    rows = ok_json(alfax_server, "challenges", "list", "--product", "10k-2step")
    demo = [r for r in rows if r["accountId"] == 1]
    assert demo and demo[0]["stage"] == "STAGE_1" and demo[0]["startBalance"] == "10000.00000000"
    show = ok_json(alfax_server, "challenges", "show", "1")
    assert show["accounts"][0] == 1 and show["productId"] == "10k-2step"


def test_start_show_list(alfax_server):
    acc = alfax_server.create_account("2500")
    out = ok(alfax_server, "challenges", "start", "--account", str(acc.account_id), "--product", "10k-2step")
    assert f"started on account {acc.account_id}: product 10k-2step, STAGE_1, start balance 10000.00000000 USDT" in out
    cid = out.split()[1]
    assert str(uuid.UUID(cid)) == cid

    show = ok_json(alfax_server, "challenges", "show", str(acc.account_id))
    assert show["challengeId"] == cid and show["status"] == "ACTIVE" and show["stages"][0]["accountId"] == acc.account_id
    assert ok_json(alfax_server, "challenges", "show", cid) == show
    text = ok(alfax_server, "challenges", "show", cid)
    assert text.startswith(f"Challenge {cid}: product 10k-2step") and "Stages:" in text and "room: daily" in text
    assert "Breach evidence" not in text

    rows = ok_json(alfax_server, "challenges", "list", "--status", "active", "--product", "10k-2step")
    assert any(r["challengeId"] == cid for r in rows)
    assert not any(r["challengeId"] == cid for r in ok_json(alfax_server, "challenges", "list", "--status", "FAILED"))
    table = ok(alfax_server, "challenges", "list")
    assert cid in table and table.splitlines()[0].split()[0] == "accountId"

    # the trader's own key sees the challenge
    rest = alfax_server.rest(acc)
    try:
        assert rest.ok("GET", "/fapi/v1/challenge")["challengeId"] == cid
    finally:
        rest.close()

    # errors: already a challenge, unknown product, unknown account, unknown challenge, plain account
    fails(alfax_server, "challenges", "start", "--account", str(acc.account_id), "--product", "10k-2step", code=-4602)
    other = alfax_server.create_account("100")
    fails(alfax_server, "challenges", "start", "--account", str(other.account_id), "--product", "nope", code=-4609)
    fails(alfax_server, "challenges", "start", "--account", "999999", "--product", "10k-2step", code=-1130)
    fails(alfax_server, "challenges", "show", str(uuid.uuid4()), code=-1130)
    fails(alfax_server, "challenges", "show", str(other.account_id), code=-4601)

    audit = ok_json(alfax_server, "audit", "--target", f"account:{acc.account_id}")
    assert [(r["action"], r["ok"], r["actor"]) for r in audit] == [
        ("challenge.start", False, "operator"), ("challenge.start", True, "operator")]
    assert audit[1]["detail"]["challengeId"] == cid and audit[0]["detail"]["code"] == -4602
    assert ok_json(alfax_server, "audit", "--target", f"account:{other.account_id}")[0]["detail"]["code"] == -4609


def test_start_on_an_account_with_a_position(alfax_server, rules):
    acc = alfax_server.create_account("10000")
    open_position(alfax_server, acc, rules)
    err = fails(alfax_server, "challenges", "start", "--account", str(acc.account_id), "--product", "10k-2step",
                code=-4602)
    assert "flat account" in err
    rows = ok_json(alfax_server, "audit", "--action", "challenge.start", "--target", f"account:{acc.account_id}")
    assert len(rows) == 1 and rows[0]["ok"] is False and rows[0]["detail"]["code"] == -4602


def test_fail_with_evidence(alfax_server, rules):
    acc = alfax_server.create_account("100")
    cid = ok_json(alfax_server, "challenges", "start", "--account", str(acc.account_id), "--product",
                  "10k-2step")["challengeId"]
    open_position(alfax_server, acc, rules)
    out = ok(alfax_server, "challenges", "fail", str(acc.account_id), "--reason", "account sharing")
    assert f"Challenge {cid} failed on account {acc.account_id} (STAGE_1): RULE_VIOLATION" in out
    assert "rule RULE_VIOLATION at " in out and "marks: BTCUSDT " in out and "detail: account sharing" in out

    show = ok_json(alfax_server, "challenges", "show", cid)
    assert show["status"] == "FAILED" and show["failReason"] == "RULE_VIOLATION"
    b = show["breach"]
    assert b["accountId"] == acc.account_id and b["rule"] == "RULE_VIOLATION" and BTC in b["marks"]
    assert b["detail"] == "account sharing" and show["stages"][0]["openPositions"] == 0  # flattened
    text = ok(alfax_server, "challenges", "show", str(acc.account_id))
    assert "Breach evidence:" in text and f"on account {acc.account_id} (STAGE_1)" in text
    assert any(r["challengeId"] == cid for r in ok_json(alfax_server, "challenges", "list", "--status", "FAILED"))

    fails(alfax_server, "challenges", "fail", str(acc.account_id), "--reason", "again", code=-2010)
    plain = alfax_server.create_account("100")
    fails(alfax_server, "challenges", "fail", str(plain.account_id), "--reason", "r", code=-4601)
    rows = ok_json(alfax_server, "audit", "--action", "challenge.fail", "--target", f"account:{acc.account_id}")
    assert [(r["ok"], r["detail"].get("code")) for r in rows] == [(False, -2010), (True, None)]
    assert rows[1]["detail"]["reason"] == "account sharing" and rows[1]["detail"]["challengeId"] == cid


def test_payouts(alfax_server):
    acc = alfax_server.create_account("100")
    cid = ok_json(alfax_server, "challenges", "start", "--account", str(acc.account_id), "--product", "10k-2step",
                  "--stage", "funded")["challengeId"]
    rest = alfax_server.rest(acc)
    try:
        def request(amount: str) -> str:
            res = rest.ok("POST", "/fapi/v1/payout", {"challengeId": cid, "amount": amount})
            assert res["status"] == "requested"
            return res["payoutId"]

        p1 = request("50")
        p2 = request("60")
    finally:
        rest.close()
    # no profit yet: approval would refuse both (the list says why before anyone decides)
    rows = ok_json(alfax_server, "payouts", "list", "--status", "requested", "--challenge", cid)
    assert [r["payoutId"] for r in rows] == [p1, p2]
    assert all(any("exceeds available" in b for b in r["blockers"]) for r in rows)
    table = ok(alfax_server, "payouts", "list", "--challenge", cid)
    assert p1 in table and "exceeds available" in table and table.splitlines()[0].split()[0] == "payoutId"

    res = alfax_server.cli("payouts", "approve", p1, "--tx-ref", "bank-42")
    assert res.returncode == 1 and f"Payout {p1} was not paid: rejected: " in res.stderr
    assert "exceeds available" in res.stderr
    fails(alfax_server, "payouts", "approve", p1, code=-4604)  # approve twice
    fails(alfax_server, "payouts", "approve", str(uuid.uuid4()), code=-4603)
    out = ok(alfax_server, "payouts", "reject", p2, "--reason", "KYC not complete")
    assert out.strip() == f"Payout {p2} rejected: KYC not complete"
    fails(alfax_server, "payouts", "reject", p2, "--reason", "again", code=-4604)

    rej = ok_json(alfax_server, "payouts", "list", "--status", "rejected", "--challenge", cid)
    assert [(r["payoutId"], r["failReason"]) for r in rej][1] == (p2, "KYC not complete")
    assert ok_json(alfax_server, "payouts", "list", "--status", "paid", "--challenge", cid) == []
    show = ok_json(alfax_server, "challenges", "show", cid)
    assert [p["payoutId"] for p in show["payouts"]] == [p1, p2]
    assert "Payouts:" in ok(alfax_server, "challenges", "show", cid)

    a1 = ok_json(alfax_server, "audit", "--target", p1)
    assert [(r["action"], r["ok"]) for r in a1] == [("payout.approve", False), ("payout.approve", True)]
    assert a1[1]["detail"]["status"] == "rejected" and a1[1]["detail"]["txRef"] == "bank-42"
    assert a1[0]["detail"]["code"] == -4604 and all(r["actor"] == "operator" for r in a1)
    a2 = ok_json(alfax_server, "audit", "--target", p2, "--action", "payout.reject")
    assert [r["ok"] for r in a2] == [False, True] and a2[1]["detail"]["reason"] == "KYC not complete"


def test_audit_table(alfax_server):
    acc = alfax_server.create_account("100")
    ok(alfax_server, "challenges", "start", "--account", str(acc.account_id), "--product", "10k-1step")
    text = ok(alfax_server, "audit", "--limit", "5")
    head = text.splitlines()[0].split()
    assert head == ["id", "time", "actor", "action", "target", "ok", "detail"]
    assert f"account:{acc.account_id}" in text and "challenge.start" in text and "operator" in text
    rows = ok_json(alfax_server, "audit", "--limit", "1")
    assert len(rows) == 1 and rows[0]["target"] == f"account:{acc.account_id}" and rows[0]["ok"] is True
    assert ok_json(alfax_server, "audit", "--action", "no.such.action") == []
    assert ok(alfax_server, "audit", "--action", "no.such.action").strip() == "(none)"
