from typing import Any, Callable, Dict, Generator, Iterable, Mapping, Optional, Tuple, Union

__all__ = ["upload_file", "UploadTask", "UploadSuccess", "UploadError", "Progress",
           "HeadersReceived", "Notice"]

class Progress:
    progress: int
    total_bytes_sent: int
    total_bytes_expected_to_send: int
    speed: Optional[int]
    eta: Optional[int]

class HeadersReceived:
    header: Dict[str, str]
    def __init__(self, header: Dict[str, str]) -> None: ...

class Notice:
    kind: str
    url: Optional[str]
    offset: Optional[int]
    attempt: Optional[int]
    delay_ms: Optional[int]
    message: Optional[str]

class UploadSuccess:
    err_msg: str
    status_code: int
    header: Dict[str, str]
    data: str
    upload_url: Optional[str]

class UploadError(Exception):
    err_msg: str
    kind: str
    def __init__(self, err_msg: str, kind: str) -> None: ...

class UploadTask:
    def abort(self) -> bool: ...
    def on_progress_update(self, cb: Callable[[Progress], object]) -> int: ...
    def off_progress_update(self, id: Optional[int] = None) -> bool: ...
    def on_headers_received(self, cb: Callable[[HeadersReceived], object]) -> int: ...
    def off_headers_received(self, id: Optional[int] = None) -> bool: ...
    def on_notice(self, cb: Callable[[Notice], object]) -> int: ...
    def off_notice(self, id: Optional[int] = None) -> bool: ...
    def progress(self, cb: Callable[[Progress], object]) -> UploadTask: ...
    def headers_received(self, cb: Callable[[HeadersReceived], object]) -> UploadTask: ...
    def pause(self) -> bool: ...
    def resume(self) -> bool: ...
    def wait(self, timeout: Optional[float] = None) -> UploadSuccess: ...
    def __await__(self) -> Generator[Any, None, UploadSuccess]: ...

_Pairs = Union[Mapping[str, object], Iterable[Tuple[str, object]], None]

def upload_file(url: str, file_path: str, name: str, *, header: _Pairs = None,
                form_data: _Pairs = None, file_name: Optional[str] = None,
                timeout: Optional[float] = None, protocol: str = "multipart",
                resume_store: Optional[str] = None, part_size: Optional[int] = None,
                concurrency: Optional[int] = None) -> UploadTask: ...
