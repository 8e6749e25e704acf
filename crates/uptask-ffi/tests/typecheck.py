"""Checked (not run) by `mypy --strict`: the package's stubs must accept an application's
calls and types."""

import asyncio

import uptask


def report(p: uptask.Progress) -> None:
    print(p.progress, p.total_bytes_sent, p.total_bytes_expected_to_send, p.speed, p.eta)


def main() -> int:
    task = uptask.upload_file("http://127.0.0.1:8080/upload", "photo.jpg", "file",
                              header={"X-Trace": "abc"}, form_data=[("album", "trip")],
                              timeout=30.0)
    task.progress(report).headers_received(lambda h: print(h.header.get("content-type")))
    ident: int = task.on_notice(lambda n: print(n.kind, n.offset))
    task.off_notice(ident)
    try:
        done: uptask.UploadSuccess = task.wait(timeout=60)
    except uptask.UploadError as e:
        print(e.err_msg, e.kind)
        return 1
    return done.status_code


async def awaited() -> str:
    done = await uptask.upload_file("http://127.0.0.1:8080/files/", "v.mp4", "file",
                                    protocol="tus", resume_store="/tmp/uptask-resume")
    return done.upload_url or ""


def direct() -> int:
    task = uptask.upload_file("https://app.example/s3", "v.mp4", "file", protocol="s3",
                              part_size=16 << 20, concurrency=2)
    return task.wait().status_code


if __name__ == "__main__":
    main()
    asyncio.run(awaited())
