#!/usr/bin/env bash
# Live Freqtrade smoke test against a local alfax (loopback only). Bounded: < 6 minutes.
#
#   scripts/ci_freqtrade.sh
#
# Env:
#   FREQTRADE     freqtrade executable          (default /work/ftvenv/bin/freqtrade)
#   ALFAX_PYTHON  python with alfax + httpx      (default /work/venv/bin/python, else python3)
#   FT_SECONDS    how long Freqtrade trades      (default 240)
#   KEEP_WORKDIR  1 = keep the temp dir (logs, config, dbs) after success
#   FT_NO_EXCHANGE_STOPLOSS  1 = diagnostic run without stoploss_on_exchange (and without the algo-order check)
#   FT_SEED_ORDERS  N = diagnostic: first place+cancel N orders on the demo account so the venue's orderIds run
#                   ahead of its algoIds (works around orderId/algoId collisions, which crash Freqtrade)
#
# Steps: start `alfax serve` on a free port with a tmp db and --speed 1, create an account through the CLI,
# write the Freqtrade config (tests/freqtrade/config.template.json), run
# `timeout -s INT $FT_SECONDS freqtrade trade ...` with tests/freqtrade/strategies/AlfaxSmoke.py, then verify
# through the signed REST API (tests/freqtrade/ft_runner.py verify). Exit status is the verification's.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FREQTRADE="${FREQTRADE:-/work/ftvenv/bin/freqtrade}"
if [[ -z "${ALFAX_PYTHON:-}" ]]; then
  if [[ -x /work/venv/bin/python ]]; then ALFAX_PYTHON=/work/venv/bin/python; else ALFAX_PYTHON=python3; fi
fi
PY="$ALFAX_PYTHON"
FT_SECONDS="${FT_SECONDS:-240}"
RUNNER="$ROOT/tests/freqtrade/ft_runner.py"

if [[ ! -x "$FREQTRADE" ]] && ! command -v "$FREQTRADE" >/dev/null 2>&1; then
  echo "freqtrade not found at $FREQTRADE (set FREQTRADE=...)" >&2
  exit 2
fi

WORK="$(mktemp -d /tmp/alfax-ft.XXXXXX)"
SERVER_PID=""
cleanup() {
  local rc=$?
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -INT "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  if [[ $rc -ne 0 || "${KEEP_WORKDIR:-0}" == "1" ]]; then
    echo "work dir kept: $WORK (server.log, ft.log, config.json)"
  else
    rm -rf "$WORK"
  fi
  exit $rc
}
trap cleanup EXIT

cd "$WORK"
PORT="$("$PY" "$RUNNER" free-port)"
URL="http://127.0.0.1:$PORT"
DB="$WORK/alfax.db"

echo "== starting alfax on $URL (db $DB)"
PYTHONUNBUFFERED=1 "$PY" -m alfax.cli.main serve --host 127.0.0.1 --port "$PORT" --db "$DB" --speed 1 \
  >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
if ! "$PY" "$RUNNER" wait --url "$URL" --timeout 90; then
  echo "---- server.log"; tail -n 60 "$WORK/server.log"; exit 1
fi

echo "== creating a trading account through the CLI"
if ACC_JSON="$("$PY" -m alfax.cli.main accounts create --alias freqtrade --balance 10000 --json --url "$URL" --db "$DB")"; then
  KEY="$(printf '%s' "$ACC_JSON" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["apiKey"])')"
  SECRET="$(printf '%s' "$ACC_JSON" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["secretKey"])')"
else
  echo "WARNING: 'alfax accounts create' failed; falling back to the demo account from the banner" >&2
  KEY="$(sed -n 's/^  API key:    //p' "$WORK/server.log" | head -n1)"
  SECRET="$(sed -n 's/^  API secret: //p' "$WORK/server.log" | head -n1)"
fi
[[ -n "$KEY" && -n "$SECRET" ]] || { echo "no API credentials" >&2; exit 1; }

if [[ "${FT_SEED_ORDERS:-0}" != "0" ]]; then
  DEMO_KEY="$(sed -n 's/^  API key:    //p' "$WORK/server.log" | head -n1)"
  DEMO_SECRET="$(sed -n 's/^  API secret: //p' "$WORK/server.log" | head -n1)"
  echo "DIAGNOSTIC MODE: seeding ${FT_SEED_ORDERS} orders on the demo account"
  "$PY" "$RUNNER" seed-orders --url "$URL" --key "$DEMO_KEY" --secret "$DEMO_SECRET" --n "$FT_SEED_ORDERS"
fi
EXTRA_CFG=(); EXTRA_VERIFY=()
if [[ "${FT_NO_EXCHANGE_STOPLOSS:-0}" == "1" ]]; then
  echo "DIAGNOSTIC MODE: stoploss_on_exchange disabled, algo-order check skipped"
  EXTRA_CFG=(--no-exchange-stoploss); EXTRA_VERIFY=(--no-algo)
fi
"$PY" "$RUNNER" write-config --url "$URL" --key "$KEY" --secret "$SECRET" --workdir "$WORK" --out "$WORK/config.json" \
  ${EXTRA_CFG[@]+"${EXTRA_CFG[@]}"}
mkdir -p "$WORK/ft_user_data"
"$FREQTRADE" create-userdir --userdir "$WORK/ft_user_data" >/dev/null 2>&1 || true

echo "== running freqtrade for ${FT_SECONDS}s"
START_MS="$("$PY" -c 'import time; print(int(time.time()*1000))')"
set +e
timeout -s INT -k 30 "$FT_SECONDS" "$FREQTRADE" trade \
  --config "$WORK/config.json" \
  --strategy AlfaxSmoke --strategy-path "$ROOT/tests/freqtrade/strategies" \
  --userdir "$WORK/ft_user_data" --logfile "$WORK/ft.log"
FT_RC=$?
set -e
echo "freqtrade exit code: $FT_RC (124 = stopped by the timeout, expected)"
echo "---- freqtrade log: warnings/errors and order activity"
grep -E "WARNING|ERROR|Exception|Traceback|Entering|Exiting|Order .* (created|cancelled|filled)|stoploss|Stoploss|timeout|Fill" \
  "$WORK/ft.log" | grep -v "Heartbeat" | tail -n 80 || true

echo "== verifying through the REST API"
set +e
"$PY" "$RUNNER" verify --url "$URL" --key "$KEY" --secret "$SECRET" ${EXTRA_VERIFY[@]+"${EXTRA_VERIFY[@]}"}
VERIFY_RC=$?
set -e
if [[ $VERIFY_RC -ne 0 ]]; then
  echo "---- server.log (tail)"; tail -n 40 "$WORK/server.log"
fi
exit $VERIFY_RC
