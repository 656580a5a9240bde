#!/usr/bin/env bash
# Hub benchmarks (BENCHMARKS.md, section "Hub"): routed payments per second with p50/p99
# latency through one hub on durable SQLite, and hub memory per idle connected channel.
# Everything runs on loopback: anvil, the adjudicator, the l2pay-hub binary and the loadgen.
#
# Usage: scripts/bench-hub.sh            (all benchmarks, ~5 min on 2 cores)
#        scripts/bench-hub.sh payments   (payments only)
#        scripts/bench-hub.sh idle       (idle connections only)
#        scripts/bench-hub.sh attack     (open loop at $RATE/s while authenticated attackers
#                                         flood and 1,000 sockets stall; not part of "all")
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
# Every benchmark client connects from loopback: lift the hub's per-IP handshake cap, and for the
# idle run its connection cap (both sized for hostile peers by default; hub/src/server/limits.rs).
LOOPBACK_ARGS=(--hub-arg=--max-handshakes=4096 --hub-arg=--max-handshakes-per-ip=4096)
IDLE_ARGS=("${LOOPBACK_ARGS[@]}" "--hub-arg=--max-connections=$(( IDLE + 256 ))"
    "--hub-arg=--max-unfunded-channels=$(( IDLE + 256 ))")

echo "== commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(date -u '+%Y-%m-%d %H:%M UTC')"

if [[ "$what" == all || "$what" == payments ]]; then
    echo
    echo "== routed payments, closed loop: $SHOPPERS shoppers, $MERCHANTS merchants, concurrency $CONCURRENCY, ${DURATION}s"
    "$LOADGEN" --hub-bin "$HUB_BIN" --shoppers "$SHOPPERS" --merchants "$MERCHANTS" \
        --concurrency "$CONCURRENCY" --duration "$DURATION" --max-payments "$MAX_PAYMENTS" \
        "${LOOPBACK_ARGS[@]}" --json "$OUT/payments-closed.json" | grep -v '^{'
    echo
    echo "== routed payments, open loop at $RATE/s: $SHOPPERS shoppers, $MERCHANTS merchants, ${DURATION}s"
    "$LOADGEN" --hub-bin "$HUB_BIN" --shoppers "$SHOPPERS" --merchants "$MERCHANTS" \
        --concurrency "$CONCURRENCY" --duration "$DURATION" --rate "$RATE" \
        --max-payments "$MAX_PAYMENTS" "${LOOPBACK_ARGS[@]}" --json "$OUT/payments-open.json" | grep -v '^{'
fi

if [[ "$what" == all || "$what" == idle ]]; then
    echo
    echo "== idle connected channels: $IDLE clients over $SRC_ADDRS source addresses"
    "$LOADGEN" --hub-bin "$HUB_BIN" --idle-connections "$IDLE" --source-addrs "$SRC_ADDRS" \
        --hold 5 "${IDLE_ARGS[@]}" --json "$OUT/idle.json" | grep -v '^{'
fi
if [[ "$what" == attack ]]; then
    echo
    echo "== routed payments at $RATE/s under attack: $SHOPPERS shoppers, $MERCHANTS merchants, ${DURATION}s"
    # The honest clients open their channels 16 at a time from 127.0.0.1: the per-IP handshake
    # cap (16) is raised a little for them; every attacker has its own source address. The
    # connection cap is sized for this machine's descriptors (the default, 900, suits
    # `ulimit -n 1024`), so the 1,000 stalled sockets are held until the header timeout.
    "$LOADGEN" --hub-bin "$HUB_BIN" --attack --shoppers "$SHOPPERS" --merchants "$MERCHANTS" \
        --concurrency "$CONCURRENCY" --duration "$DURATION" --rate "$RATE" \
        --max-payments "$MAX_PAYMENTS" --hub-arg=--max-handshakes-per-ip=64 \
        --hub-arg=--max-connections="${MAX_CONNECTIONS:-4096}" \
        --json "$OUT/attack.json" | grep -v '^{'
fi
echo
echo "JSON reports in $OUT/"
