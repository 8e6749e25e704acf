//! Transport faults, response framing, and input rejected before any byte goes out.

use std::sync::atomic::Ordering;
use std::time::Duration;

use uptask::{ErrorKind, UploadOptions, upload_file};

use crate::support::{Behavior, TestServer};
use crate::{opts, payload, raw_response};

#[tokio::test]
async fn a_chunked_response_body_is_decoded() {
    let done = raw_response("HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n").await.unwrap();
    assert_eq!((done.status_code, done.data.as_str()), (201, "hello world"));
}

#[tokio::test]
async fn a_response_delimited_by_close_is_read_to_the_end() {
    let done = raw_response("HTTP/1.0 200 OK\r\n\r\nuntil close")
        .await
        .unwrap();
    assert_eq!(done.data, "until close");
}

#[tokio::test]
async fn an_interim_100_continue_is_skipped() {
    let done =
        raw_response("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            .await
            .unwrap();
    assert_eq!((done.status_code, done.data.as_str()), (200, "ok"));
}

#[tokio::test]
async fn http_error_statuses_are_successes_carrying_the_status() {
    let done = raw_response("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\noops")
        .await
        .unwrap();
    assert_eq!((done.status_code, done.data.as_str()), (500, "oops"));
    assert_eq!(done.err_msg(), "uploadFile:ok");
}

#[tokio::test]
async fn a_garbage_response_is_a_protocol_error() {
    let err = raw_response("SSH-2.0-OpenSSH_9.2\r\n\r\n")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err:?}");
}

#[tokio::test]
async fn a_response_body_cut_short_is_an_io_error() {
    // Part of the body, or none at all (the server closes right after the head).
    for response in [
        "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort",
        "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n",
    ] {
        let err = raw_response(response).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Io, "{err:?}");
        assert!(
            err.to_string()
                .contains("before the end of the response body"),
            "{err}"
        );
    }
}

#[tokio::test]
async fn a_server_closing_without_a_response_is_an_error() {
    let err = raw_response("").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io, "{err:?}");
    assert!(err.to_string().contains("without a response"), "{err}");
}

#[tokio::test]
async fn a_connection_cut_mid_body_is_an_io_error() {
    let server = TestServer::start(Behavior::CutAfter(100_000)).await;
    let err = upload_file(opts(&server.url, payload(8 << 20)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io, "{err:?}");
    assert!(
        err.err_msg().starts_with("uploadFile:fail "),
        "{}",
        err.err_msg()
    );
}

#[tokio::test]
async fn a_refused_connection_is_a_connect_error() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = upload_file(opts(&format!("http://127.0.0.1:{port}/"), payload(10)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connect, "{err:?}");
    assert!(
        err.err_msg()
            .contains(&format!("cannot connect to 127.0.0.1:{port}")),
        "{}",
        err.err_msg()
    );
}

#[tokio::test]
async fn form_data_and_headers_arrive_as_given() {
    let server = TestServer::start(Behavior::Echo).await;
    let task = upload_file(
        UploadOptions::from_bytes(&server.url, b"abc".to_vec(), "avatar")
            .file_name("me.png")
            .form_data("user", "ann")
            .form_data("user", "bob")
            .header("X-Custom", "1")
            .header("User-Agent", "custom-agent/2"),
    );
    task.await.unwrap();
    let body = String::from_utf8(server.seen.body.lock().unwrap().clone()).unwrap();
    assert!(body.contains("name=\"user\"\r\n\r\nann\r\n"), "{body}");
    assert!(body.contains("name=\"user\"\r\n\r\nbob\r\n"), "{body}");
    assert!(
        body.contains(
            "name=\"avatar\"; filename=\"me.png\"\r\nContent-Type: image/png\r\n\r\nabc\r\n"
        ),
        "{body}"
    );
    assert_eq!(server.seen.header("x-custom").as_deref(), Some("1"));
    assert_eq!(
        server.seen.header("user-agent").as_deref(),
        Some("custom-agent/2")
    );
    let ct = server.seen.header("content-type").unwrap();
    assert!(
        ct.starts_with("multipart/form-data; boundary=uptask-"),
        "{ct}"
    );
}

#[tokio::test]
async fn bad_input_is_rejected_before_any_byte_goes_out() {
    let server = TestServer::start(Behavior::Echo).await;
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(UploadOptions, &str)> = vec![
        (
            UploadOptions::new(&server.url, dir.path().join("missing.txt"), "file"),
            "file not found",
        ),
        (
            UploadOptions::new(&server.url, dir.path(), "file"),
            "is a directory",
        ),
        (
            opts(&server.url, vec![1]).header("X-Bad", "a\r\nInjected: yes"),
            "control characters",
        ),
        (
            opts(&server.url, vec![1]).header("Bad Name", "v"),
            "invalid header name",
        ),
        (
            opts(&server.url, vec![1]).header("content-type", "text/plain"),
            "cannot be set",
        ),
        (opts("ftp://127.0.0.1/x", vec![1]), "unsupported URL scheme"),
        (opts("http://", vec![1]), "invalid URL"),
        (
            UploadOptions::from_bytes(&server.url, vec![1], ""),
            "field name",
        ),
    ];
    for (o, want) in cases {
        let err = upload_file(o).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err:?}");
        assert!(
            err.err_msg().contains(want),
            "{} should mention {want:?}",
            err.err_msg()
        );
        assert!(err.err_msg().starts_with("uploadFile:fail "));
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(server.seen.connections.load(Ordering::SeqCst), 0);
}

#[cfg(unix)]
#[tokio::test]
async fn a_fifo_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    let err = upload_file(UploadOptions::new("http://127.0.0.1:9/", &fifo, "f"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not a regular file"), "{err}");
}

#[test]
fn works_outside_any_runtime() {
    // The server lives on a runtime of its own; the upload is started from a plain thread.
    let server_rt = tokio::runtime::Runtime::new().unwrap();
    let server = server_rt.block_on(TestServer::start(Behavior::Echo));
    assert!(tokio::runtime::Handle::try_current().is_err());
    let task = upload_file(opts(&server.url, payload(100_000)));
    let waiter = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let done = waiter.block_on(task).unwrap();
    assert_eq!(done.status_code, 200);
}
