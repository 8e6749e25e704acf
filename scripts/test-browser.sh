#!/usr/bin/env bash
# The browser tests: the uptask crate and the uptask-js package built for wasm32 and run in
# headless Chromium (wasm-bindgen-test-runner driving chromedriver) against `uptask serve` and
# the independent tus server on loopback; then the built package's TypeScript declarations
# compiled and its demo page used through chromedriver.
# Installs what it needs: the rustup target, Debian's chromium and chromium-driver, a
# wasm-bindgen-cli of the same version as the wasm-bindgen in Cargo.lock, the tus peer and
# the TypeScript compiler.
set -euo pipefail
cd "$(dirname "$0")/.."

rustup target add wasm32-unknown-unknown
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  echo "== installing chromium and chromium-driver"
  apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null
fi
wb_version="$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"$/\1/p')"
if [ "$(wasm-bindgen-test-runner --version 2>/dev/null | awk '{print $2}')" != "$wb_version" ]; then
  echo "== installing wasm-bindgen-cli $wb_version (it must match the wasm-bindgen in Cargo.lock)"
  cargo install wasm-bindgen-cli --version "$wb_version" --quiet
fi

if [ ! -d peers/node_modules/@tus/server ]; then
  (cd peers && npm install --no-package-lock --no-audit --no-fund --silent)
fi
if [ ! -x crates/uptask-js/node_modules/.bin/tsc ]; then
  (cd crates/uptask-js && npm install --no-package-lock --no-audit --no-fund --silent)
fi

echo "== cargo clippy for wasm32 (the browser backend, the JavaScript package, their tests)"
cargo clippy -p uptask --target wasm32-unknown-unknown --lib --test browser --locked -- -D warnings
cargo clippy -p uptask-js --target wasm32-unknown-unknown --all-targets --locked -- -D warnings

cargo build -p uptask-cli --locked --quiet
store="$(mktemp -d)"
log="$store/serve.log"
target/debug/uptask serve --addr 127.0.0.1:0 --dir "$store/files" --max-size 8MiB 2> "$log" &
server=$!
tus_log="$store/tus.log"
node peers/tus-server.mjs 0 "$store/tus" > "$tus_log" 2>&1 &
tus_peer=$!
trap 'kill "$server" "$tus_peer" 2>/dev/null; rm -rf "$store"' EXIT
for _ in $(seq 100); do
  url="$(grep -o 'http://127.0.0.1:[0-9]*' "$log" | head -1 || true)"
  peer="$(grep -o 'http://127.0.0.1:[0-9]*/files' "$tus_log" | head -1 || true)"
  [ -n "$url" ] && [ -n "$peer" ] && break
  sleep 0.1
done
[ -n "$url" ] || { echo "uptask serve did not start: $(cat "$log")" >&2; exit 1; }
[ -n "$peer" ] || { echo "the tus peer did not start: $(cat "$tus_log")" >&2; exit 1; }
export CHROMEDRIVER=/usr/bin/chromedriver
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
export UPTASK_BROWSER_SERVER="$url"

echo "== browser tests of the library against $url and the tus peer at $peer"
UPTASK_BROWSER_TUS_PEER="$peer" cargo test -p uptask --target wasm32-unknown-unknown --test browser --locked
# A page cannot read the disk: the peer's copy is compared here. The one upload left (the
# aborted one was terminated) must be the test's payload, byte for byte.
python3 - "$store/tus" <<'PY'
import os, sys
d = sys.argv[1]
data = [f for f in os.listdir(d) if not f.endswith(".json")]
if len(data) != 1:
    sys.exit(f"the tus peer holds {data}, expected the one completed upload")
got = open(os.path.join(d, data[0]), "rb").read()
want = bytes(i % 251 for i in range((3 << 20) + 11))
if got != want:
    sys.exit(f"the tus peer stored {len(got)} bytes that differ from the {len(want)} sent")
print(f"the tus peer stored the {len(got)} bytes sent from the page")
PY

echo "== the JavaScript package's API driven from a page"
cargo test -p uptask-js --target wasm32-unknown-unknown --test page --locked

echo "== the built package: its TypeScript declarations and its demo page"
scripts/build-js.sh
(cd crates/uptask-js && node_modules/.bin/tsc --noEmit --strict --target es2022 --module esnext \
  --moduleResolution bundler --lib es2022,dom demo/typecheck.ts)
python3 crates/uptask-js/tests/demo.py "$url/upload"
