#!/usr/bin/env python3
"""Uppy itself (@uppy/core + @uppy/aws-s3, from npm) in headless Chromium, uploading a page
File straight to the bucket through a signer's Companion S3 routes: `uptask serve --store` or
`@uppy/companion`. One file in a multipart upload and one small enough for Uppy's single POST
form; each object is read back from the store and compared with the bytes the page made.
Usage: uppy.py SIGNER_URL BUCKET KEY_PREFIX (the store's endpoint and keys in AWS_*).

uppy.py --bench SIGNER_URL MIB RUNS times Uppy and this package (scripts/build-js.sh built)
uploading one MIB MiB page File through the signer, in turns, and prints the medians as a
Markdown table (docs/BENCHMARKS.md)."""

import os
import statistics
import subprocess
import sys
import time

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


def bench(signer, mib, runs):
    """Uppy (its parts one after another: @uppy/aws-s3 6 has no part concurrency) against this
    package at one part at a time and at four, 8 MiB parts, the same File, in rotating order."""
    bundle()
    part = 8 << 20
    clients = [("Uppy 6.3.1 (@uppy/aws-s3, parts one at a time)", "uppy", 1),
               ("uptask-js, 1 part at a time", "uptask", 1),
               ("uptask-js, 4 parts at a time", "uptask", 4)]
    times = {name: [] for name, _, _ in clients}
    with page_browser(PACKAGE) as (base, browser):
        browser.do("POST", "/timeouts", {"script": 600_000})
        browser.do("POST", "/url", {"url": f"{base}/tests/uppy/bench.html"})
        deadline = time.time() + 60
        while not browser.script("return window.benchReady === true"):
            if time.time() > deadline:
                sys.exit("the benchmark page did not load the package within 60 s")
            time.sleep(0.1)
        for run in range(runs):
            for k in range(len(clients)):
                name, client, concurrency = clients[(run + k) % len(clients)]
                got = browser.do("POST", "/execute/async", {
                    "script": "const done = arguments[arguments.length - 1];"
                              "window.benchRun(...arguments).then(done, (e) => done({error: String(e)}));",
                    "args": [client, signer, mib, part, concurrency]})
                if isinstance(got, dict):
                    sys.exit(f"{name}: {got['error']}")
                times[name].append(got / 1000)
    uppy = statistics.median(times[clients[0][0]])
    print(f"| client | median s | MB/s | throughput vs Uppy |\n|---|---:|---:|---:|")
    for name, _, _ in clients:
        t = statistics.median(times[name])
        print(f"| {name} | {t:.3f} | {mib * (1 << 20) / 1e6 / t:.0f} | {uppy / t:.2f} |")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--bench"]:
        bench(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        main()
