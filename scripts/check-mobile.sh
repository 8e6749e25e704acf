#!/usr/bin/env bash
# The FFI crate (crates/uptask-ffi) checked for the phones: `cargo check` for Android
# (aarch64-linux-android, x86_64-linux-android) and iOS (aarch64-apple-ios), with the targets'
# std from rustup. ring compiles C and assembly for the target even for a check; without the
# Android NDK or an iOS SDK here, Debian's clang compiles it against the few libc declarations
# in scripts/mobile-libc. Nothing is linked: an app's build uses its NDK or SDK.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v clang >/dev/null 2>&1 || ! command -v llvm-ar >/dev/null 2>&1; then
  echo "== installing clang and llvm (Debian's), to compile ring's C for the phones"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang llvm >/dev/null
fi
targets=(aarch64-linux-android x86_64-linux-android aarch64-apple-ios)
rustup target add "${targets[@]}"
libc="$PWD/scripts/mobile-libc"
args=()
for target in "${targets[@]}"; do
  t="${target//-/_}"
  case "$target" in
    *-apple-ios) clang_target=arm64-apple-ios14 ;;
    *) clang_target="${target}24" ;;
  esac
  export "CC_$t=clang" "AR_$t=llvm-ar" \
    "CFLAGS_$t=--target=$clang_target -ffreestanding -nostdlibinc -isystem $libc"
  args+=(--target "$target")
done
# cc asks for the iOS SDK's path unless SDKROOT names one.
SDKROOT="$libc" cargo check -p uptask-ffi "${args[@]}" --locked --quiet
echo "checked for ${targets[*]}"
