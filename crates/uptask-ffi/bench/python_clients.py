"""The Python package against how Python users get upload progress today: `requests` posting a
`requests_toolbelt` `MultipartEncoderMonitor` (the encoder streams the file; the monitor's
callback sees every read). Both upload the same file as one multipart field to `uptask serve
--discard` on loopback, each in a fresh interpreter, in turns; each run's wall time, CPU time
and peak RSS are measured from outside (os.wait4), and the medians printed as a Markdown table.

    python crates/uptask-ffi/bench/python_clients.py [--mib 1024] [--runs 5]

Needs `uptask` (this package), `requests` and `requests-toolbelt` in the running interpreter,
and the `uptask` CLI (UPTASK_BIN, else target/release/uptask).
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))

UPTASK = r"""
import sys, uptask
url, path = sys.argv[1:3]
seen = []
task = uptask.upload_file(url, path, "file", timeout=3600)
task.on_progress_update(lambda p: seen.append(p.total_bytes_sent))
done = task.wait()
assert done.status_code == 200, (done.status_code, done.data)
assert seen, "no progress seen"
print("sent", max(seen))
"""

TOOLBELT = r"""
import os, sys, requests
from requests_toolbelt.multipart.encoder import MultipartEncoder, MultipartEncoderMonitor
url, path = sys.argv[1:3]
seen = []
with open(path, "rb") as f:
    encoder = MultipartEncoder(fields={"file": (os.path.basename(path), f, "application/octet-stream")})
    monitor = MultipartEncoderMonitor(encoder, lambda m: seen.append(m.bytes_read))
    reply = requests.post(url, data=monitor, headers={"Content-Type": monitor.content_type}, timeout=3600)
assert reply.status_code == 200, (reply.status_code, reply.text)
print("sent", max(seen))
"""


def uptask_bin():
    path = os.environ.get("UPTASK_BIN", os.path.join(ROOT, "target", "release", "uptask"))
    if not os.access(path, os.X_OK):
        sys.exit(f"{path} is missing: `cargo build --release -p uptask-cli` or set UPTASK_BIN")
    return path


def start_sink(store):
    proc = subprocess.Popen([uptask_bin(), "serve", "--discard", "--addr", "127.0.0.1:0",
                             "--dir", store, "--max-size", "64GiB"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        line = proc.stderr.readline()
        found = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        if found:
            # Drained from here on, so the access log never blocks the server.
            subprocess.Popen(["cat"], stdin=proc.stderr, stdout=subprocess.DEVNULL)
            return proc, f"http://127.0.0.1:{found.group(1)}/upload"
    proc.kill()
    sys.exit("uptask serve did not say where it listens within 30 s")


def timed(code, url, path):
    """Wall s, CPU s and peak RSS MiB of one client in a fresh interpreter."""
    start = time.monotonic()
    child = subprocess.Popen([sys.executable, "-c", code, url, path], stdout=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.monotonic() - start
    out = child.stdout.read()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"a client failed: {out}")
    sent = int(out.split()[-1])
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, sent


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mib", type=int, default=1024, help="file size in MiB (default 1024)")
    ap.add_argument("--runs", type=int, default=5, help="runs of each client (default 5)")
    args = ap.parse_args()
    clients = [("uptask (this package)", UPTASK),
               ("requests + requests-toolbelt MultipartEncoderMonitor", TOOLBELT)]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "data.bin")
        with open(path, "wb") as f:
            for _ in range(args.mib):
                f.write(os.urandom(1 << 20))
        sink, url = start_sink(os.path.join(tmp, "store"))
        try:
            results = {name: [] for name, _ in clients}
            for run in range(args.runs):
                for k in range(len(clients)):
                    name, code = clients[(run + k) % len(clients)]
                    wall, cpu, rss, sent = timed(code, url, path)
                    if sent < args.mib << 20:
                        sys.exit(f"{name} reported {sent} bytes sent of {args.mib} MiB")
                    results[name].append((wall, cpu, rss))
        finally:
            sink.kill()
    base = statistics.median(w for w, _, _ in results[clients[1][0]])
    print(f"\n### {args.mib} MiB multipart upload from Python to `uptask serve --discard` "
          f"({args.runs} runs, medians)\n")
    print("| client | wall s | CPU s | peak RSS MiB | MB/s | throughput vs toolbelt |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, runs in results.items():
        wall = statistics.median(r[0] for r in runs)
        cpu = statistics.median(r[1] for r in runs)
        rss = statistics.median(r[2] for r in runs)
        print(f"| {name} | {wall:.3f} | {cpu:.3f} | {rss:.1f} | "
              f"{(args.mib << 20) / 1e6 / wall:.0f} | {base / wall:.2f} |")


if __name__ == "__main__":
    main()
