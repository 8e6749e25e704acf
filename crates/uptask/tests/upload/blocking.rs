//! `uptask::blocking`: the same upload from a thread with no runtime, waited for there; and the
//! speed and time left that progress events carry.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::{Behavior, TestServer};
use crate::{opts, payload};

/// A server on a runtime of its own threads, as a program without async code would talk to.
fn server(behavior: Behavior) -> (tokio::runtime::Runtime, TestServer) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = rt.block_on(TestServer::start(behavior));
    (rt, server)
}

#[test]
fn a_thread_without_a_runtime_uploads_and_waits() {
    // About 6 MB/s: a second or so, long enough for speeds to be measured midway.
    let (_rt, server) = server(Behavior::SlowReader {
        chunk: 64 << 10,
        pause: Duration::from_millis(10),
    });
    let data = payload(8 << 20);
    let task = uptask::blocking::upload_file(opts(&server.url, data));
    let events = Arc::new(Mutex::new(Vec::new()));
    let e = Arc::clone(&events);
    // Handle methods straight on the blocking task, chained as on the async one.
    task.progress(move |p| e.lock().unwrap().push(*p))
        .headers_received(|_| {});
    let started = Instant::now();
    let done = task.wait().unwrap();
    let elapsed = started.elapsed();
    assert_eq!(done.status_code, 200, "{}", done.data);
    assert!(server.seen.is_complete());
    let events = events.lock().unwrap();
    let last = events.last().unwrap();
    assert_eq!(last.progress, 100);
    // Speed and time left ride on the events: the final one says nothing is left, at a speed
    // near the upload's average (the window covers the whole upload, which is short).
    assert_eq!(last.eta, Some(0), "{last:?}");
    let average = last.total_bytes_expected_to_send as f64 / elapsed.as_secs_f64();
    let speed = last.speed.unwrap() as f64;
    assert!(
        speed > average / 3.0 && speed < average * 3.0,
        "speed {speed} against an average of {average}"
    );
    // Before the end, a known speed comes with the time left at it.
    let midway: Vec<_> = events
        .iter()
        .filter(|p| p.progress < 100 && p.speed.is_some_and(|s| s > 0))
        .collect();
    assert!(!midway.is_empty(), "{events:?}");
    assert!(
        midway.iter().all(|p| p.eta.is_some_and(|s| s >= 1)),
        "{midway:?}"
    );
}

#[test]
fn abort_from_another_thread_ends_the_wait() {
    let (_rt, server) = server(Behavior::Stall);
    let task = uptask::blocking::upload_file(opts(&server.url, payload(1 << 20)));
    let handle = task.handle();
    let aborter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        handle.abort()
    });
    let err = task.wait().unwrap_err();
    assert!(aborter.join().unwrap());
    assert!(err.is_aborted(), "{err}");
    assert_eq!(err.err_msg(), "uploadFile:fail abort");
}

/// Waiting inside a single-threaded runtime would starve an upload spawned on it; the blocking
/// API runs uploads on uptask's own runtime, so this finishes.
#[test]
fn waiting_inside_a_single_threaded_runtime_does_not_deadlock() {
    let (_rt, server) = server(Behavior::Echo);
    let current = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = server.url.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    // On a thread of its own, so a deadlock fails the test instead of hanging it.
    std::thread::spawn(move || {
        let done = current
            .block_on(async { uptask::blocking::upload_file(opts(&url, payload(300_000))).wait() });
        let _ = tx.send(done.map(|d| d.status_code).map_err(|e| e.to_string()));
    });
    let done = rx
        .recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| panic!("the wait inside a single-threaded runtime never returned"));
    assert_eq!(done, Ok(200));
}
