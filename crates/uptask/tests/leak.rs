//! 10,000 upload+abort cycles at random points: the process must end with the same number of
//! open file descriptors and no live tasks. Its own test binary, so nothing else opens files.

#![allow(
    missing_docs,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code"
)]

#[path = "upload/support.rs"]
mod support;

use std::time::Duration;

use uptask::{UploadOptions, upload_file};

/// The tests here count the whole process's descriptors, so they must not overlap.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[cfg(target_os = "linux")]
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_upload_abort_cycles_leak_nothing() {
    let _serial = SERIAL.lock().await;
    let server = support::TestServer::start(support::Behavior::Echo).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.bin");
    std::fs::write(&path, vec![5u8; 256 * 1024]).unwrap();
    let bytes = bytes_source();

    // Warm up the runtime's thread pools so their descriptors exist before counting.
    upload_file(UploadOptions::new(&server.url, &path, "file"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let metrics = tokio::runtime::Handle::current().metrics();
    let fds_before = open_fds();
    let tasks_before = metrics.num_alive_tasks();

    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let (mut aborted, mut completed) = (0u32, 0u32);
    for batch in 0..200 {
        let mut waiters = Vec::new();
        for i in 0..50 {
            let opts = if (batch + i) % 2 == 0 {
                UploadOptions::new(&server.url, &path, "file")
            } else {
                UploadOptions::from_bytes(&server.url, bytes.clone(), "file")
            };
            let task = upload_file(opts.timeout(Duration::from_secs(5)));
            let handle = task.handle();
            let case = next() % 4;
            let trace = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
            let t = std::sync::Arc::clone(&trace);
            task.on_progress_update(move |p| {
                t.lock().unwrap().push(format!("p{}", p.total_bytes_sent));
            });
            let t = std::sync::Arc::clone(&trace);
            task.on_headers_received(move |_| t.lock().unwrap().push("h".into()));
            match case {
                // before the first byte
                0 => {
                    handle.abort();
                }
                // from inside a listener, at a random point of the body
                1 => {
                    let at = next() % (256 * 1024);
                    let h = handle.clone();
                    task.on_progress_update(move |p| {
                        if p.total_bytes_sent >= at {
                            h.abort();
                        }
                    });
                }
                // after a random delay, from another task
                2 => {
                    let delay = Duration::from_micros(next() % 3000);
                    tokio::spawn(async move {
                        tokio::time::sleep(delay).await;
                        handle.abort();
                    });
                }
                // from inside the headers listener
                _ => {
                    let h = handle.clone();
                    task.on_headers_received(move |_| {
                        h.abort();
                    });
                }
            }
            waiters.push((case, (batch + i) % 2, trace, tokio::spawn(task)));
        }
        for (case, src, trace, w) in waiters {
            match w.await.unwrap() {
                Err(e) if e.is_aborted() => aborted += 1,
                Ok(done) if done.status_code == 200 => completed += 1,
                other => panic!(
                    "unexpected outcome {other:?} case {case} source {src} events {:?}",
                    trace.lock().unwrap()
                ),
            }
        }
    }
    assert_eq!(aborted + completed, 10_000);
    assert!(aborted > 5_000, "most cycles should abort ({aborted} did)");

    // Let the server side notice the closed connections, then compare.
    let mut fds_after = open_fds();
    let mut tasks_after = metrics.num_alive_tasks();
    for _ in 0..200 {
        if fds_after <= fds_before && tasks_after <= tasks_before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
        fds_after = open_fds();
        tasks_after = metrics.num_alive_tasks();
    }
    eprintln!(
        "10,000 cycles: {aborted} aborted, {completed} completed; fds {fds_before} -> {fds_after}; tasks {tasks_before} -> {tasks_after}"
    );
    assert_eq!(fds_after, fds_before, "file descriptors leaked");
    assert_eq!(tasks_after, tasks_before, "tasks leaked");
}

fn bytes_source() -> bytes::Bytes {
    bytes::Bytes::from(vec![9u8; 256 * 1024])
}

/// Every failing cell of the fault matrix, many times over: no descriptor or task may outlive
/// its upload, whatever way it failed.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_uploads_leak_nothing_either() {
    let _serial = SERIAL.lock().await;
    use support::Behavior;
    let servers = [
        support::TestServer::start(Behavior::CutAfter(50_000)).await,
        // Times out after the head (a server that stalls for good would hold its own side open).
        support::TestServer::start(Behavior::PauseAfterHead(Duration::from_millis(1000))).await,
        support::TestServer::start(Behavior::Early413 {
            after: 10_000,
            then_close: true,
        })
        .await,
        support::TestServer::start(Behavior::Raw(b"garbage\r\n\r\n".to_vec())).await,
        support::TestServer::start(Behavior::Raw(
            b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort".to_vec(),
        ))
        .await,
    ];
    let refused = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/upload", l.local_addr().unwrap())
    };
    let body = bytes::Bytes::from(vec![1u8; 1 << 20]);
    let run_all = |n: usize| {
        let mut futs = Vec::new();
        for _ in 0..n {
            for url in servers
                .iter()
                .map(|s| s.url.as_str())
                .chain([refused.as_str()])
            {
                let opts = UploadOptions::from_bytes(url, body.clone(), "file")
                    .timeout(Duration::from_millis(300));
                futs.push(tokio::spawn(upload_file(opts)));
            }
        }
        futs
    };
    for w in run_all(2) {
        let _ = w.await.unwrap();
    }
    // Let the warm-up's server-side connections (one pauses a second) finish first.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let metrics = tokio::runtime::Handle::current().metrics();
    let (fds_before, tasks_before) = (open_fds(), metrics.num_alive_tasks());
    let mut failures = 0;
    for _ in 0..10 {
        for w in run_all(20) {
            if w.await.unwrap().is_err() {
                failures += 1;
            }
        }
    }
    let (mut fds_after, mut tasks_after) = (open_fds(), metrics.num_alive_tasks());
    for _ in 0..200 {
        if fds_after <= fds_before && tasks_after <= tasks_before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
        (fds_after, tasks_after) = (open_fds(), metrics.num_alive_tasks());
    }
    eprintln!(
        "1,200 failing uploads ({failures} failed); fds {fds_before} -> {fds_after}; tasks {tasks_before} -> {tasks_after}"
    );
    assert!(
        failures >= 1000,
        "the faults should fail most uploads ({failures})"
    );
    assert_eq!(fds_after, fds_before, "file descriptors leaked");
    assert_eq!(tasks_after, tasks_before, "tasks leaked");
}
