"""Opt-in wrapper around scripts/ci_freqtrade.sh (takes ~5 minutes): ALFAX_FREQTRADE=1 pytest tests/freqtrade."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FREQTRADE = os.environ.get("FREQTRADE", "/work/ftvenv/bin/freqtrade")


@pytest.mark.timeout(420)
@pytest.mark.skipif(os.environ.get("ALFAX_FREQTRADE") != "1", reason="set ALFAX_FREQTRADE=1 to run the live Freqtrade check")
def test_freqtrade_trades_live_against_alfax():
    if not (Path(FREQTRADE).exists() or shutil.which(FREQTRADE)):
        pytest.skip(f"freqtrade not installed at {FREQTRADE}")
    res = subprocess.run(["bash", str(ROOT / "scripts" / "ci_freqtrade.sh")], capture_output=True, text=True,
                         timeout=400, env={**os.environ, "FREQTRADE": FREQTRADE})
    print(res.stdout[-6000:])
    print(res.stderr[-3000:])
    assert res.returncode == 0, "Freqtrade live check failed (see output above)"
    assert "FREQTRADE CHECK PASSED" in res.stdout
