#!/usr/bin/env bash
# The islands probe (see README, "What the 120 KB first visit would take"): builds
# bench/islands twice with the release WASM's settings (`make bench-islands` passes the
# Makefile's WASM_RELEASE_ENV) and prints what each build's browser download weighs,
# gzip -9: the floor (one trivial island) and the sign-in card as an island.
set -euo pipefail
cd "$(dirname "$0")/islands"
export CARGO_TARGET_DIR=../../target/islands-probe
out=$CARGO_TARGET_DIR/out
gz() { gzip -9 -c "$1" | wc -c; }
for features in hydrate hydrate,form; do
  cargo build -q --lib --target wasm32-unknown-unknown --profile wasm-release --features "$features" \
    -Zbuild-std=std,panic_abort -Zbuild-std-features=optimize_for_size
  rm -rf "$out"
  wasm-bindgen --target web --out-dir "$out" "$CARGO_TARGET_DIR/wasm32-unknown-unknown/wasm-release/islands_probe.wasm"
  wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals "$out/islands_probe_bg.wasm" -o "$out/opt.wasm"
  name=$([ "$features" = hydrate ] && echo "floor (one trivial island)" || echo "sign-in card as an island")
  printf '%-28s WASM %7d B raw, %6d B gzip; JS %6d B gzip\n' "$name" \
    "$(stat -c %s "$out/opt.wasm")" "$(gz "$out/opt.wasm")" "$(gz "$out/islands_probe.js")"
done
