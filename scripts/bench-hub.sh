#!/usr/bin/env bash
# Hub benchmarks (BENCHMARKS.md, section "Hub"): routed payments per second with p50/p99
# latency through one hub on durable SQLite, and hub memory per idle connected channel.
# Everything runs on loopback: anvil, the adjudicator, the l2pay-hub binary and the loadgen.
#
# Usage: scripts/bench-hub.sh            (all benchmarks, ~5 min on 2 cores)
#        scripts/bench-hub.sh payments   (payments only)
#        scripts/bench-hub.sh idle       (idle connections only)
# Environment (sizes): SHOPPERS MERCHANTS CONCURRENCY DURATION MAX_PAYMENTS RATE IDLE SRC_ADDRS
#        HUB_BIN / LOADGEN: use these binaries instead of building target/release ones.
#        OUT: directory for the JSON reports (default target/bench-hub).
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."

what="${1:-all}"
SHOPPERS="${SHOPPERS:-128}"
MERCHANTS="${MERCHANTS:-32}"
CONCURRENCY="${CONCURRENCY:-256}"
DURATION="${DURATION:-20}"
MAX_PAYMENTS="${MAX_PAYMENTS:-20000}"
RATE="${RATE:-100}"
SRC_ADDRS="${SRC_ADDRS:-8}"
OUT="${OUT:-target/bench-hub}"
mkdir -p "$OUT"

if [[ -z "${HUB_BIN:-}" || -z "${LOADGEN:-}" ]]; then
    cargo build --release -p l2pay-hub --bins
fi
HUB_BIN="${HUB_BIN:-target/release/l2pay-hub}"
# anvil from the npm package when present (binaries built elsewhere do not find it themselves).
npm_anvil="$PWD/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
if [[ -z "${ANVIL:-}" && -x "$npm_anvil" ]]; then export ANVIL="$npm_anvil"; fi
LOADGEN="${LOADGEN:-target/release/loadgen}"

# As many file descriptors as this process may have: each idle client costs one in the
# loadgen and one in the hub (both inherit this limit).
hard="$(ulimit -Hn)"
if [[ "$hard" == unlimited ]]; then hard=1048576; fi
ulimit -n "$hard" 2>/dev/null || true
nofile="$(ulimit -n)"
# Room for the hub's own files, the database and the HTTP/RPC sockets.
IDLE="${IDLE:-$(( nofile > 100500 ? 100000 : nofile - 1000 ))}"

echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GB", $2/1048576}' /proc/meminfo), $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== fd limit: soft $nofile, hard $(ulimit -Hn); ephemeral ports $(tr '\t' '-' </proc/sys/net/ipv4/ip_local_port_range)"
echo "== commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(date -u '+%Y-%m-%d %H:%M UTC')"

if [[ "$what" == all || "$what" == payments ]]; then
    echo
    echo "== routed payments, closed loop: $SHOPPERS shoppers, $MERCHANTS merchants, concurrency $CONCURRENCY, ${DURATION}s"
    "$LOADGEN" --hub-bin "$HUB_BIN" --shoppers "$SHOPPERS" --merchants "$MERCHANTS" \
        --concurrency "$CONCURRENCY" --duration "$DURATION" --max-payments "$MAX_PAYMENTS" \
        --json "$OUT/payments-closed.json" | grep -v '^{'
    echo
    echo "== routed payments, open loop at $RATE/s: $SHOPPERS shoppers, $MERCHANTS merchants, ${DURATION}s"
    "$LOADGEN" --hub-bin "$HUB_BIN" --shoppers "$SHOPPERS" --merchants "$MERCHANTS" \
        --concurrency "$CONCURRENCY" --duration "$DURATION" --rate "$RATE" \
        --max-payments "$MAX_PAYMENTS" --json "$OUT/payments-open.json" | grep -v '^{'
fi

if [[ "$what" == all || "$what" == idle ]]; then
    echo
    echo "== idle connected channels: $IDLE clients over $SRC_ADDRS source addresses"
    "$LOADGEN" --hub-bin "$HUB_BIN" --idle-connections "$IDLE" --source-addrs "$SRC_ADDRS" \
        --hold 5 --json "$OUT/idle.json" | grep -v '^{'
fi
echo
echo "JSON reports in $OUT/"
