#!/usr/bin/env bash
# SeaweedFS for the S3 tests and benchmark: `weed mini` on 127.0.0.1 only, telemetry and the
# extra front ends off, data in DIR, identities from CONFIG (an s3.json).
# Usage: peers/weed-mini.sh DIR CONFIG
set -euo pipefail
exec weed mini -dir="$1" -ip=127.0.0.1 -ip.bind=127.0.0.1 -master.telemetry=false \
  -admin.ui=false -webdav=false -s3.port.iceberg=0 -s3.port.lance=0 -s3.config="$2"
