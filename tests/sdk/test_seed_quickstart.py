'''The documentation's "Python SDK Quickstart" (seed 000) runs as written against a real alfax.

Only the credentials and ``base_url`` literals are substituted (the demo account's key from the ``alfax serve``
banner; the demo account is a 10k-2step STAGE_1 challenge, so ``get_challenge_status`` has a status to show).
The snippet is kept here verbatim; when ``shared/seeds`` is beside the repository, the test also checks that the
seed still contains exactly this snippet.
'''

from __future__ import annotations

import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from alfax import Client

QUICKSTART = '''from alfax import Client

c = Client(
    api_key="YOUR_API_KEY",
    api_secret="YOUR_API_SECRET",
    base_url="https://api.alfax.trade",  # optional: defaults to api.alfax.trade
)

# Check challenge status
status = c.get_challenge_status()
print(status["currentEquity"], status["profitCurrent"])

# Place a market order
order = c.new_order(
    symbol="BTCUSDT",
    side="BUY",
    type="MARKET",
    quantity="0.001",
)
'''

SEEDS = Path(__file__).resolve().parents[3] / "shared" / "seeds"


def test_snippet_is_the_seed_text():
    seeds = sorted(SEEDS.glob("000_*.txt"))
    if not seeds:  # shared/ is not beside this checkout: the verbatim copy above is the reference
        return
    assert QUICKSTART.strip() in seeds[0].read_text()


def test_quickstart_runs_as_written(alfax_server, tmp_path):
    code = (QUICKSTART.replace('"YOUR_API_KEY"', repr(alfax_server.api_key))
            .replace('"YOUR_API_SECRET"', repr(alfax_server.secret))
            .replace('"https://api.alfax.trade"', repr(alfax_server.base_url))
            + "print('ORDER', order.orderId, order.status)\n")
    assert code.count(alfax_server.api_key) == 1 and "api.alfax.trade\"" not in code
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=str(tmp_path))
    assert r.returncode == 0, r.stdout + r.stderr
    first, last = r.stdout.strip().splitlines()[0], r.stdout.strip().splitlines()[-1]
    equity, profit = first.split()
    assert Decimal(equity) > 0 and Decimal(profit) <= Decimal(equity)
    m = re.fullmatch(r"ORDER (\d+) (\w+)", last)
    assert m, r.stdout
    with Client(api_key=alfax_server.api_key, api_secret=alfax_server.secret, base_url=alfax_server.base_url) as c:
        placed = c.get_order(symbol="BTCUSDT", order_id=int(m.group(1)))
        assert placed.type == "MARKET" and placed.side == "BUY" and placed.origQty == Decimal("0.001")
        assert placed.status in ("NEW", "FILLED")
