#!/usr/bin/env bash
# Builds the l2pay WebAssembly package into pkg/ (an npm package: ES module for the web, which
# Node also loads with initSync) and copies it to www/pkg/ for the demo pages, along with
# Chart.js in www/vendor/. Skips wasm-bindgen and wasm-opt when nothing they read changed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$ROOT/.tools/bin:$PATH"

die() { printf 'build-wasm.sh: %s\n' "$*" >&2; exit 1; }

command -v wasm-bindgen >/dev/null || die "wasm-bindgen not in .tools/bin: run scripts/setup.sh"
WASM_OPT="$ROOT/node_modules/.bin/wasm-opt" # npm binaryen; Debian's 108 produces broken output
[ -x "$WASM_OPT" ] || die "node_modules/.bin/wasm-opt missing: run scripts/setup.sh"

# Profile "wasm" (Cargo.toml): release, with the crypto crates at opt-level "s" for size.
cargo build --lib --profile wasm --target wasm32-unknown-unknown
RAW="target/wasm32-unknown-unknown/wasm/l2pay.wasm"
[ -f "$RAW" ] || die "cargo produced no $RAW"

# The first `version = ` in Cargo.toml is the [package] version.
VERSION="$(awk -F'"' '/^version = / { print $2; exit }' Cargo.toml)"

STAMP="pkg/.build-stamp"
inputs="$(
    {
        sha256sum "$RAW"
        find pkg-template -type f -print0 | sort -z | xargs -0 sha256sum
        echo "version $VERSION"
        wasm-bindgen --version
        "$WASM_OPT" --version
        sha256sum "$ROOT/scripts/build-wasm.sh"
    } | sha256sum | awk '{ print $1 }'
)"

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$inputs" ] && [ -f pkg/l2pay_core_bg.wasm ]; then
    echo "pkg/ is up to date"
else
    rm -rf pkg
    wasm-bindgen --target web --out-dir pkg --out-name l2pay_core "$RAW"
    before="$(stat -c %s pkg/l2pay_core_bg.wasm)"
    # Rust ≥ 1.82 emits these post-MVP features by default; every current browser and Node
    # 20 has them.
    "$WASM_OPT" -Oz \
        --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
        --enable-mutable-globals --enable-reference-types --enable-multivalue \
        pkg/l2pay_core_bg.wasm -o pkg/l2pay_core_bg.wasm.opt
    mv pkg/l2pay_core_bg.wasm.opt pkg/l2pay_core_bg.wasm
    echo "wasm-opt -Oz: $before -> $(stat -c %s pkg/l2pay_core_bg.wasm) bytes"
    cp pkg-template/README.md pkg/README.md
    cp pkg-template/src/*.js pkg-template/src/*.d.ts pkg/
    # wasm-bindgen declares `[Symbol.dispose]()` on its classes: pull in the lib that types
    # it, so consumers need neither `lib: ["ESNext"]` nor skipLibCheck.
    { echo '/// <reference lib="esnext.disposable" />'; cat pkg/l2pay_core.d.ts; } >pkg/l2pay_core.d.ts.tmp
    mv pkg/l2pay_core.d.ts.tmp pkg/l2pay_core.d.ts
    node -e '
        const fs = require("fs");
        const [template, out, version] = process.argv.slice(1);
        const pkg = JSON.parse(fs.readFileSync(template, "utf8"));
        pkg.version = version;
        fs.writeFileSync(out, JSON.stringify(pkg, null, 2) + "\n");
    ' pkg-template/package.json pkg/package.json "$VERSION"
    echo "$inputs" >"$STAMP"
fi

# The demo pages import ./pkg/index.js (the SDK), ./pkg/l2pay_core.js (the planner) and ./vendor/chart.umd.js (both gitignored).
mkdir -p www/pkg www/vendor
rm -rf www/pkg
cp -r pkg www/pkg
rm -f www/pkg/.build-stamp
cp -p node_modules/chart.js/dist/chart.umd.js www/vendor/chart.umd.js

raw="$(stat -c %s pkg/l2pay_core_bg.wasm)"
gz="$(gzip -9c pkg/l2pay_core_bg.wasm | wc -c)"
awk -v v="$VERSION" -v r="$raw" -v g="$gz" 'BEGIN {
    printf "l2pay %s: pkg/l2pay_core_bg.wasm %d bytes (%.1f KiB), gzip -9 %d bytes (%.1f KiB)\n", v, r, r / 1024, g, g / 1024
}'
