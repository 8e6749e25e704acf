//! Bandwidth limits, per upload and shared, held at the socket: the bytes the server receives
//! and the progress reported both stay under the limit.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use uptask::{RateLimit, upload_file};

use crate::support::{Behavior, TestServer};
use crate::{opts, payload};

const RATE: u64 = 1 << 20;
/// The bucket's burst: a tenth of a second's worth.
const BURST: u64 = RATE / 10;

#[tokio::test]
async fn a_limited_upload_never_runs_ahead_of_its_rate() {
    let server = TestServer::start(Behavior::Echo).await;
    let data = payload(3 << 19); // 1.5 MiB: about 1.4 s at 1 MiB/s
    let started = Instant::now();
    let len = data.len() as u64;
    let task = upload_file(opts(&server.url, data).limit_rate(RATE));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = Arc::clone(&seen);
    task.on_progress_update(move |p| {
        s.lock()
            .unwrap()
            .push((started.elapsed(), p.total_bytes_sent));
    });
    let done = task.await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(done.status_code, 200, "{}", done.data);
    assert!(server.seen.is_complete());
    // Progress counts what the socket took, and the socket only got what the limit allowed
    // (the multipart framing adds a few hundred bytes).
    for &(at, sent) in seen.lock().unwrap().iter() {
        let allowed = BURST as f64 + RATE as f64 * at.as_secs_f64() + 1024.0;
        assert!((sent as f64) <= allowed, "{sent} bytes sent after {at:?}");
    }
    let least = Duration::from_secs_f64((len - BURST) as f64 / RATE as f64);
    assert!(
        elapsed >= least,
        "{elapsed:?} for {len} bytes at {RATE} B/s"
    );
}

#[tokio::test]
async fn uploads_sharing_a_limit_share_its_bandwidth() {
    let server = TestServer::start(Behavior::Echo).await;
    let shared = RateLimit::new(RATE);
    let started = Instant::now();
    // Each alone would take about 0.65 s; together they must take the time of both.
    let tasks: Vec<_> = (0..2)
        .map(|_| upload_file(opts(&server.url, payload(3 << 18)).rate_limit(shared.clone())))
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().status_code, 200);
    }
    let elapsed = started.elapsed();
    let least = Duration::from_secs_f64((2 * (3 << 18) - BURST) as f64 / RATE as f64);
    assert!(elapsed >= least, "{elapsed:?}");
}
