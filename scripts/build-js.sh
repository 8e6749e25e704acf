#!/usr/bin/env bash
# Builds the browser package: crates/uptask-js compiled to wasm32 and wrapped by wasm-bindgen
# into an ES module with TypeScript declarations, in crates/uptask-js/pkg (or the directory
# given). Needs the wasm32-unknown-unknown target and a wasm-bindgen-cli of the version in
# Cargo.lock; scripts/test-browser.sh installs both.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-crates/uptask-js/pkg}"

cargo build -p uptask-js --target wasm32-unknown-unknown --profile wasm --locked --quiet
wasm-bindgen --target web --out-dir "$out" \
  target/wasm32-unknown-unknown/wasm/uptask_js.wasm
version="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)"
cat > "$out/package.json" <<JSON
{
  "name": "uptask",
  "version": "$version",
  "description": "uploadFile for the browser: a Promise that is also the UploadTask (Taro's API)",
  "license": "MIT OR Apache-2.0",
  "type": "module",
  "main": "uptask_js.js",
  "types": "uptask_js.d.ts",
  "files": ["uptask_js.js", "uptask_js.d.ts", "uptask_js_bg.wasm", "uptask_js_bg.wasm.d.ts", "snippets"],
  "sideEffects": false
}
JSON
echo "built $out ($(du -k "$out/uptask_js_bg.wasm" | cut -f1) KiB of wasm)"
