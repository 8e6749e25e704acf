#!/usr/bin/env bash
# Bounded fuzzing of every target in fuzz/: `scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]`
# (default 60 s, all targets). Works on stable Rust (`--sanitizer none`). A crash fails the run
# and leaves its input in fuzz/artifacts/TARGET/; turn it into a regression test, then fix it.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(response_head chunked headers multipart_roundtrip server_multipart tus_headers server_tus)
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --version 0.13.2
status=0
for target in "${targets[@]}"; do
  echo "== fuzz $target for ${secs}s"
  log="$(mktemp)"
  if cargo fuzz run --sanitizer none "$target" -- -max_total_time="$secs" >"$log" 2>&1; then
    grep -E '^Done' "$log" || true
  else
    grep -E 'panicked|ERROR|crash-' "$log" | head -5
    status=1
  fi
  rm -f "$log"
done
exit "$status"
