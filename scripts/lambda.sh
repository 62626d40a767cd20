#!/usr/bin/env bash
# Builds the Lambda bootstrap (linux/arm64, static, stripped, -tags lambda.norpc) into dist/lambda
# (the CDK app's asset folder: nothing else goes there) and zips it, bootstrap at the zip root, into
# dist/prawn-lambda.zip for deploying by hand.
# Usage: scripts/lambda.sh   (GOARCH=amd64 scripts/lambda.sh for an x86_64 function)
set -euo pipefail
cd "$(dirname "$0")/.."
out=dist/lambda
arch=${GOARCH:-arm64}
version=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
mkdir -p "$out"
zip_path=dist/prawn-lambda.zip
rm -f "$out/bootstrap" "$out/prawn-lambda.zip" "$zip_path"
CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -tags lambda.norpc -trimpath \
  -ldflags "-s -w -X github.com/prawnhq/prawn/internal/buildinfo.Version=$version" \
  -o "$out/bootstrap" ./cmd/prawn
chmod 755 "$out/bootstrap"
# A zip without extra attributes or timestamps of the build machine's clock.
touch -d '1980-01-02 00:00:00 UTC' "$out/bootstrap"
if command -v zip >/dev/null; then
  (cd "$out" && zip -q -X -9 ../prawn-lambda.zip bootstrap)
else
  python3 - "$out" "$zip_path" <<'PY'
import sys, zipfile, os
d, zpath = sys.argv[1], sys.argv[2]
info = zipfile.ZipInfo("bootstrap", date_time=(1980, 1, 2, 0, 0, 0))
info.external_attr = 0o100755 << 16
info.compress_type = zipfile.ZIP_DEFLATED
with open(os.path.join(d, "bootstrap"), "rb") as f, zipfile.ZipFile(zpath, "w") as z:
    z.writestr(info, f.read(), compresslevel=9)
PY
fi
size=$(stat -c %s "$out/bootstrap")
zsize=$(stat -c %s "$zip_path")
echo "lambda: $out/bootstrap linux/$arch $((size / 1024)) KiB ($version), $zip_path $((zsize / 1024)) KiB"
