"""uptask: uploads you can abort and watch.

WeChat's UploadTask for Python, over uptask's Rust engine: one multipart POST, a resumable
tus upload, or a file straight to an S3 bucket through a signer; progress, response headers,
abort from any thread, pause and resume, and an outcome to wait for or to await.

    import uptask

    task = uptask.upload_file("http://127.0.0.1:8080/upload", "photo.jpg", "file",
                              form_data={"album": "trip"})
    task.progress(lambda p: print(p.progress, p.total_bytes_sent))
    done = task.wait()             # or: done = await task
    print(done.status_code, done.data)

Listeners run on uptask's event thread, one at a time and in order; one that raises is
logged (logger "uptask") and the upload goes on.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable, Dict, Iterable, Mapping, Optional, Tuple, Union

from . import _native

__all__ = ["upload_file", "UploadTask", "UploadSuccess", "UploadError", "Progress",
           "HeadersReceived", "Notice"]

_log = logging.getLogger("uptask")

Progress = _native.Progress
UploadSuccess = _native.UploadSuccess
Notice = _native.UploadNotice

# How long one blocking wait lasts before Python looks at its signals again (Ctrl-C).
_SLICE_MS = 200


class UploadError(Exception):
    """A failed upload: `err_msg` is WeChat's ("uploadFile:fail abort", ...), `kind` one of
    "aborted", "timeout", "connect", "tls", "io", "invalidInput", "protocol", "internal"."""

    def __init__(self, err_msg: str, kind: str) -> None:
        super().__init__(err_msg)
        self.err_msg = err_msg
        self.kind = kind


class HeadersReceived:
    """What headers listeners get: `header`, a dict of lower-cased names."""

    __slots__ = ("header",)

    def __init__(self, header: Dict[str, str]) -> None:
        self.header = header

    def __repr__(self) -> str:
        return f"HeadersReceived(header={self.header!r})"


def _guarded(what: str, cb: Callable[[Any], None], value: Any) -> None:
    try:
        cb(value)
    except Exception:  # a listener's failure is its own: the upload goes on
        _log.exception("an uptask %s listener raised; the upload goes on", what)


class _ProgressListener(_native.ProgressListener):
    def __init__(self, cb: Callable[[Progress], None]) -> None:
        self._cb = cb

    def on_progress(self, update: Progress) -> None:
        _guarded("progress", self._cb, update)


class _HeadersListener(_native.HeadersListener):
    def __init__(self, cb: Callable[[HeadersReceived], None]) -> None:
        self._cb = cb

    def on_headers(self, header: Dict[str, str]) -> None:
        _guarded("headers", self._cb, HeadersReceived(dict(header)))


class _NoticeListener(_native.NoticeListener):
    def __init__(self, cb: Callable[[Notice], None]) -> None:
        self._cb = cb

    def on_notice(self, notice: Notice) -> None:
        _guarded("notice", self._cb, notice)


class UploadTask:
    """A running upload. `await task` or `task.wait()` gives its `UploadSuccess` (whatever
    the HTTP status) or raises `UploadError`."""

    def __init__(self, native: Any) -> None:
        self._native = native

    def abort(self) -> bool:
        """Stops the upload at any stage, from any thread; False once it has ended."""
        return bool(self._native.abort())

    def on_progress_update(self, cb: Callable[[Progress], object]) -> int:
        """Adds a progress listener; returns its id for off_progress_update."""
        return int(self._native.on_progress_update(_ProgressListener(cb)))

    def off_progress_update(self, id: Optional[int] = None) -> bool:
        """Removes the progress listener `id`, or every one without it."""
        return bool(self._native.off_progress_update(id))

    def on_headers_received(self, cb: Callable[[HeadersReceived], None]) -> int:
        """Adds a listener for the response headers (called once, before the outcome)."""
        return int(self._native.on_headers_received(_HeadersListener(cb)))

    def off_headers_received(self, id: Optional[int] = None) -> bool:
        """Removes the headers listener `id`, or every one without it."""
        return bool(self._native.off_headers_received(id))

    def on_notice(self, cb: Callable[[Notice], None]) -> int:
        """Adds a listener for notices: "uploadCreated" (url), "resumed" (offset), "retrying"."""
        return int(self._native.on_notice(_NoticeListener(cb)))

    def off_notice(self, id: Optional[int] = None) -> bool:
        """Removes the notice listener `id`, or every one without it."""
        return bool(self._native.off_notice(id))

    def progress(self, cb: Callable[[Progress], None]) -> "UploadTask":
        """Chainable on_progress_update."""
        self.on_progress_update(cb)
        return self

    def headers_received(self, cb: Callable[[HeadersReceived], None]) -> "UploadTask":
        """Chainable on_headers_received."""
        self.on_headers_received(cb)
        return self

    def pause(self) -> bool:
        """Pauses a tus upload after its current chunk."""
        return bool(self._native.pause())

    def resume(self) -> bool:
        """Resumes a paused tus upload from the server's offset."""
        return bool(self._native.resume())

    def wait(self, timeout: Optional[float] = None) -> UploadSuccess:
        """Blocks until the upload ends and returns its outcome; raises UploadError if it
        failed, TimeoutError if `timeout` seconds pass first (the upload goes on)."""
        left = None if timeout is None else max(0, int(timeout * 1000))
        while True:
            step = _SLICE_MS if left is None else min(left, _SLICE_MS)
            try:
                done = self._native.wait(step)
            except _native.UploadFailure as e:
                raise UploadError(e.err_msg, e.kind) from None
            if done is not None:
                return done
            if left is not None:
                left -= step
                if left <= 0:
                    raise TimeoutError(f"the upload is still running after {timeout} s")

    def __await__(self) -> Any:
        return self._awaited().__await__()

    async def _awaited(self) -> UploadSuccess:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(None, self.wait)
        except asyncio.CancelledError:
            # The awaiting coroutine is gone: so is the upload.
            self.abort()
            raise


_Pairs = Union[Mapping[str, Any], Iterable[Tuple[str, Any]], None]


def _pairs(value: _Pairs, what: str) -> list:
    if value is None:
        return []
    items = value.items() if isinstance(value, Mapping) else value
    out = []
    for item in items:
        try:
            name, v = item
        except (TypeError, ValueError):
            raise TypeError(f"{what} must be a dict or (name, value) pairs, not {item!r}") from None
        out.append(_native.Pair(name=str(name), value=str(v)))
    return out


def upload_file(url: str, file_path: str, name: str, *, header: _Pairs = None,
                form_data: _Pairs = None, file_name: Optional[str] = None,
                timeout: Optional[float] = None, protocol: str = "multipart",
                resume_store: Optional[str] = None, part_size: Optional[int] = None,
                concurrency: Optional[int] = None) -> UploadTask:
    """Starts uploading `file_path` to `url` and returns its task at once.

    protocol: "multipart" (one POST, the file under the form field `name`), "tus" (a
    resumable upload to a tus creation URL) or "s3" (straight to a bucket: `url` is the
    signer's base, e.g. "https://app.example/s3", which presigns each part; `header` goes to
    the signer only). `timeout` is in seconds for the whole upload (default 60). With
    `resume_store` (a directory), a tus or S3 upload killed mid-way continues on the next run.
    For "s3", `part_size` (bytes, at least 5 MiB; default 8 MiB) and `concurrency` (parts at
    once; default 4).
    Options it cannot take make the task fail before any byte is sent.
    """
    request = _native.UploadRequest(
        url=str(url),
        file_path=str(file_path),
        name=str(name),
        header=_pairs(header, "header"),
        form_data=_pairs(form_data, "form_data"),
        file_name=file_name,
        timeout_ms=None if timeout is None else max(1, int(timeout * 1000)),
        protocol=protocol,
        resume_store=None if resume_store is None else str(resume_store),
        part_size=part_size,
        concurrency=concurrency,
    )
    return UploadTask(_native.upload_file(request))
