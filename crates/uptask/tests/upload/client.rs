//! `Client`: at most N uploads at once, the rest waiting in a first-in, first-out queue that
//! abort can leave.

use std::time::Duration;

use uptask::{Client, Notice};

use crate::support::{Behavior, TestServer};
use crate::{opts, payload};

#[tokio::test]
async fn a_client_runs_at_most_its_cap_in_order_and_reports_the_wait() {
    // Each upload takes about 0.3 s against this server.
    let server = TestServer::start(Behavior::SlowReader {
        chunk: 16 << 10,
        pause: Duration::from_millis(10),
    })
    .await;
    let client = Client::new().max_concurrent(2);
    let tasks: Vec<_> = (0..5)
        .map(|_| {
            let task = client.upload_file(opts(&server.url, payload(400_000)));
            let waited = std::sync::Arc::new(std::sync::Mutex::new(None));
            let w = std::sync::Arc::clone(&waited);
            task.on_notice(move |n| {
                if let Notice::Dequeued { waited_ms } = n {
                    *w.lock().unwrap() = Some(*waited_ms);
                }
            });
            (task, waited)
        })
        .collect();
    assert!(client.running() <= 2);
    let mut spans = Vec::new();
    let mut waits = Vec::new();
    for (task, waited) in tasks {
        let done = task.await.unwrap();
        assert_eq!(done.status_code, 200);
        let p = done.profile.unwrap();
        let (start, end) = (p.queue_start.unwrap(), p.queue_end.unwrap());
        assert!(
            p.invoke_start <= start && start <= end && end <= p.request_start,
            "{p:?}"
        );
        spans.push((end, p.response_end));
        waits.push((waited.lock().unwrap().unwrap(), end - start));
    }
    // First in, first out: the uploads left the queue in the order they were started.
    assert!(spans.windows(2).all(|w| w[0].0 <= w[1].0), "{spans:?}");
    // Never more than two running: each upload from the third on started after the one two
    // places before it had its whole response.
    for i in 2..spans.len() {
        assert!(spans[i].0 + 1.0 >= spans[i - 2].1, "{spans:?}");
    }
    // The first two never waited; the others did, and the notice says as long as the profile.
    assert!(waits[..2].iter().all(|(ms, _)| *ms < 50), "{waits:?}");
    for &(ms, span) in &waits[2..] {
        assert!(ms >= 100 && (ms as f64 - span).abs() <= 2.0, "{waits:?}");
    }
    assert_eq!(client.running(), 0);
}

#[tokio::test]
async fn abort_in_the_queue_ends_the_upload_without_a_connection() {
    let server = TestServer::start(Behavior::Stall).await;
    let client = Client::new().max_concurrent(1);
    let first = client.upload_file(opts(&server.url, payload(1000)));
    let queued = client.upload_file(opts(&server.url, payload(1000)));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(queued.abort());
    let err = tokio::time::timeout(Duration::from_secs(5), queued)
        .await
        .unwrap()
        .unwrap_err();
    assert!(err.is_aborted(), "{err}");
    assert_eq!(
        server
            .seen
            .connections
            .load(std::sync::atomic::Ordering::SeqCst),
        1,
        "only the first upload connected"
    );
    first.abort();
    assert!(first.await.unwrap_err().is_aborted());
    // The slot came back: the next upload runs.
    let echo = TestServer::start(Behavior::Echo).await;
    let done = client
        .upload_file(opts(&echo.url, payload(10)))
        .await
        .unwrap();
    assert_eq!(done.status_code, 200);
}
