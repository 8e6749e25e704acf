//! Event rules 1–6 and 9 of the contract, each against a real socket.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use uptask::{ErrorKind, upload_file};

use crate::support::{Behavior, TestServer, Trace};
use crate::{opts, payload};

#[tokio::test]
async fn rule1_content_length_is_exact_and_known_before_the_first_byte() {
    let server = TestServer::start(Behavior::Echo).await;
    let data = payload(300_000);
    let task = upload_file(opts(&server.url, data.clone()).form_data("k", "v"));
    let trace = Trace::default();
    trace.attach(&task);
    let done = task.await.unwrap();
    assert_eq!(done.status_code, 200);
    let declared = server.seen.content_length().unwrap();
    let received = server.seen.body.lock().unwrap().len() as u64;
    assert_eq!(
        declared, received,
        "Content-Length must equal the body sent"
    );
    assert!(server.seen.header("transfer-encoding").is_none());
    // Every event carries the same expected total: the whole encoded body, framing included.
    let progress = trace.progress();
    assert!(!progress.is_empty());
    assert!(progress.iter().all(|&(_, _, total)| total == declared));
    assert!(declared > data.len() as u64);
}

#[tokio::test]
async fn rule2_progress_counts_socket_accepted_bytes_and_never_decreases() {
    // 16 MiB to a server reading 64 KiB every 4 ms: the sender is far ahead of the reader.
    let server = TestServer::start(Behavior::SlowReader {
        chunk: 64 * 1024,
        pause: Duration::from_millis(4),
    })
    .await;
    let task = upload_file(opts(&server.url, payload(16 << 20)));
    let seen = Arc::clone(&server.seen);
    let samples: Arc<Mutex<Vec<(u64, u64)>>> = Arc::default();
    let s = Arc::clone(&samples);
    task.on_progress_update(move |p| {
        s.lock()
            .unwrap()
            .push((p.total_bytes_sent, seen.read.load(Ordering::SeqCst)));
    });
    let done = task.await.unwrap();
    assert_eq!(done.status_code, 200);
    let samples = samples.lock().unwrap().clone();
    assert!(
        samples.windows(2).all(|w| w[1].0 >= w[0].0),
        "sent must never decrease"
    );
    let lead = samples
        .iter()
        .map(|&(sent, read)| sent.saturating_sub(read))
        .max()
        .unwrap();
    eprintln!(
        "rule2: max progress lead over the slow reader = {lead} bytes ({} events)",
        samples.len()
    );
    // Socket-accepted bytes can only be ahead of the reader by what the kernel buffers hold
    // (a few MiB on loopback); counting at the disk read would be ahead by the whole file.
    assert!(
        lead < 8 << 20,
        "lead {lead} is more than kernel buffering explains"
    );
    // And the count really tracked the transfer: many events well below the total.
    let below_half = samples
        .iter()
        .filter(|&&(sent, _)| sent < (8 << 20))
        .count();
    assert!(below_half >= 5, "progress jumped ahead: {samples:?}");
}

#[tokio::test]
async fn rule3_progress_is_the_floor_percent_and_100_only_at_the_end() {
    let server = TestServer::start(Behavior::SlowReader {
        chunk: 256 * 1024,
        pause: Duration::from_millis(1),
    })
    .await;
    let task = upload_file(opts(&server.url, payload(4 << 20)));
    let trace = Trace::default();
    trace.attach(&task);
    task.await.unwrap();
    let progress = trace.progress();
    for &(p, sent, total) in &progress {
        assert_eq!(u128::from(p), u128::from(sent) * 100 / u128::from(total));
    }
    let (last, init) = progress.split_last().unwrap();
    assert_eq!((last.0, last.1), (100, last.2));
    assert!(init.iter().all(|&(p, sent, total)| p < 100 && sent < total));
}

#[tokio::test]
async fn rule4_events_are_coalesced_and_the_final_event_is_kept() {
    let server = TestServer::start(Behavior::Echo).await;
    let started = std::time::Instant::now();
    let task = upload_file(opts(&server.url, payload(8 << 20)));
    let trace = Trace::default();
    trace.attach(&task);
    task.await.unwrap();
    let elapsed = started.elapsed().as_secs_f64();
    let progress = trace.progress();
    // at most one per whole percent, plus about 20 per second
    let cap = 101.0 + 20.0 * elapsed + 2.0;
    assert!(
        (progress.len() as f64) <= cap,
        "{} events in {elapsed}s",
        progress.len()
    );
    assert!(
        progress.windows(2).all(|w| w[0] != w[1]),
        "two identical events in a row"
    );
    assert!(progress.windows(2).all(|w| w[1].1 > w[0].1));
    let last = progress.last().unwrap();
    assert_eq!(
        last.1, last.2,
        "the final event (sent == expected) must be delivered"
    );
}

#[tokio::test]
async fn rule4_a_slow_listener_does_not_slow_the_upload() {
    let server = TestServer::start(Behavior::Echo).await;
    let task = upload_file(opts(&server.url, payload(8 << 20)));
    let calls = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let c = Arc::clone(&calls);
    let seen = Arc::clone(&server.seen);
    let calls_when_complete = Arc::new(Mutex::new(None));
    let cw = Arc::clone(&calls_when_complete);
    task.on_progress_update(move |_| {
        if seen.complete.load(Ordering::SeqCst) {
            cw.lock().unwrap().get_or_insert(c.load(Ordering::SeqCst));
        }
        c.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(100));
    });
    let done = task.await.unwrap();
    assert_eq!(done.status_code, 200);
    let total = calls.load(Ordering::SeqCst);
    let at_complete = calls_when_complete.lock().unwrap().unwrap_or(total);
    // The server had the whole body while the listener was still early in its backlog.
    assert!(total >= 3, "expected several events, got {total}");
    assert!(
        at_complete < total,
        "the body finished only after every slow listener call ({at_complete} of {total})"
    );
}

#[tokio::test]
async fn rule5_headers_fire_once_before_the_result() {
    let server = TestServer::start(Behavior::PauseAfterHead(Duration::from_millis(300))).await;
    let task = upload_file(opts(&server.url, payload(1000)));
    let trace = Trace::default();
    trace.attach(&task);
    let t = trace.clone();
    task.on_headers_received(move |h| {
        t.push(format!(
            "x-test={}",
            h.header.get("x-test").cloned().unwrap_or_default()
        ));
    });
    let done = task.await.unwrap();
    trace.push("result".into());
    let events = trace.events();
    let headers: Vec<_> = events
        .iter()
        .filter(|e| e.starts_with("headers:"))
        .collect();
    assert_eq!(headers.len(), 1, "{events:?}");
    assert!(events.contains(&"x-test=paused".to_owned()));
    assert_eq!(events.last().unwrap(), "result");
    assert_eq!(
        done.header.get("x-test").map(String::as_str),
        Some("paused")
    );
    assert_eq!(
        done.data,
        "{\"bytes\":".to_owned() + &server.seen.read.load(Ordering::SeqCst).to_string() + "}"
    );
}

#[tokio::test]
async fn rule5_headers_join_repeated_values_and_lowercase_names() {
    let server = TestServer::start(Behavior::Echo).await;
    let done = upload_file(opts(&server.url, payload(10))).await.unwrap();
    assert_eq!(
        done.header.get("set-cookie").map(String::as_str),
        Some("a=1, b=2")
    );
    assert_eq!(
        done.header.get("content-type").map(String::as_str),
        Some("application/json")
    );
}

#[tokio::test]
async fn rule5_an_early_413_stops_the_body_and_is_a_success() {
    let len = 64 << 20;
    let server = TestServer::start(Behavior::Early413 {
        after: 1 << 20,
        then_close: false,
    })
    .await;
    let task = upload_file(opts(&server.url, payload(len)));
    let trace = Trace::default();
    trace.attach(&task);
    let done = task.await.unwrap();
    assert_eq!(done.status_code, 413);
    assert_eq!(done.data, "request entity too large");
    server.seen.wait_closed().await;
    let read = server.seen.read.load(Ordering::SeqCst);
    assert!(
        read < len as u64 / 2,
        "the body went on after the 413: server read {read} of {len}"
    );
    let progress = trace.progress();
    assert!(
        progress.iter().all(|&(p, _, _)| p < 100),
        "100% reported for an unfinished body"
    );
    assert_eq!(
        trace
            .events()
            .iter()
            .filter(|e| e.starts_with("headers:"))
            .count(),
        1
    );
}

#[tokio::test]
async fn rule5_an_early_413_then_close_is_a_413_or_one_clear_error() {
    let server = TestServer::start(Behavior::Early413 {
        after: 64 * 1024,
        then_close: true,
    })
    .await;
    let result = tokio::time::timeout(
        Duration::from_secs(10),
        upload_file(opts(&server.url, payload(32 << 20))),
    )
    .await
    .expect("no hang");
    match result {
        Ok(done) => assert_eq!(done.status_code, 413),
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::Io, "{e:?}");
            assert!(
                e.err_msg()
                    .starts_with("uploadFile:fail the connection broke after"),
                "{}",
                e.err_msg()
            );
        }
    }
}

#[tokio::test]
async fn rule6_exactly_one_outcome_and_no_event_after_it() {
    let server = TestServer::start(Behavior::Echo).await;
    let task = upload_file(opts(&server.url, payload(2 << 20)));
    let handle = task.handle();
    let trace = Trace::default();
    trace.attach(&task);
    let done = task.await.unwrap();
    assert_eq!(done.err_msg(), "uploadFile:ok");
    let n = trace.events().len();
    // A listener added after the outcome is never called, and nothing more arrives.
    let late = Trace::default();
    let l = late.clone();
    handle.on_progress_update(move |_| l.push("late".into()));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(trace.events().len(), n);
    assert!(late.events().is_empty());
    assert!(handle.is_finished());
    assert!(!handle.abort(), "abort after the outcome must report false");
}

#[tokio::test]
async fn rule9_timeout_gives_fail_timeout() {
    let server = TestServer::start(Behavior::Stall).await;
    let started = std::time::Instant::now();
    let task = upload_file(opts(&server.url, payload(1000)).timeout(Duration::from_millis(300)));
    let err = task.await.unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(err.err_msg(), "uploadFile:fail timeout");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn stall_timeout_ends_an_upload_that_moves_no_byte() {
    let server = TestServer::start(Behavior::Stall).await;
    // 64 MiB cannot fit in the socket buffers, so writes stop moving.
    let task = upload_file(
        opts(&server.url, payload(64 << 20))
            .timeout(Duration::ZERO)
            .stall_timeout(Duration::from_millis(400)),
    );
    let err = task.await.unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(err.to_string().contains("stalled"), "{err}");
}

#[tokio::test]
async fn round_trip_is_byte_identical_from_memory_and_from_disk() {
    let server = TestServer::start(Behavior::Echo).await;
    let data = payload(1_234_567);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.bin");
    std::fs::write(&path, &data).unwrap();
    for opts in [
        crate::opts(&server.url, data.clone()),
        uptask::UploadOptions::new(&server.url, &path, "file"),
    ] {
        let done = upload_file(opts).await.unwrap();
        let body = server.seen.body.lock().unwrap().clone();
        crate::support::assert_body_carries(&body, &done.data, &data);
    }
}
