//! Rule 7: abort before the first byte, mid-body, after headers, twice, after completion.

use std::sync::atomic::Ordering;
use std::time::Duration;

use uptask::upload_file;

use crate::support::{Behavior, TestServer, Trace};
use crate::{opts, payload};

#[tokio::test]
async fn abort_before_the_first_byte() {
    let server = TestServer::start(Behavior::Echo).await;
    let task = upload_file(opts(&server.url, payload(1 << 20)));
    let trace = Trace::default();
    trace.attach(&task);
    // This runtime is single-threaded: the upload cannot have run yet.
    assert!(task.abort());
    let err = task.await.unwrap_err();
    assert!(err.is_aborted());
    assert_eq!(err.err_msg(), "uploadFile:fail abort");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        server.seen.connections.load(Ordering::SeqCst),
        0,
        "no connection may be opened"
    );
    assert!(trace.events().is_empty(), "{:?}", trace.events());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_mid_body_closes_the_connection() {
    let len = 32u64 << 20;
    let server = TestServer::start(Behavior::SlowReader {
        chunk: 64 * 1024,
        pause: Duration::from_millis(2),
    })
    .await;
    let task = upload_file(opts(&server.url, payload(len as usize)));
    let handle = task.handle();
    let trace = Trace::default();
    trace.attach(&task);
    let waiter = tokio::spawn(task);
    crate::common::wait_until("1 MiB at the server", Duration::from_secs(20), || {
        server.seen.read.load(Ordering::SeqCst) >= 1 << 20
    })
    .await;
    assert!(handle.abort());
    let n_at_abort = trace.events().len();
    let err = waiter.await.unwrap().unwrap_err();
    assert!(err.is_aborted(), "{err:?}");
    server.seen.wait_closed().await;
    assert!(
        server.seen.aborted.load(Ordering::SeqCst),
        "the server must see the request cut short"
    );
    assert!(server.seen.read.load(Ordering::SeqCst) < len);
    // At most a dispatch already under way finishes; nothing starts after abort returned.
    assert!(trace.events().len() <= n_at_abort + 1);
    assert!(trace.progress().iter().all(|&(p, _, _)| p < 100));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_after_headers() {
    let server = TestServer::start(Behavior::PauseAfterHead(Duration::from_secs(5))).await;
    let task = upload_file(opts(&server.url, payload(1000)));
    let handle = task.handle();
    task.on_headers_received(move |_| {
        assert!(handle.abort());
    });
    let started = std::time::Instant::now();
    let err = task.await.unwrap_err();
    assert!(err.is_aborted(), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "abort must not wait for the body"
    );
    server.seen.wait_closed().await;
}

#[tokio::test]
async fn abort_twice_reports_true_then_false() {
    let server = TestServer::start(Behavior::Stall).await;
    let task = upload_file(opts(&server.url, payload(10)));
    assert!(task.abort());
    assert!(!task.abort());
    assert!(!task.handle().abort());
    assert!(task.await.unwrap_err().is_aborted());
}

#[tokio::test]
async fn abort_after_completion_is_a_no_op() {
    let server = TestServer::start(Behavior::Echo).await;
    let task = upload_file(opts(&server.url, payload(10)));
    let handle = task.handle();
    let done = task.await.unwrap();
    assert_eq!(done.status_code, 200);
    assert!(!handle.abort());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_while_stalled_returns_promptly() {
    let server = TestServer::start(Behavior::Stall).await;
    let task = upload_file(opts(&server.url, payload(64 << 20)).timeout(Duration::ZERO));
    let handle = task.handle();
    let waiter = tokio::spawn(task);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(handle.abort());
    let err = tokio::time::timeout(Duration::from_secs(2), waiter)
        .await
        .expect("abort must not hang")
        .unwrap()
        .unwrap_err();
    assert!(err.is_aborted());
}
