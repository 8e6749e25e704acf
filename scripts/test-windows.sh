#!/usr/bin/env bash
# Windows: the library and the CLI build for x86_64-pc-windows-gnu (mingw-w64), and
# `uptask.exe upload` run under Wine against `uptask serve` (native, on loopback) stores
# byte-identical files over multipart and tus, with nothing drawn on a stderr that is not a
# terminal and NDJSON that parses. Installs what it needs (rustup target, Debian packages).
set -euo pipefail
cd "$(dirname "$0")/.."

rustup target add x86_64-pc-windows-gnu
need=()
command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1 || need+=(gcc-mingw-w64-x86-64)
command -v wine >/dev/null 2>&1 || need+=(wine wine64)
if [ "${#need[@]}" -gt 0 ]; then
  echo "== installing ${need[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

echo "== cargo build --target x86_64-pc-windows-gnu (library and CLI)"
cargo build --locked --profile cross --target x86_64-pc-windows-gnu -p uptask -p uptask-cli
exe="$PWD/target/x86_64-pc-windows-gnu/cross/uptask.exe"
x86_64-w64-mingw32-gcc -shared -O2 -o "$(dirname "$exe")/bcryptprimitives.dll" \
  scripts/wine/bcryptprimitives.c -ladvapi32
cargo build --locked -p uptask-cli
native=target/debug/uptask

work="$(mktemp -d)"
export WINEPREFIX="$work/wine" WINEDEBUG=-all
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  wineserver -k 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "test-windows: $*" >&2; exit 1; }

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"$native" serve --addr "127.0.0.1:$port" --dir "$work/store" >"$work/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
  (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done
(echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null || fail "uptask serve did not listen on $port"

head -c $((24 * 1024 * 1024 + 17)) /dev/urandom >"$work/big.bin"
want="$(sha256sum "$work/big.bin" | cut -d' ' -f1)"
# Wine's first start sets up its prefix; give it time once, then every run has a deadline.
timeout 300 wine "$exe" --version >/dev/null || fail "uptask.exe does not start under Wine"

echo "== uptask.exe upload (multipart) under Wine"
(cd "$work" && timeout 120 wine "$exe" upload big.bin "http://127.0.0.1:$port/upload" \
  >multipart.out 2>multipart.err) || fail "multipart upload failed: $(cat "$work/multipart.err")"
got="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["files"][0]["path"])' "$work/multipart.out")"
[ "$(sha256sum "$got" | cut -d' ' -f1)" = "$want" ] || fail "the stored file differs from the source"
[ ! -s "$work/multipart.err" ] || fail "stderr is not a terminal, yet got: $(cat -A "$work/multipart.err")"

echo "== uptask.exe upload --protocol tus --json under Wine"
(cd "$work" && timeout 120 wine "$exe" upload big.bin "http://127.0.0.1:$port/files/" \
  --protocol tus --chunk-size 4MiB --json >tus.out 2>tus.err) || fail "tus upload failed: $(cat "$work/tus.err")"
python3 - "$work/tus.out" "$work/store" "$want" <<'PY'
import hashlib, json, os, sys
events = [json.loads(line) for line in open(sys.argv[1])]
assert events[-1]["event"] == "success", events[-1]
progress = [e["totalBytesSent"] for e in events if e["event"] == "progressUpdate"]
assert progress == sorted(progress) and len(progress) > 2, progress
assert progress[-1] == os.path.getsize(os.path.join(os.path.dirname(sys.argv[1]), "big.bin")), progress[-1]
upload_id = events[-1]["uploadUrl"].rstrip("/").rsplit("/", 1)[1]
with open(os.path.join(sys.argv[2], ".tus", upload_id + ".json")) as f:
    stored = json.load(f)["stored"]
with open(stored, "rb") as f:
    assert hashlib.sha256(f.read()).hexdigest() == sys.argv[3], "tus: the stored file differs"
PY
[ ! -s "$work/tus.err" ] || fail "stderr is not a terminal, yet got: $(cat -A "$work/tus.err")"
echo "== Windows: both uploads byte-identical, stderr clean"
