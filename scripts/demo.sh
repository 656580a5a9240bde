#!/usr/bin/env bash
# The one-command demo: installs what is missing (scripts/setup.sh), builds the wasm package
# into www/pkg (scripts/build-wasm.sh) and the devnet binary, then runs l2pay-devnet: anvil
# with the adjudicator and the tUSD test token (demo accounts 1-5 funded), the hub on embedded
# SQLite, a demo merchant, and the pages on http://127.0.0.1:8080/. Ctrl-C stops it all.
# A second run rebuilds nothing that did not change and is ready in a few seconds.
#
#   scripts/demo.sh [--port 8080] [--hub-port 9944] [--chain-port 8545] [--data-dir DIR] [--www DIR]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

step() { printf '\n==> %s\n' "$*"; }

step "setup (scripts/setup.sh)"
scripts/setup.sh

step "wasm package (scripts/build-wasm.sh)"
scripts/build-wasm.sh

step "devnet binary (cargo build -p l2pay-devnet)"
# The dev profile: it shares the workspace's test builds, and the crypto is optimised even
# there (see Cargo.toml); the release profile's LTO would cost minutes for no visible gain.
cargo build -p l2pay-devnet
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/l2pay-devnet"

step "l2pay-devnet $*"
exec "$BIN" "$@"
