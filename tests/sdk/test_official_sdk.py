"""The OFFICIAL ``alfax`` SDK 0.1.1, in its own virtual environment, against a real ``alfax serve``.

The environment is ``<repo>/.sdkvenv`` (git-ignored), created once and reused while healthy:
``python -m venv`` then ``pip install alfax==0.1.1 --ignore-requires-python`` (the wheel says Python >= 3.12; its
code runs on 3.11). ``official_sdk_check.py`` then runs there with ``python -I`` from a temporary directory, so
only the official package is importable, and calls every method of the official ``Client`` plus both streams.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sdk_helpers import operator_creds

REPO = Path(__file__).resolve().parents[2]
VENV = REPO / ".sdkvenv"
VPY = VENV / "bin" / "python"
SCRIPT = Path(__file__).resolve().with_name("official_sdk_check.py")
OFFICIAL = "alfax==0.1.1"
HEALTH = ("import importlib.metadata as m, alfax, pathlib; assert m.version('alfax') == '0.1.1', m.version('alfax'); "
          "assert not hasattr(alfax, 'AsyncClient'); from alfax import Client, MarketStream, UserStream; "
          "print(pathlib.Path(alfax.__file__).resolve())")


def _healthy() -> bool:
    if not VPY.exists():
        return False
    r = subprocess.run([str(VPY), "-I", "-c", HEALTH], capture_output=True, text=True, timeout=120, cwd="/")
    return r.returncode == 0 and str(VENV.resolve()) in r.stdout


def _clean_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "ALFAX_", "VIRTUAL_ENV"))}
    env.pop("HTTP_PROXY", None)
    env.pop("HTTPS_PROXY", None)
    return env


@pytest.fixture(scope="module")
def official_python() -> Path:
    if not _healthy():
        shutil.rmtree(VENV, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, timeout=300)
        r = subprocess.run([str(VPY), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                            "--ignore-requires-python", OFFICIAL], capture_output=True, text=True, timeout=600,
                           env=_clean_env(), cwd="/")
        assert r.returncode == 0, f"pip install {OFFICIAL} failed:\n{r.stdout}\n{r.stderr}"
        assert _healthy(), "the official SDK environment is not usable after installing it"
    return VPY


def test_official_sdk_every_method(official_python, alfax_server, tmp_path):
    plain = alfax_server.create_account("10000")
    op = operator_creds(alfax_server)
    cfg = tmp_path / "official.json"
    cfg.write_text(json.dumps({
        "base_url": alfax_server.base_url,
        "plain": [plain.api_key, plain.secret],
        "challenge": [alfax_server.api_key, alfax_server.secret],  # the demo account: a 10k-2step STAGE_1
        "operator": [op.api_key, op.secret],
    }))
    r = subprocess.run([str(official_python), "-I", str(SCRIPT), str(cfg)], capture_output=True, text=True,
                       timeout=240, cwd=str(tmp_path), env=_clean_env())
    out = r.stdout + r.stderr
    assert "official alfax SDK at " + str(VENV.resolve()) in out, out
    assert r.returncode == 0, out
