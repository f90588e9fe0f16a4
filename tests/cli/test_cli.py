"""``alfax`` CLI: argument errors (exit 2), operator commands against a live server, banner format."""

from __future__ import annotations

import json
import subprocess
import time
from decimal import Decimal

import pytest

from alfax_harness import PYTHON, Rest, free_port

from alfax.cli.banner import render_banner
from alfax.cli.main import build_parser, main, sign_params


def run(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-m", "alfax.cli.main", *args], capture_output=True, text=True, timeout=timeout)


# ---------------------------------------------------------------------------------------------- offline


@pytest.mark.parametrize("argv", [
    [],
    ["bogus"],
    ["serve", "--port", "99999"],
    ["serve", "--port", "http"],
    ["serve", "--speed", "0"],
    ["serve", "--speed", "-3"],
    ["serve", "--feed", "kafka"],
    ["serve", "--feed", "files:"],
    ["serve", "--unknown-flag"],
    ["accounts"],
    ["accounts", "create", "--balance", "abc"],
    ["accounts", "create", "--balance", "-5"],
    ["accounts", "create", "--balance", "1.123456789"],
    ["accounts", "fund", "x", "10"],
    ["accounts", "fund", "1"],
    ["accounts", "fund", "0", "10"],
    ["accounts", "fund", "1", "zero"],
    ["accounts", "fund", "1", "0"],
    ["keys", "create"],
    ["keys", "create", "1", "--permissions", "read,withdraw"],
    ["keys", "create", "1", "--permissions", ""],
    ["keys", "list", "--account", "-1"],
    ["keys", "revoke"],
    ["accounts", "list", "--url", "ftp://x"],
    ["replay-check"],
])
def test_argument_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as ei:
        main(argv)
    assert ei.value.code == 2
    err = capsys.readouterr().err
    assert "usage:" in err and "error:" in err


def test_argument_error_via_console_process():
    res = run("serve", "--port", "70000")
    assert res.returncode == 2
    assert "invalid port '70000'" in res.stderr


def test_help_lists_commands():
    res = run("--help")
    assert res.returncode == 0
    for cmd in ("serve", "accounts", "keys", "replay-check"):
        assert cmd in res.stdout


def test_missing_operator_credentials(tmp_path):
    res = run("accounts", "list", "--db", str(tmp_path / "none.db"))
    assert res.returncode == 1
    assert "operator credentials not found" in res.stderr and "none.db.operator.json" in res.stderr


def test_unreachable_server(tmp_path):
    db = tmp_path / "x.db"
    (tmp_path / "x.db.operator.json").write_text(json.dumps({"apiKey": "k", "secretKey": "s"}))
    port = free_port()
    res = run("accounts", "list", "--db", str(db), "--url", f"http://127.0.0.1:{port}")
    assert res.returncode == 1
    assert "cannot reach alfax" in res.stderr and str(port) in res.stderr
    assert "Traceback" not in res.stderr


def test_serve_builds_config(monkeypatch, tmp_path):
    """`alfax serve` maps flags onto alfax.server.ServeConfig and calls serve(config)."""
    import alfax.server as server

    seen = {}
    monkeypatch.setattr(server, "serve", lambda cfg: seen.setdefault("cfg", cfg))
    inst = tmp_path / "inst.json"
    inst.write_text("{}")
    assert main(["serve", "--host", "0.0.0.0", "--port", "9001", "--db", str(tmp_path / "a.db"),
                 "--speed", "5", "--instruments", str(inst)]) == 0
    cfg = seen["cfg"]
    assert (cfg.host, cfg.port, cfg.db_path, cfg.feed, cfg.speed, cfg.instruments_path) == \
        ("0.0.0.0", 9001, str(tmp_path / "a.db"), "replay", 5.0, str(inst))
    conf = tmp_path / "serve.json"
    conf.write_text(json.dumps({"port": 9002, "speed": 2, "feed": "replay"}))
    seen.clear()
    assert main(["serve", "--config", str(conf), "--port", "9003"]) == 0
    assert (seen["cfg"].port, seen["cfg"].speed, seen["cfg"].db_path) == (9003, 2.0, "./alfax.db")


def test_banner_format():
    text = render_banner("http://127.0.0.1:8080", "KEY123", "SECRET456")
    lines = text.splitlines()
    assert lines[:4] == [
        "alfax serving on http://127.0.0.1:8080",
        "Demo account 1 with 10000 USDT",
        "  API key:    KEY123",
        "  API secret: SECRET456",
    ]
    for needle in ("fapiPublicV3", "fapiPrivateV2", "fapiData", "http://127.0.0.1:8080/futures/data",
                   "'fetchCurrencies': False", "'fetchMargins': False", "'types': ['linear']",
                   "'warnWithoutSymbol': False", '"only_from_ccxt": true', "Client.FUTURES_URL = 'http://127.0.0.1:8080/fapi'",
                   "Client.API_URL = 'http://127.0.0.1:8080/api'", "Client.FUTURES_DATA_URL"):
        assert needle in text, needle
    # the ccxt snippet is valid python that builds an exchange pointed at the venue
    start = text.index("import ccxt")
    snippet = "\n".join(ln[4:] for ln in text[start - 4:].split("\n\n")[0].splitlines())
    snippet = snippet.replace("print(ex.fetch_balance()['USDT'])", "")
    ns: dict = {}
    exec(compile(snippet, "<banner>", "exec"), ns)
    ex = ns["ex"]
    assert ex.urls["api"]["fapiPrivateV3"] == "http://127.0.0.1:8080/fapi/v3"
    assert ex.options["fetchCurrencies"] is False


def test_sign_params_matches_binance_example():
    # Binance docs example (SIGNED endpoint security): secret/params -> known signature
    secret = "2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9"
    params = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": 1, "price": 9000,
              "timeInForce": "GTC", "recvWindow": 5000, "timestamp": 1591702613943}
    assert sign_params(secret, params).endswith(
        "&signature=3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9")


# ---------------------------------------------------------------------------------------------- live server


def test_accounts_and_keys_roundtrip(alfax_server):
    res = alfax_server.cli("accounts", "create", "--alias", "cli-test", "--balance", "1234.5")
    assert res.returncode == 0, res.stderr
    out = res.stdout
    key = [ln.split()[-1] for ln in out.splitlines() if ln.startswith("  API key:")][0]
    secret = [ln.split()[-1] for ln in out.splitlines() if ln.startswith("  API secret:")][0]
    acc_id = int(out.split()[1])
    rest = Rest(alfax_server.base_url, key, secret)
    try:
        acct = rest.ok("GET", "/fapi/v3/account")
        assert Decimal(acct["totalWalletBalance"]) == Decimal("1234.5")

        res = alfax_server.cli("accounts", "list", "--json")
        assert res.returncode == 0, res.stderr
        rows = json.loads(res.stdout)
        mine = [r for r in rows if int(r["accountId"]) == acc_id]
        assert mine and mine[0]["alias"] == "cli-test" and Decimal(str(mine[0]["walletBalance"])) == Decimal("1234.5")
        assert any(int(r["accountId"]) == 1 for r in rows)  # the demo account
        table = alfax_server.cli("accounts", "list")
        assert table.returncode == 0 and "cli-test" in table.stdout and "accountId" in table.stdout

        res = alfax_server.cli("accounts", "fund", str(acc_id), "100.25")
        assert res.returncode == 0, res.stderr
        assert "1334.75" in res.stdout
        acct = rest.ok("GET", "/fapi/v3/account")
        assert Decimal(acct["totalWalletBalance"]) == Decimal("1334.75")
        inc = rest.ok("GET", "/fapi/v1/income", {"incomeType": "TRANSFER"})
        assert sum(Decimal(i["income"]) for i in inc) == Decimal("1334.75")

        res = alfax_server.cli("keys", "create", str(acc_id), "--permissions", "read", "--json")
        assert res.returncode == 0, res.stderr
        ro = json.loads(res.stdout)
        assert ro["apiKey"] and ro["secretKey"]
        perms = ro["permissions"]
        assert (perms if isinstance(perms, list) else perms.split(",")) == ["read"]

        res = alfax_server.cli("keys", "list", "--account", str(acc_id), "--json")
        assert res.returncode == 0, res.stderr
        keys = json.loads(res.stdout)
        assert {k["apiKey"] for k in keys} >= {key, ro["apiKey"]}
        assert all(int(k["accountId"]) == acc_id for k in keys)
        assert all(k["enabled"] is True for k in keys)
        listing = alfax_server.cli("keys", "list")
        assert listing.returncode == 0 and ro["apiKey"] in listing.stdout

        res = alfax_server.cli("keys", "revoke", ro["apiKey"])
        assert res.returncode == 0, res.stderr
        assert ro["apiKey"] in res.stdout
        revoked = Rest(alfax_server.base_url, ro["apiKey"], ro["secretKey"])
        try:
            deadline = time.time() + 10  # key caches may take a few seconds to expire
            while True:
                r = revoked.signed("GET", "/fapi/v3/account")
                if r.status_code != 200 or time.time() > deadline:
                    break
                time.sleep(0.5)
            assert r.status_code == 401, r.text
            assert r.json() == {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}
        finally:
            revoked.close()
        keys = json.loads(alfax_server.cli("keys", "list", "--account", str(acc_id), "--json").stdout)
        assert [k["enabled"] for k in keys if k["apiKey"] == ro["apiKey"]] == [False]
        # the account's other key keeps working
        assert rest.signed("GET", "/fapi/v3/account").status_code == 200
    finally:
        rest.close()


def test_operator_api_errors_are_reported(alfax_server):
    res = alfax_server.cli("accounts", "fund", "987654", "10")
    assert res.returncode == 1
    assert "code" in res.stderr and "Traceback" not in res.stderr
    res = alfax_server.cli("keys", "revoke", "no-such-key-xyz")
    assert res.returncode == 1 and "Traceback" not in res.stderr


def test_trader_key_cannot_use_operator_api(alfax_server):
    r = Rest(alfax_server.base_url, alfax_server.api_key, alfax_server.secret)
    try:
        resp = r.signed("GET", "/alfax/admin/accounts")
        assert resp.status_code == 401 and resp.json()["code"] == -2015, resp.text
    finally:
        r.close()


def test_build_parser_defaults():
    args = build_parser().parse_args(["keys", "create", "7"])
    assert args.permissions == "read,trade" and args.url == "http://127.0.0.1:8080" and args.db == "./alfax.db"
    args = build_parser().parse_args(["keys", "create", "7", "--permissions", "TRADE, read"])
    assert args.permissions == "read,trade"
