#!/usr/bin/env bash
# The Kotlin binding (crates/uptask-ffi/kotlin): uniffi writes the bindings from the built
# library, Maven compiles them and the idiomatic layer with the Kotlin compiler from Maven
# Central, and JUnit runs the layer on the JVM (JNA loading libuptask_ffi.so) against
# `uptask serve`, busboy and @tus/server (scripts/check-mobile.sh checks the Rust side for
# Android and iOS).
#
#   UPTASK_FFI_LIB_DIR  the directory holding a built libuptask_ffi.so (scripts/test.sh passes
#                       the one the Python package was built with); without it, cargo builds one.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v mvn >/dev/null 2>&1; then
  echo "== installing Maven (Debian's maven)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq maven >/dev/null
fi
if [ ! -d peers/node_modules/busboy ] || [ ! -d peers/node_modules/@tus/server ]; then
  (cd peers && npm install --no-package-lock --no-audit --no-fund --silent)
fi

lib_dir="${UPTASK_FFI_LIB_DIR:-}"
if [ -z "$lib_dir" ]; then
  cargo build -p uptask-ffi --locked --quiet
  lib_dir="$PWD/target/debug"
fi
[ -x target/debug/uptask ] || cargo build -p uptask-cli --locked --quiet
[ -x target/debug/uniffi-bindgen ] || cargo build -p uptask-ffi --bin uniffi-bindgen --locked --quiet
rm -rf target/uniffi/kotlin
target/debug/uniffi-bindgen generate --library "$lib_dir/libuptask_ffi.so" --language kotlin \
  --out-dir target/uniffi/kotlin --no-format
mvn -B -q -f crates/uptask-ffi/kotlin/pom.xml test -Duptask.lib="$lib_dir"
