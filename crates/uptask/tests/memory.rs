//! Streaming keeps memory flat: a 4 GiB upload must not grow the process by more than a few MiB.
//!
//! Its own test binary, so the process's peak RSS reflects this upload alone.

#![allow(
    missing_docs,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code"
)]

#[path = "upload/support.rs"]
mod support;

#[cfg(target_os = "linux")]
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_4_gib_upload_keeps_memory_flat() {
    use std::sync::atomic::Ordering;
    use uptask::{UploadOptions, upload_file};

    let size: u64 = 4 << 30;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sparse.bin");
    std::fs::File::create(&path).unwrap().set_len(size).unwrap();
    let server = support::TestServer::start(support::Behavior::Echo).await;

    // Warm up, so the runtime, TLS-free connect path and buffers exist before measuring.
    let warm = dir.path().join("warm.bin");
    std::fs::write(&warm, vec![7u8; 1 << 20]).unwrap();
    upload_file(UploadOptions::new(&server.url, &warm, "file"))
        .await
        .unwrap();

    // Reset the peak-RSS counter (VmHWM) to the current RSS.
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    let base = status_kib("VmRSS:");
    let done = upload_file(
        UploadOptions::new(&server.url, &path, "file").timeout(std::time::Duration::ZERO),
    )
    .await
    .unwrap();
    let peak = status_kib("VmHWM:");
    assert_eq!(done.status_code, 200);
    assert_eq!(
        server.seen.read.load(Ordering::SeqCst),
        server.seen.content_length().unwrap()
    );
    assert!(server.seen.content_length().unwrap() > size);
    let growth_kib = peak.saturating_sub(base);
    eprintln!("4 GiB upload: RSS before {base} KiB, peak {peak} KiB, growth {growth_kib} KiB");
    assert!(
        growth_kib < 8 * 1024,
        "memory grew by {growth_kib} KiB during a streamed upload"
    );
}
