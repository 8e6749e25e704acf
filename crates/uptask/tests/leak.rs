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

#[cfg(target_os = "linux")]
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_upload_abort_cycles_leak_nothing() {
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
            let task = upload_file(opts);
            let handle = task.handle();
            match next() % 4 {
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
            waiters.push(tokio::spawn(task));
        }
        for w in waiters {
            match w.await.unwrap() {
                Err(e) if e.is_aborted() => aborted += 1,
                Ok(done) if done.status_code == 200 => completed += 1,
                other => panic!("unexpected outcome {other:?}"),
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
