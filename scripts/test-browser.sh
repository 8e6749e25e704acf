#!/usr/bin/env bash
# The browser tests: the uptask crate and the uptask-js package built for wasm32 and run in
# headless Chromium (wasm-bindgen-test-runner driving chromedriver) against `uptask serve` and
# the independent tus server on loopback, and straight to SeaweedFS through our signer and
# @uppy/companion; Uppy itself (@uppy/core + @uppy/aws-s3) through both; then the built
# package's TypeScript declarations compiled and its demo page used through chromedriver.
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
if ! command -v weed >/dev/null 2>&1 || ! python3 -c 'import boto3' 2>/dev/null; then
  pip install --quiet -r peers/requirements.txt
fi
if [ ! -x crates/uptask-js/node_modules/.bin/tsc ] || [ ! -x crates/uptask-js/node_modules/.bin/esbuild ]; then
  (cd crates/uptask-js && npm install --no-package-lock --no-audit --no-fund --silent)
fi

echo "== cargo clippy for wasm32 (the browser backend, the JavaScript package, their tests)"
cargo clippy -p uptask --target wasm32-unknown-unknown --lib --test browser --locked -- -D warnings
cargo clippy -p uptask-js --target wasm32-unknown-unknown --all-targets --locked -- -D warnings

cargo build -p uptask-cli --locked --quiet
store="$(mktemp -d)"
log="$store/serve.log"
# The test pages are served from one fixed origin, which uptask serve lets send credentials
# (the JavaScript package's withCredentials defaults to true, as Taro's does); any other
# origin may call without them.
page_port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
export WASM_BINDGEN_TEST_ADDRESS="127.0.0.1:$page_port"
target/debug/uptask serve --addr 127.0.0.1:0 --dir "$store/files" --max-size 8MiB \
  --allow-origin "http://127.0.0.1:$page_port" 2> "$log" &
server=$!
tus_log="$store/tus.log"
node peers/tus-server.mjs 0 "$store/tus" > "$tus_log" 2>&1 &
tus_peer=$!
# SeaweedFS for S3 from the page: a bucket whose CORS rules let any origin sign requests and
# read the ETag of each part.
if (exec 3<>/dev/tcp/127.0.0.1/8333) 2>/dev/null; then
  echo "port 8333 is taken: stop the S3 store listening there first" >&2
  exit 1
fi
s3_key=browser-key s3_secret=browser-secret s3_bucket=browser
printf '{"identities":[{"name":"page","credentials":[{"accessKey":"%s","secretKey":"%s"}],"actions":["Admin","Read","Write","List"]}]}' \
  "$s3_key" "$s3_secret" > "$store/s3.json"
peers/weed-mini.sh "$store/weed" "$store/s3.json" > "$store/weed.log" 2>&1 &
weed=$!
trap 'kill "$server" "$tus_peer" "$weed" $signer $open_signer $companion 2>/dev/null; wait "$weed" 2>/dev/null; rm -rf "$store"' EXIT
export AWS_ACCESS_KEY_ID="$s3_key" AWS_SECRET_ACCESS_KEY="$s3_secret" AWS_REGION=us-east-1
# The signer for direct uploads from the page: uptask serve on a bucket of its own, serving
# Companion's S3 routes behind a token. It holds the keys; the page only gets presigned URLs.
signed_bucket=signed signer_token=page-token signer_log="$store/signer.log"
signer=
# Uppy 6's S3 plugin sends no headers to its signer, so Uppy's uploads go through a signer
# without a token (ours, and Companion), both on one bucket under their own prefixes.
uppy_bucket=uppy open_signer_log="$store/open-signer.log" companion_log="$store/companion.log"
open_signer= companion=
s3_check() {
  python3 - "$@" <<'PY'
import sys, time, boto3
s3 = boto3.client("s3", endpoint_url="http://127.0.0.1:8333")
what, bucket = sys.argv[1], sys.argv[2]
if what == "setup":
    for _ in range(120):  # the store takes a few seconds to come up
        try:
            s3.create_bucket(Bucket=bucket)
            break
        except Exception as e:
            last = e
            time.sleep(0.5)
    else:
        sys.exit(f"the S3 store did not come up: {last}")
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [{
        "AllowedOrigins": ["*"], "AllowedMethods": ["GET", "PUT", "POST", "DELETE", "HEAD"],
        "AllowedHeaders": ["*"], "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 600}]})
elif what == "signed":
    # The signer picked the keys: every object under the prefix must be one a page sent,
    # byte for byte, and nothing else (no binding, no aborted file) may be left.
    want = sorted(int(n) for n in sys.argv[4:])
    objects = s3.list_objects_v2(Bucket=bucket, Prefix=sys.argv[3]).get("Contents", [])
    if sorted(o["Size"] for o in objects) != want:
        sys.exit(f"s3://{bucket} holds {[(o['Key'], o['Size']) for o in objects]}, expected sizes {want}")
    for o in objects:
        got = s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
        if got != bytes(i % 251 for i in range(len(got))):
            sys.exit(f"s3://{bucket}/{o['Key']}: the stored bytes differ from those the page sent")
        print(f"s3://{bucket}/{o['Key']}: the {len(got)} bytes the page sent through the signer")
    uploads = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    if uploads:
        sys.exit(f"multipart uploads left open in s3://{bucket}: {uploads}")
else:
    for pair in sys.argv[3:]:
        key, size = pair.split("=")
        got = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        if got != bytes(i % 251 for i in range(int(size))):
            sys.exit(f"s3://{bucket}/{key}: {len(got)} stored bytes differ from the {size} sent")
        print(f"s3://{bucket}/{key}: the {len(got)} bytes sent from the page")
    # The aborted upload left neither an object nor an open multipart upload.
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))
    if keys != sorted(p.split("=")[0] for p in sys.argv[3:]):
        sys.exit(f"the bucket holds {keys}")
    uploads = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    if uploads:
        sys.exit(f"multipart uploads left open: {uploads}")
PY
}
s3_check setup "$s3_bucket"
s3_check setup "$signed_bucket"
s3_check setup "$uppy_bucket"
target/debug/uptask serve --addr 127.0.0.1:0 --dir "$store/open-signer" \
  --store "s3://$uppy_bucket/from-uppy" --endpoint http://127.0.0.1:8333 2> "$open_signer_log" &
open_signer=$!
(cd peers && exec node companion.mjs http://127.0.0.1:8333 "$uppy_bucket" companion/) \
  > "$companion_log" 2>&1 &
companion=$!
target/debug/uptask serve --addr 127.0.0.1:0 --dir "$store/signer" --store "s3://$signed_bucket" \
  --endpoint http://127.0.0.1:8333 --token "$signer_token" \
  --allow-origin "http://127.0.0.1:$page_port" 2> "$signer_log" &
signer=$!
for _ in $(seq 300); do
  url="$(grep -o 'http://127.0.0.1:[0-9]*' "$log" | head -1 || true)"
  peer="$(grep -o 'http://127.0.0.1:[0-9]*/files' "$tus_log" | head -1 || true)"
  signer_url="$(grep -o 'http://127.0.0.1:[0-9]*' "$signer_log" | head -1 || true)"
  open_signer_url="$(grep -o 'http://127.0.0.1:[0-9]*' "$open_signer_log" | head -1 || true)"
  companion_url="$(grep -o '^http://127.0.0.1:[0-9]*$' "$companion_log" | head -1 || true)"
  [ -n "$url" ] && [ -n "$peer" ] && [ -n "$signer_url" ] && [ -n "$open_signer_url" ] \
    && [ -n "$companion_url" ] && break
  sleep 0.1
done
[ -n "$open_signer_url" ] || { echo "the open signer did not start: $(cat "$open_signer_log")" >&2; exit 1; }
[ -n "$companion_url" ] || { echo "Companion did not start: $(cat "$companion_log")" >&2; exit 1; }
[ -n "$url" ] || { echo "uptask serve did not start: $(cat "$log")" >&2; exit 1; }
[ -n "$signer_url" ] || { echo "the signer did not start: $(cat "$signer_log")" >&2; exit 1; }
[ -n "$peer" ] || { echo "the tus peer did not start: $(cat "$tus_log")" >&2; exit 1; }
export CHROMEDRIVER=/usr/bin/chromedriver
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
export UPTASK_BROWSER_SERVER="$url"

echo "== browser tests of the library against $url and the tus peer at $peer"
UPTASK_BROWSER_TUS_PEER="$peer" UPTASK_BROWSER_S3_ENDPOINT=http://127.0.0.1:8333 \
  UPTASK_BROWSER_S3_KEY="$s3_key" UPTASK_BROWSER_S3_SECRET="$s3_secret" \
  UPTASK_BROWSER_S3_BUCKET="$s3_bucket" \
  cargo test -p uptask --target wasm32-unknown-unknown --test browser --locked
s3_check verify "$s3_bucket" browser/multipart.bin=$(((12 << 20) + 3)) browser/single.bin=$((1 << 20))
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
UPTASK_BROWSER_SIGNER="$signer_url/s3" UPTASK_BROWSER_SIGNER_TOKEN="$signer_token" \
  UPTASK_BROWSER_COMPANION="$companion_url/s3" \
  cargo test -p uptask-js --target wasm32-unknown-unknown --test page --locked
s3_check signed "$signed_bucket" "" $(((12 << 20) + 3)) $((1 << 20))

echo "== Uppy itself (@uppy/core + @uppy/aws-s3) in Chromium, through our signer and through Companion"
(cd crates/uptask-js/tests && AWS_ENDPOINT_URL_S3=http://127.0.0.1:8333 \
  python3 uppy.py "$open_signer_url" "$uppy_bucket" from-uppy/ &&
  AWS_ENDPOINT_URL_S3=http://127.0.0.1:8333 python3 uppy.py "$companion_url" "$uppy_bucket" companion/)
uppy_sizes="$(((11 << 20) + 7)) 300001"
s3_check signed "$uppy_bucket" from-uppy/ $uppy_sizes
s3_check signed "$uppy_bucket" companion/ $uppy_sizes $(((12 << 20) + 3)) $((1 << 20))

echo "== the built package: its TypeScript declarations and its demo page"
scripts/build-js.sh
(cd crates/uptask-js && node_modules/.bin/tsc --noEmit --strict --target es2022 --module esnext \
  --moduleResolution bundler --lib es2022,dom demo/typecheck.ts)
python3 crates/uptask-js/tests/demo.py "$url/upload"

echo "== the page benchmark in smoke mode (uptask-js against Uppy, 12 MiB once; numbers not judged)"
(cd crates/uptask-js/tests && python3 uppy.py --bench "$open_signer_url" 12 1)
