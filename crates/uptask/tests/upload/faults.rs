//! More cells of the fault matrix: names that do not resolve, sources that change under the
//! upload, and servers that send too much or too little.

use std::sync::atomic::Ordering;
use std::time::Duration;

use uptask::{ErrorKind, UploadOptions, upload_file};

use crate::support::{Behavior, TestServer};
use crate::{opts, payload, raw_response};

#[tokio::test]
async fn a_host_that_does_not_resolve_is_a_connect_error() {
    let task = upload_file(opts("http://no-such-host.invalid/upload", payload(10)));
    let err = tokio::time::timeout(Duration::from_secs(30), task)
        .await
        .expect("no hang")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connect, "{err:?}");
    assert!(
        err.to_string()
            .contains("cannot resolve host \"no-such-host.invalid\""),
        "{err}"
    );
}

/// Starts a 16 MiB upload from a file to a slow reader, calls `change` once 512 KiB arrived, and
/// checks the outcome: one clear error, and the server never got a complete body.
async fn changed_mid_upload_fails_clearly(change: impl FnOnce(&std::path::Path)) {
    let server = TestServer::start(Behavior::SlowReader {
        chunk: 64 * 1024,
        pause: Duration::from_millis(2),
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("changing.bin");
    std::fs::write(&path, payload(16 << 20)).unwrap();
    let task = upload_file(UploadOptions::new(&server.url, &path, "file"));
    crate::common::wait_until("512 KiB at the server", Duration::from_secs(20), || {
        server.seen.read.load(Ordering::SeqCst) >= 512 * 1024
    })
    .await;
    change(&path);
    let err = task.await.unwrap_err();
    server.seen.wait_closed().await;
    assert_eq!(err.kind(), ErrorKind::Io, "{err:?}");
    assert!(
        err.to_string().contains("changed during the upload"),
        "{err}"
    );
    assert!(
        !server.seen.complete.load(Ordering::SeqCst),
        "the server must not get a complete body"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_shrinks_mid_upload_is_an_error() {
    changed_mid_upload_fails_clearly(|path| {
        std::fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_len(1024)
            .unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_grows_mid_upload_is_an_error() {
    changed_mid_upload_fails_clearly(|path| {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
        f.write_all(b"late bytes").unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_replaced_mid_upload_is_an_error() {
    changed_mid_upload_fails_clearly(|path| {
        let other = path.with_extension("new");
        std::fs::write(&other, payload(16 << 20)).unwrap();
        std::fs::rename(&other, path).unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_response_body_over_the_limit_is_a_protocol_error() {
    let err = raw_response(b"HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\nxx".to_vec())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err:?}");
    assert!(err.to_string().contains("larger than"), "{err}");
}

#[tokio::test]
async fn a_response_head_over_the_limit_is_a_protocol_error() {
    let mut head = b"HTTP/1.1 200 OK\r\nX-Big: ".to_vec();
    head.extend(std::iter::repeat_n(b'a', 70 * 1024));
    head.extend_from_slice(b"\r\n\r\n");
    // Never print the success itself: it would carry the 70 KiB header.
    match raw_response(head).await {
        Ok(done) => panic!(
            "an oversized head must be refused (got status {})",
            done.status_code
        ),
        Err(err) => assert_eq!(err.kind(), ErrorKind::Protocol, "{err:?}"),
    }
}
