"""Real servers on loopback for the Python binding's tests: `uptask serve`, busboy (an
independent multipart parser) and @tus/server, started from the repository's peers/."""

import hashlib
import os
import queue
import re
import subprocess
import threading
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
PEERS = os.path.join(ROOT, "peers")


def uptask_bin():
    """The uptask CLI: UPTASK_BIN, or the workspace's debug build."""
    path = os.environ.get("UPTASK_BIN", os.path.join(ROOT, "target", "debug", "uptask"))
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is missing: build it with `cargo build -p uptask-cli` or set UPTASK_BIN")
    return path


class Server:
    """A process that names where it listens on stdout or stderr (the first match of
    `pattern`, whose group 1 is the port); killed at the end."""

    def __init__(self, argv, pattern, stream="stdout", **kw):
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, **kw)
        lines = queue.Queue()

        def read(pipe):
            for line in pipe:
                lines.put(line)

        # Both pipes are drained for the server's whole life, so it never blocks on them.
        for pipe in (self.proc.stdout, self.proc.stderr):
            threading.Thread(target=read, args=(pipe,), daemon=True).start()
        deadline = time.time() + 30
        self.url = None
        while self.url is None:
            left = deadline - time.time()
            if left <= 0:
                self.proc.kill()
                pytest.fail(f"{argv[0]} did not say where it listens within 30 s")
            try:
                line = lines.get(timeout=left)
            except queue.Empty:
                continue
            found = re.search(pattern, line)
            if found:
                self.url = "http://127.0.0.1:" + found.group(1)

    def stop(self):
        self.proc.kill()
        self.proc.wait(timeout=10)


@pytest.fixture
def serve(tmp_path):
    """`uptask serve` storing in a temporary directory, with at most 4 MiB per request."""
    s = Server([uptask_bin(), "serve", "--addr", "127.0.0.1:0", "--dir", str(tmp_path / "store"),
                "--max-size", "4MiB"], r"http://127\.0\.0\.1:(\d+)")
    yield s
    s.stop()


@pytest.fixture
def busboy():
    if not os.path.isdir(os.path.join(PEERS, "node_modules", "busboy")):
        pytest.fail("busboy is not installed in peers/ (run `npm install` there)")
    s = Server(["node", "form-echo.mjs", "0"], r"listening on (\d+)", cwd=PEERS)
    yield s
    s.stop()


@pytest.fixture
def tus_peer(tmp_path):
    if not os.path.isdir(os.path.join(PEERS, "node_modules", "@tus", "server")):
        pytest.fail("@tus/server is not installed in peers/ (run `npm install` there)")
    store = tmp_path / "tus"
    store.mkdir()
    s = Server(["node", "tus-server.mjs", "0", str(store)], r"http://127\.0\.0\.1:(\d+)/files",
               cwd=PEERS)
    s.url += "/files"
    s.store = store
    yield s
    s.stop()


def make_file(directory, name, size):
    """A file of `size` random bytes, and its sha256."""
    data = os.urandom(size)
    path = os.path.join(str(directory), name)
    with open(path, "wb") as f:
        f.write(data)
    return path, hashlib.sha256(data).hexdigest()
