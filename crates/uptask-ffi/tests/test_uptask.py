"""The Python binding as an application uses it, against real servers on loopback."""

import asyncio
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

import uptask
from conftest import make_file


def test_multipart_progress_headers_and_result_in_order(busboy, tmp_path):
    path, digest = make_file(tmp_path, "photo.jpg", 3 << 20)
    order, seen = [], []
    task = uptask.upload_file(busboy.url + "/upload", path, "file",
                              header={"X-Trace": "py"}, form_data={"album": "trip", "n": 7})
    assert isinstance(task, uptask.UploadTask)
    chained = task.progress(lambda p: (seen.append(p), order.append("progress"))) \
        .headers_received(lambda h: order.append(("headers", h.header["content-type"])))
    assert chained is task
    done = task.wait(timeout=30)
    order.append("result")
    assert done.err_msg == "uploadFile:ok" and done.status_code == 200
    reply = json.loads(done.data)
    assert reply["files"][0]["sha256"] == digest, "busboy read other bytes than the file's"
    assert [(f["name"], f["value"]) for f in reply["fields"]] == [("album", "trip"), ("n", "7")]
    assert reply["headers"]["x-trace"] == "py"
    sent = [p.total_bytes_sent for p in seen]
    assert sent == sorted(sent), "progress went back"
    last = seen[-1]
    assert last.progress == 100 and last.total_bytes_sent == last.total_bytes_expected_to_send
    assert last.total_bytes_sent == reply["bytesReceived"], "progress is not the bytes the server read"
    heads = [e for e in order if isinstance(e, tuple)]
    assert heads == [("headers", "application/json")], order
    assert order.index(heads[0]) < order.index("result")
    assert done.header["content-type"] == "application/json"


def test_an_early_413_is_the_result_not_an_error(serve, tmp_path):
    path, _ = make_file(tmp_path, "big.bin", 16 << 20)
    done = uptask.upload_file(serve.url + "/upload", path, "file").wait(timeout=30)
    assert done.status_code == 413, done.data


def test_a_missing_file_fails_before_any_byte_goes_out(tmp_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.5)
    url = "http://127.0.0.1:%d/upload" % listener.getsockname()[1]
    task = uptask.upload_file(url, str(tmp_path / "nope.bin"), "file")
    with pytest.raises(uptask.UploadError) as failed:
        task.wait(timeout=10)
    assert failed.value.kind == "invalidInput"
    assert failed.value.err_msg.startswith("uploadFile:fail file not found")
    with pytest.raises(socket.timeout):
        listener.accept()  # nobody connected
    listener.close()


def test_bad_options_fail_as_upload_errors(tmp_path):
    path, _ = make_file(tmp_path, "a.bin", 10)
    with pytest.raises(uptask.UploadError) as failed:
        uptask.upload_file("http://127.0.0.1:9/x", path, "file", protocol="ftp").wait(timeout=5)
    assert failed.value.kind == "invalidInput" and "ftp" in failed.value.err_msg
    with pytest.raises(uptask.UploadError) as failed:
        uptask.upload_file("http://127.0.0.1:9/x", path, "file", part_size=8 << 20).wait(timeout=5)
    assert "part_size and concurrency are for protocol" in failed.value.err_msg
    with pytest.raises(TypeError):
        uptask.upload_file("http://127.0.0.1:9/x", path, "file", header=["not a pair"])


def test_abort_from_another_thread_mid_upload(busboy, tmp_path):
    path, _ = make_file(tmp_path, "slow.bin", 8 << 20)
    task = uptask.upload_file(busboy.url + "/upload?slow_ms=20", path, "file")
    started = threading.Event()
    task.on_progress_update(lambda p: p.total_bytes_sent > 0 and started.set())
    assert started.wait(20), "no progress within 20 s"
    results = []
    aborter = threading.Thread(target=lambda: results.append(task.abort()))
    aborter.start()
    aborter.join(10)
    assert results == [True]
    with pytest.raises(uptask.UploadError) as failed:
        task.wait(timeout=10)
    assert failed.value.err_msg == "uploadFile:fail abort" and failed.value.kind == "aborted"
    assert task.abort() is False, "abort after the end says so"


def test_await_and_abort_from_asyncio(busboy, tmp_path):
    path, digest = make_file(tmp_path, "a.bin", 1 << 20)
    # Big enough to outlast the kernel's socket buffers against a server that reads slowly.
    big, _ = make_file(tmp_path, "big.bin", 16 << 20)

    async def main():
        done = await uptask.upload_file(busboy.url + "/upload", path, "file")
        assert json.loads(done.data)["files"][0]["sha256"] == digest
        slow = uptask.upload_file(busboy.url + "/upload?slow_ms=20", big, "file")
        loop = asyncio.get_running_loop()
        moving = asyncio.Event()
        slow.on_progress_update(lambda p: loop.call_soon_threadsafe(moving.set))
        waiting = asyncio.ensure_future(slow)
        await asyncio.wait_for(moving.wait(), 20)
        assert slow.abort()
        with pytest.raises(uptask.UploadError) as failed:
            await asyncio.wait_for(waiting, 10)
        assert failed.value.kind == "aborted"
        # Cancelling the coroutine that awaits an upload aborts the upload.
        third = uptask.upload_file(busboy.url + "/upload?slow_ms=20", big, "file")
        pending = asyncio.ensure_future(third)
        await asyncio.sleep(0.2)
        assert pending.cancel(), "the upload ended before it could be cancelled"
        with pytest.raises(asyncio.CancelledError):
            await pending
        with pytest.raises(uptask.UploadError):
            third.wait(timeout=10)

    asyncio.run(main())


def test_a_listener_that_raises_does_not_break_the_upload(busboy, tmp_path, caplog):
    path, digest = make_file(tmp_path, "a.bin", 2 << 20)

    def broken(_):
        raise RuntimeError("listener bug")

    calls = []
    task = uptask.upload_file(busboy.url + "/upload", path, "file")
    task.on_progress_update(broken)
    task.on_progress_update(lambda p: calls.append(p.progress))
    done = task.wait(timeout=30)
    assert json.loads(done.data)["files"][0]["sha256"] == digest
    assert calls and calls[-1] == 100
    assert "listener bug" in caplog.text


def test_off_removes_one_listener_or_all(busboy, tmp_path):
    path, _ = make_file(tmp_path, "a.bin", 8 << 20)
    task = uptask.upload_file(busboy.url + "/upload?slow_ms=20", path, "file")
    kept, dropped, heads = [], [], []
    gone = task.on_progress_update(dropped.append)
    task.on_progress_update(kept.append)
    assert task.off_progress_update(gone) is True
    assert task.off_progress_update(gone) is False
    before = len(dropped)  # what it had before it was removed
    h = task.on_headers_received(heads.append)
    assert task.off_headers_received() is True
    assert h > 0
    task.wait(timeout=30)
    assert kept and kept[-1].progress == 100
    assert len(dropped) == before and not heads, "a removed listener was called"


def test_a_listener_added_after_the_end_gets_what_it_missed(busboy, tmp_path):
    path, _ = make_file(tmp_path, "small.bin", 64 << 10)
    task = uptask.upload_file(busboy.url + "/upload", path, "file")
    done = task.wait(timeout=30)
    progress, heads = [], []
    task.progress(progress.append).headers_received(heads.append)
    assert [p.progress for p in progress] == [100], "only the latest update, once"
    assert [h.header["content-type"] for h in heads] == [done.header["content-type"]]


def test_wait_with_a_timeout_leaves_the_upload_running(busboy, tmp_path):
    path, _ = make_file(tmp_path, "a.bin", 8 << 20)
    task = uptask.upload_file(busboy.url + "/upload?slow_ms=20", path, "file")
    with pytest.raises(TimeoutError):
        task.wait(timeout=0.05)
    assert task.wait(timeout=60).status_code == 200


def test_straight_to_the_bucket_through_the_signer(signer, tmp_path):
    path, digest = make_file(tmp_path, "clip.bin", (12 << 20) + 7)
    seen = []
    task = uptask.upload_file(signer.url, path, "file", protocol="s3", form_data={"album": "trip"})
    task.on_progress_update(seen.append)
    done = task.wait(timeout=60)
    assert done.status_code == 200, done.data
    key = json.loads(done.data)["key"]
    assert key.startswith("py/") and done.upload_url == f"s3://py-direct/{key}"
    stored = signer.s3.get_object(Bucket="py-direct", Key=key)["Body"].read()
    assert hashlib.sha256(stored).hexdigest() == digest, "the bucket holds other bytes"
    assert seen[-1].progress == 100 and seen[-1].total_bytes_sent == len(stored)
    assert not signer.s3.list_multipart_uploads(Bucket="py-direct").get("Uploads"), "left open"


CHILD = r"""
import os, signal, sys, uptask
url, path, store = sys.argv[1:4]
task = uptask.upload_file(url, path, "file", protocol="tus", resume_store=store)
def kill_at_30(p):
    if p.progress >= 30:
        os.kill(os.getpid(), signal.SIGKILL)
task.on_progress_update(kill_at_30)
task.wait(timeout=60)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is a POSIX signal")
def test_tus_resumes_after_the_python_process_is_sigkilled(tus_peer, tmp_path):
    path, digest = make_file(tmp_path, "video.bin", 24 << 20)
    store = str(tmp_path / "resume")
    child = subprocess.run([sys.executable, "-c", CHILD, tus_peer.url + "/", path, store],
                           timeout=60)
    assert child.returncode == -signal.SIGKILL, child
    notices = []
    task = uptask.upload_file(tus_peer.url + "/", path, "file", protocol="tus",
                              resume_store=store)
    task.on_notice(notices.append)
    done = task.wait(timeout=60)
    assert done.status_code == 204 and done.upload_url.startswith(tus_peer.url)
    resumed = [n for n in notices if n.kind == "resumed"]
    assert resumed and 0 < resumed[0].offset < 24 << 20, notices
    assert not any(n.kind == "uploadCreated" for n in notices), "a new upload was created"
    stored = [f for f in os.listdir(tus_peer.store) if not f.endswith(".json")]
    assert len(stored) == 1, stored
    with open(os.path.join(tus_peer.store, stored[0]), "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == digest, "the server holds other bytes"
