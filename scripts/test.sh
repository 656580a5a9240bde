#!/usr/bin/env bash
# The one test command: formatting, lints, native tests (the whole workspace), the wasm tests
# in headless Chromium and in Node, the contract artifact check and the end-to-end browser
# tests (tests/e2e/, after scripts/build-wasm.sh). Stops at the first failure and prints a
# summary with timings. Installs what is missing first (scripts/setup.sh).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$ROOT/.tools/bin:$PATH"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-auto}"

names=()
times=()
started=$SECONDS

summary() {
    local status=$1
    printf '\n==================== test.sh summary ====================\n'
    local i
    for i in "${!names[@]}"; do
        printf '  ok    %4ss  %s\n' "${times[$i]}" "${names[$i]}"
    done
    if [ "$status" != ok ]; then
        printf '  FAIL         %s\n' "$status"
        printf 'test.sh: FAILED at "%s" after %ss (output above)\n' "$status" "$((SECONDS - started))"
    else
        printf 'test.sh: all %d steps passed in %ss\n' "${#names[@]}" "$((SECONDS - started))"
    fi
}

# run NAME COMMAND...: runs one step, records its time, stops everything if it fails.
run() {
    local name=$1
    shift
    printf '\n==> %s\n    $ %s\n' "$name" "$*"
    local t0=$SECONDS
    if "$@"; then
        names+=("$name")
        times+=("$((SECONDS - t0))")
    else
        summary "$name"
        exit 1
    fi
}

# Installs whatever is missing (a no-op taking about a second on a machine already set up).
run "setup (scripts/setup.sh)" bash scripts/setup.sh

run "rustfmt" cargo fmt --all -- --check
run "clippy (native, all targets)" cargo clippy --workspace --all-targets -- -D warnings
run "clippy (wasm32 surface and its tests)" \
    cargo clippy --target wasm32-unknown-unknown --lib --test wasm_browser --test wasm_node -- -D warnings

# The hub's PostgreSQL store tests need a server: scripts/postgres.sh starts a throwaway one
# (idempotent, shared by every shell in this checkout). On CI a server this run started is
# stopped again at the end; one that was already running is left alone.
if [ -f scripts/postgres.sh ] && [ -z "${L2PAY_TEST_POSTGRES_URL:-}" ]; then
    printf '\n==> PostgreSQL for the hub store tests\n    $ eval "$(bash scripts/postgres.sh)"\n'
    pg_log="$(mktemp)"
    pg_env="$(bash scripts/postgres.sh 2>"$pg_log")" ||
        { cat "$pg_log" >&2; summary "PostgreSQL (scripts/postgres.sh)"; exit 1; }
    cat "$pg_log" >&2
    eval "$pg_env"
    if [ "${CI:-}" = true ] && ! grep -q "already running" "$pg_log"; then
        trap 'bash scripts/postgres.sh stop >/dev/null 2>&1 || true' EXIT
    fi
    rm -f "$pg_log"
fi

run "native tests (workspace)" cargo test --workspace
run "wasm tests (headless Chromium + Node)" \
    cargo test --target wasm32-unknown-unknown --test wasm_browser --test wasm_node

if [ -f contracts/compile.mjs ]; then
    run "contract artifacts are up to date" node contracts/compile.mjs --check
fi

# End-to-end tests: tests/e2e/**/*.spec.{mjs,js} and *.test.*, passed by name (Node 20's
# `node --test DIR` only picks up *.test.* files).
e2e=()
if [ -d tests/e2e ]; then
    while IFS= read -r -d '' f; do e2e+=("$f"); done < <(
        find tests/e2e -type f \( -name '*.spec.mjs' -o -name '*.spec.js' -o -name '*.test.mjs' \
            -o -name '*.test.js' \) -print0 | sort -z
    )
fi
if [ ${#e2e[@]} -gt 0 ]; then
    run "build wasm package" bash scripts/build-wasm.sh
    run "build the devnet (the e2e tests start it)" cargo build -p l2pay-devnet
    run "end-to-end tests (${#e2e[@]} files in tests/e2e/)" env L2PAY_SKIP_BUILD=1 node --test "${e2e[@]}"
fi

summary ok
