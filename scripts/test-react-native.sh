#!/usr/bin/env bash
# The React Native package (packages/react-native-uptask), as far as a machine without a
# phone, an emulator or Hermes can take it:
#   1. uniffi-bindgen-react-native generates the JSI bindings (TypeScript and C++) and the
#      TurboModule's glue from uptask-ffi's library;
#   2. tsc --strict type-checks the package with those bindings, and its tests;
#   3. g++ compiles the generated C++ against the JSI and CallInvoker headers of the
#      react-native package, and links it with the Rust library allowing no undefined symbol
#      (every function the C++ calls is there, with its name);
#   4. Node's test runner runs the package's JavaScript over a stand-in engine, and over the
#      real one through the N-API bindings the same generator writes (same TypeScript API),
#      against real servers.
# UPTASK_FFI_LIB_DIR: where libuptask_ffi.so is (default: target/debug, built if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
pkg="$root/packages/react-native-uptask"

lib_dir="${UPTASK_FFI_LIB_DIR:-$root/target/debug}"
lib="$lib_dir/libuptask_ffi.so"
if [ ! -f "$lib" ]; then
  cargo build --workspace --locked --quiet
fi

(cd "$pkg" && npm install --no-package-lock --no-audit --no-fund --silent)
ubrn="$pkg/node_modules/.bin/ubrn"
# The command is Rust, built by cargo on first use (its own Cargo.lock); kept under target/
# so that reinstalling the npm packages does not build it again.
export CARGO_TARGET_DIR="$root/target/ubrn"

echo "-- generating the bindings"
node "$pkg/scripts/sync-shared.mjs"
rm -rf "$pkg/src/generated" "$pkg/cpp/generated" "$pkg/tests/napi"
# Library mode asks cargo about the workspace, so these run from its root.
"$ubrn" generate jsi bindings --library --no-format \
  --ts-dir "$pkg/src/generated" --cpp-dir "$pkg/cpp/generated" "$lib"
"$ubrn" generate napi bindings --library "$lib" --no-format \
  --ts-dir "$pkg/tests/napi" --lib-absolute
(cd "$pkg" && "$ubrn" generate jsi turbo-module --config ubrn.config.yaml uptask_ffi)

echo "-- tsc --strict"
(cd "$pkg" && node_modules/.bin/tsc -p tsconfig.json --noEmit && node_modules/.bin/tsc -p tsconfig.test.json --noEmit)

echo "-- g++: the generated C++ against react-native's JSI headers, linked with the Rust library"
rn="$pkg/node_modules/react-native/ReactCommon"
includes=(-I "$pkg/cpp" -I "$pkg/cpp/generated" -I "$pkg/node_modules/uniffi-bindgen-react-native/cpp/includes"
  -I "$rn" -I "$rn/jsi" -I "$rn/callinvoker")
obj="$(mktemp -d)"
trap 'rm -rf "$obj"' EXIT
# C++20 and -Werror, as React Native builds its modules.
g++ -std=c++20 -fPIC -Wall -Werror "${includes[@]}" -c "$pkg/cpp/generated/uptask_ffi.cpp" -o "$obj/bindings.o"
g++ -std=c++20 -fPIC -Wall -Werror "${includes[@]}" -c "$pkg/cpp/react-native-uptask.cpp" -o "$obj/module.o"
g++ -std=c++20 -fPIC -I "$rn/jsi" -c "$rn/jsi/jsi/jsi.cpp" -o "$obj/jsi.o"
g++ -shared -Wl,--no-undefined -o "$obj/libreact-native-uptask.so" \
  "$obj/bindings.o" "$obj/module.o" "$obj/jsi.o" -L "$lib_dir" -luptask_ffi

unset CARGO_TARGET_DIR

echo "-- node --test"
(cd "$pkg" && UPTASK_BIN="${UPTASK_BIN:-$root/target/debug/uptask}" \
  node --import tsx --test tests/layer.test.ts tests/engine.test.ts)
