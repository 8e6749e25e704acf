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


WEED_KEY, WEED_SECRET, WEED_BUCKET = "AKIDPY", "SECRETPY", "py-direct"


@pytest.fixture
def signer(tmp_path):
    """SeaweedFS (`weed mini`, on its fixed port 8333) with a bucket, and `uptask serve --store
    s3://BUCKET/py` on it: the signer of direct uploads. `signer.url` is its routes' base;
    `signer.s3` a boto3 client with the store's keys, to read objects back."""
    try:
        import boto3
    except ImportError:
        pytest.fail("boto3 is missing (it reads the objects back): pip install boto3")
    import shutil
    import socket as sock
    if shutil.which("weed") is None:
        pytest.fail("weed is missing (pip install -r peers/requirements.txt)")
    with sock.socket() as probe:
        if probe.connect_ex(("127.0.0.1", 8333)) == 0:
            pytest.fail("port 8333 is taken (a weed left running?): stop it first")
    config = tmp_path / "s3.json"
    config.write_text('{"identities":[{"name":"py","credentials":[{"accessKey":"%s","secretKey":"%s"}],'
                      '"actions":["Admin","Read","Write","List"]}]}' % (WEED_KEY, WEED_SECRET))
    (tmp_path / "weed").mkdir()
    weed = subprocess.Popen([os.path.join(PEERS, "weed-mini.sh"), str(tmp_path / "weed"), str(config)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    s3 = boto3.client("s3", endpoint_url="http://127.0.0.1:8333", region_name="us-east-1",
                      aws_access_key_id=WEED_KEY, aws_secret_access_key=WEED_SECRET)
    deadline = time.time() + 60
    while True:
        try:
            s3.create_bucket(Bucket=WEED_BUCKET)
            break
        except Exception as e:  # the store takes a few seconds to come up
            if time.time() > deadline:
                weed.kill()
                pytest.fail(f"weed did not start within 60 s: {e}")
            time.sleep(0.3)
    env = dict(os.environ, AWS_ACCESS_KEY_ID=WEED_KEY, AWS_SECRET_ACCESS_KEY=WEED_SECRET,
               AWS_REGION="us-east-1", AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
    s = Server([uptask_bin(), "serve", "--addr", "127.0.0.1:0", "--dir", str(tmp_path / "unused"),
                "--store", f"s3://{WEED_BUCKET}/py", "--endpoint", "http://127.0.0.1:8333"],
               r"http://127\.0\.0\.1:(\d+)", env=env)
    s.url += "/s3"
    s.s3 = s3
    yield s
    s.stop()
    weed.kill()
    weed.wait(timeout=10)
