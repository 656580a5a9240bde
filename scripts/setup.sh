#!/usr/bin/env bash
# Installs everything l2pay's build and tests need, on a fresh Debian 12 machine or a
# developer's: Chromium + chromedriver (browser tests), PostgreSQL (hub store tests), the
# wasm32 Rust target, rustfmt and
# clippy, wasm-bindgen-cli at the exact version Cargo.lock pins (under .tools/), and the npm
# dev tooling (node_modules/). Idempotent: a second run only checks, in a few seconds.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TOOLS="$ROOT/.tools"

step() { printf '\n==> %s\n' "$*"; }
ok() { printf '    %s\n' "$*"; }
die() { printf '\nsetup.sh: %s\n' "$*" >&2; exit 1; }

# Runs a command as root: directly when we are root, else through sudo.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        die "need root (or sudo) to run: $*"
    fi
}

apt_updated=false
apt_install() {
    if ! $apt_updated; then
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
        apt_updated=true
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
}

step "System packages (Chromium, chromedriver, Node.js, PostgreSQL)"
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
command -v curl >/dev/null || missing+=(curl ca-certificates)
# The hub's store tests run against a throwaway PostgreSQL that scripts/postgres.sh starts.
if [ -f scripts/postgres.sh ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    missing+=(postgresql)
fi
if [ ${#missing[@]} -gt 0 ]; then
    apt_install "${missing[@]}"
fi
ok "chromium:     $(command -v chromium)"
ok "chromedriver: $(command -v chromedriver)"
ok "node:         $(node --version)"
# webdriver.json and .cargo/config.toml point at these paths.
[ -x /usr/bin/chromium ] || die "/usr/bin/chromium missing (webdriver.json expects it)"
[ -x /usr/bin/chromedriver ] || die "/usr/bin/chromedriver missing (.cargo/config.toml expects it)"

step "Rust toolchain (wasm32 target, rustfmt, clippy)"
if ! command -v cargo >/dev/null; then
    if [ -x "$HOME/.cargo/bin/cargo" ]; then
        export PATH="$HOME/.cargo/bin:$PATH"
    else
        curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs |
            sh -s -- -y --profile minimal ||
            die "no cargo on PATH and installing rustup failed"
        export PATH="$HOME/.cargo/bin:$PATH"
    fi
fi
command -v rustup >/dev/null || die "rustup is required (to add the wasm32 target)"
installed_targets="$(rustup target list --installed)"
if ! grep -qx wasm32-unknown-unknown <<<"$installed_targets"; then
    rustup target add wasm32-unknown-unknown
fi
cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
cargo clippy --version >/dev/null 2>&1 || rustup component add clippy
ok "$(cargo --version), target wasm32-unknown-unknown, $(cargo clippy --version)"

step "wasm-bindgen-cli (must equal the wasm-bindgen crate in Cargo.lock)"
want="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)"
[ -n "$want" ] || die "no wasm-bindgen entry in Cargo.lock"
have="$("$TOOLS/bin/wasm-bindgen" --version 2>/dev/null | awk '{ print $2 }' || true)"
if [ "$have" != "$want" ] || [ ! -x "$TOOLS/bin/wasm-bindgen-test-runner" ]; then
    ok "installing wasm-bindgen-cli $want into .tools/ (was: ${have:-none}; takes minutes)"
    # Not --locked: the crate's own lockfile pins a webpki-roots that is not in the index.
    cargo install wasm-bindgen-cli --version "$want" --root "$TOOLS" --force
    have="$("$TOOLS/bin/wasm-bindgen" --version | awk '{ print $2 }')"
    [ "$have" = "$want" ] || die "installed wasm-bindgen $have, wanted $want"
fi
ok "wasm-bindgen $have in .tools/bin"

step "npm dev tooling (node_modules/)"
lock_hash="$(sha256sum package-lock.json | awk '{ print $1 }')"
stamp="node_modules/.l2pay-lock-sha256"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_hash" ]; then
    # package-lock.json records only the linux-amd64 build of anvil's per-platform optional
    # dependencies, so npm 11's `npm ci` calls it out of sync; `npm install` accepts it and
    # leaves the lock unchanged.
    if ! npm ci --no-audit --no-fund --loglevel=error 2>/tmp/l2pay-npm-ci.log; then
        ok "npm ci refused the lock ($(grep -m1 -o 'Missing: [^ ]*' /tmp/l2pay-npm-ci.log || echo 'see /tmp/l2pay-npm-ci.log')); using npm install"
        npm install --no-audit --no-fund --loglevel=error
    fi
    echo "$lock_hash" >"$stamp"
fi
[ -x node_modules/.bin/wasm-opt ] || die "node_modules/.bin/wasm-opt missing after npm ci"
ok "node_modules matches package-lock.json; wasm-opt $(node_modules/.bin/wasm-opt --version | awk '{ print $3 }')"

printf '\nsetup.sh: done. Next: scripts/test.sh\n'
