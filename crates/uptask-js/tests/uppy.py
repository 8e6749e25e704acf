#!/usr/bin/env python3
"""Uppy itself (@uppy/core + @uppy/aws-s3, from npm) in headless Chromium, uploading a page
File straight to the bucket through a signer's Companion S3 routes: `uptask serve --store` or
`@uppy/companion`. One file in a multipart upload and one small enough for Uppy's single POST
form; each object is read back from the store and compared with the bytes the page made.
Usage: uppy.py SIGNER_URL BUCKET KEY_PREFIX (the store's endpoint and keys in AWS_*)."""

import os
import subprocess
import sys

import boto3

from demo import page_browser

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE = os.path.dirname(HERE)
PAGE = os.path.join(HERE, "uppy")


def bundle():
    """The page's script: Uppy and its S3 plugin, bundled from the package's dev dependencies."""
    esbuild = os.path.join(PACKAGE, "node_modules", ".bin", "esbuild")
    subprocess.run([esbuild, os.path.join(PAGE, "entry.js"), "--bundle", "--format=iife",
                    "--log-level=warning", f"--outfile={os.path.join(PAGE, 'uppy.bundle.js')}"],
                   check=True, cwd=PACKAGE)


def main():
    signer, bucket, prefix = sys.argv[1:4]
    bundle()
    s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL_S3"])
    with page_browser(PAGE) as (base, browser):
        browser.do("POST", "/timeouts", {"script": 120_000})
        browser.do("POST", "/url", {"url": f"{base}/index.html"})
        for name, size, multipart in [("uppy-parts.bin", (11 << 20) + 7, True),
                                      ("uppy-form.bin", 300_001, False)]:
            got = browser.do("POST", "/execute/async", {
                "script": "const done = arguments[arguments.length - 1];"
                          "window.uppyUpload(...arguments).then(done, (e) => done({error: String(e)}));",
                "args": [signer, name, size, multipart]})
            if "error" in got:
                sys.exit(f"Uppy through {signer}: {name}: {got['error']}")
            key = got["key"]
            if not key.startswith(prefix):
                sys.exit(f"Uppy through {signer}: {name} went to {key!r}, outside {prefix!r}")
            stored = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            if stored != bytes(i % 251 for i in range(size)):
                sys.exit(f"Uppy through {signer}: s3://{bucket}/{key}: {len(stored)} stored bytes "
                         f"differ from the {size} the page sent")
            if got["progress"] < 1 or got["last"] != size:
                sys.exit(f"Uppy through {signer}: {name}: progress {got}")
            print(f"Uppy through {signer}: s3://{bucket}/{key} holds the {size} bytes of the page's "
                  f"File ({'multipart' if multipart else 'one POST form'}, {got['progress']} progress events)")


if __name__ == "__main__":
    main()
