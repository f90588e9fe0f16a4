#!/usr/bin/env bash
# Live Hummingbot binance_perpetual check against a local alfax (loopback only). Bounded. Measured on 2 cores:
# install 379 s with an empty pip cache (Hummingbot's sdist compiles Cython), 103 s when pip's wheel cache already
# holds the built hummingbot wheel, ~2 s when the venv is already there; the run itself ~45 s.
#
#   scripts/ci_hummingbot.sh
#
# Env:
#   HB_VENV        Hummingbot venv to create/reuse            (default <repo>/.hbvenv)
#   HB_PY312       Python 3.12 to build it with                (default: $(pyenv root)/versions/3.12*/bin/python,
#                                                                 else python3.12)
#   ALFAX_PYTHON   python with alfax + httpx + websockets      (default <repo>/.venv/bin/python, else python3)
#   HB_PHASES      connector,cli (default) | connector | cli
#   HB_RUN_TIMEOUT seconds for the whole check                 (default 600)
#   KEEP_WORKDIR   1 = keep the temp dir (server log, Hummingbot logs, reports) after success
#
# Steps: create the 3.12 venv and `pip install hummingbot==20260922` with tests/hummingbot/constraints-py312.txt
# (skipped when that exact version already imports), then tests/hummingbot/hb_runner.py run: alfax serve on a
# free port with a temp db; REST + WebSocket preflight; the unmodified connector driven directly (ready, MARKET
# open, reduce-only MARKET close, far LIMIT + cancel); the same cycle from a V2 script run by
# `hbot start --foreground`; verification through the signed REST API. Only PERPETUAL_BASE_URL and
# PERPETUAL_WS_URL are changed, at import time, by tests/hummingbot/pypath/sitecustomize.py.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HB_VERSION=20260922
HB_VENV="${HB_VENV:-$ROOT/.hbvenv}"
if [[ -z "${ALFAX_PYTHON:-}" ]]; then
  if [[ -x "$ROOT/.venv/bin/python" ]]; then ALFAX_PYTHON="$ROOT/.venv/bin/python"
  else ALFAX_PYTHON=python3; fi
fi

find_py312() {
  if [[ -n "${HB_PY312:-}" ]]; then echo "$HB_PY312"; return; fi
  if command -v pyenv >/dev/null 2>&1; then
    local p
    for p in "$(pyenv root)"/versions/3.12*/bin/python; do
      [[ -x "$p" ]] && { echo "$p"; return; }
    done
  fi
  command -v python3.12 || true
}

start=$(date +%s)
if [[ -x "$HB_VENV/bin/python" ]] && "$HB_VENV/bin/python" - "$HB_VERSION" <<'EOF' 2>/dev/null
import sys
from importlib.metadata import version
import hummingbot.connector.derivative.binance_perpetual.binance_perpetual_derivative  # noqa: F401 (compiled parts)
sys.exit(0 if version("hummingbot") == sys.argv[1] else 1)
EOF
then
  echo "== Hummingbot $HB_VERSION already installed in $HB_VENV"
else
  PY312="$(find_py312)"
  if [[ -z "$PY312" ]]; then
    echo "no Python 3.12 found (Hummingbot $HB_VERSION needs >= 3.12: pandas-ta); set HB_PY312" >&2
    exit 2
  fi
  echo "== installing hummingbot==$HB_VERSION into $HB_VENV with $PY312 (compiles Cython: ~6 min on 2 cores, ~2 min with the wheel cached)"
  "$PY312" -m venv "$HB_VENV"
  # The pin set keeps pip 23's resolver out of a web3/websockets/eip712 backtracking dead end
  # (ResolutionImpossible without it).
  "$HB_VENV/bin/pip" install -q -c "$ROOT/tests/hummingbot/constraints-py312.txt" "hummingbot==$HB_VERSION"
fi
install_s=$(( $(date +%s) - start ))
echo "hummingbot install step took ${install_s} s"

run_start=$(date +%s)
args=(run --hb-python "$HB_VENV/bin/python" --phases "${HB_PHASES:-connector,cli}")
[[ "${KEEP_WORKDIR:-0}" == "1" ]] && args+=(--keep)
set +e
timeout -k 30 "${HB_RUN_TIMEOUT:-600}" "$ALFAX_PYTHON" "$ROOT/tests/hummingbot/hb_runner.py" "${args[@]}"
rc=$?
set -e
[[ $rc -eq 124 ]] && echo "HUMMINGBOT CHECK FAILED: timed out after ${HB_RUN_TIMEOUT:-600}s"
echo "hummingbot run took $(( $(date +%s) - run_start )) s (install ${install_s} s)"
exit $rc
