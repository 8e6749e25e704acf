#!/usr/bin/env bash
# The browser tests: the uptask crate built for wasm32 and run in headless Chromium
# (wasm-bindgen-test-runner driving chromedriver) against `uptask serve` on loopback.
# Installs what it needs: the rustup target, Debian's chromium and chromium-driver, and a
# wasm-bindgen-cli of the same version as the wasm-bindgen in Cargo.lock.
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

echo "== cargo clippy for wasm32 (the browser backend and its tests)"
cargo clippy -p uptask --target wasm32-unknown-unknown --lib --test browser --locked -- -D warnings

cargo build -p uptask-cli --locked --quiet
store="$(mktemp -d)"
log="$store/serve.log"
target/debug/uptask serve --addr 127.0.0.1:0 --dir "$store/files" --max-size 8MiB 2> "$log" &
server=$!
trap 'kill "$server" 2>/dev/null; rm -rf "$store"' EXIT
for _ in $(seq 100); do
  url="$(grep -o 'http://127.0.0.1:[0-9]*' "$log" | head -1 || true)"
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { echo "uptask serve did not start: $(cat "$log")" >&2; exit 1; }
echo "== browser tests against $url"
UPTASK_BROWSER_SERVER="$url" UPTASK_BROWSER_STORE="$store/files" \
  CHROMEDRIVER=/usr/bin/chromedriver \
  CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
  cargo test -p uptask --target wasm32-unknown-unknown --test browser --locked
