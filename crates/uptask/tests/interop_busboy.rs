//! Interop with an independent multipart parser: busboy, behind `peers/form-echo.mjs`.
//!
//! Needs `node` and `peers/node_modules` (`npm install` in `peers/`; the test script does it).
//! Without them the tests say so loudly and skip, unless `UPTASK_REQUIRE_PEERS=1` (set by the
//! test script and CI), where a missing peer is a failure.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::print_stderr,
    reason = "test code; a skipped peer must say so loudly"
)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use sha2::{Digest, Sha256};
use uptask::{UploadOptions, upload_file};

struct Peer {
    child: Child,
    base: String,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn peers_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../peers")
}

/// Starts the busboy echo server, or explains why it cannot.
fn start_peer() -> Option<Peer> {
    let dir = peers_dir();
    let required = std::env::var("UPTASK_REQUIRE_PEERS").is_ok_and(|v| v == "1");
    if !dir.join("node_modules/busboy").exists() {
        let why = format!(
            "SKIPPED: busboy is not installed in {} (run `npm install` there)",
            dir.display()
        );
        assert!(!required, "{why}");
        eprintln!("{why}");
        return None;
    }
    let mut child = match Command::new("node")
        .arg("form-echo.mjs")
        .arg("0")
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            let why = format!("SKIPPED: cannot run node: {e}");
            assert!(!required, "{why}");
            eprintln!("{why}");
            return None;
        }
    };
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line.trim().rsplit(' ').next().unwrap().to_owned();
    Some(Peer {
        child,
        base: format!("http://127.0.0.1:{port}"),
    })
}

fn hex_sha256(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

#[tokio::test]
async fn busboy_reads_fields_file_name_size_and_content() {
    let Some(peer) = start_peer() else { return };
    let data = payload(1 << 20);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("报告 résumé.pdf");
    std::fs::write(&path, &data).unwrap();
    let done = upload_file(
        UploadOptions::new(format!("{}/upload", peer.base), &path, "document")
            .form_data("owner", "ann")
            .form_data("note", "multi word; with = signs")
            .form_data("owner", "bob"),
    )
    .await
    .unwrap();
    assert_eq!(done.status_code, 200, "{}", done.data);
    let v: Value = serde_json::from_str(&done.data).unwrap();
    let fields: Vec<(String, String)> = v["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_owned(),
                f["value"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        fields,
        [
            ("owner", "ann"),
            ("note", "multi word; with = signs"),
            ("owner", "bob")
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
    );
    let file = &v["files"][0];
    assert_eq!(file["name"], "document");
    assert_eq!(file["filename"], "报告 résumé.pdf");
    assert_eq!(file["mimeType"], "application/pdf");
    assert_eq!(file["size"], data.len());
    assert_eq!(file["sha256"], hex_sha256(&data));
    let declared: u64 = v["headers"]["content-length"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(declared, v["bytesReceived"].as_u64().unwrap());
}

#[tokio::test]
async fn busboy_reads_escaped_names_as_browsers_send_them() {
    let Some(peer) = start_peer() else { return };
    let cases = [
        ("plain.txt", "plain.txt"),
        ("quote\"d.txt", "quote%22d.txt"),
        ("back\\slash.txt", "back%5Cslash.txt"),
        ("new\nline.txt", "new%0Aline.txt"),
        ("semi;colon=eq.txt", "semi;colon=eq.txt"),
        ("emoji 🚀.bin", "emoji 🚀.bin"),
    ];
    for (name, seen) in cases {
        let done = upload_file(
            UploadOptions::from_bytes(format!("{}/upload", peer.base), b"x".to_vec(), "f\"ield")
                .file_name(name)
                .form_data("k\"ey\r\n", "value"),
        )
        .await
        .unwrap();
        let v: Value = serde_json::from_str(&done.data).unwrap();
        assert_eq!(v["files"][0]["filename"], seen, "{name:?}");
        assert_eq!(v["files"][0]["name"], "f%22ield");
        assert_eq!(v["fields"][0]["name"], "k%22ey%0D%0A");
        assert_eq!(v["fields"][0]["value"], "value");
    }
}

#[tokio::test]
async fn busboy_sees_an_aborted_upload_as_aborted() {
    let Some(peer) = start_peer() else { return };
    let task = upload_file(UploadOptions::from_bytes(
        format!("{}/upload?slow_ms=5", peer.base),
        payload(32 << 20),
        "file",
    ));
    let handle = task.handle();
    task.on_progress_update(move |p| {
        if p.total_bytes_sent > 1 << 20 {
            handle.abort();
        }
    });
    assert!(task.await.unwrap_err().is_aborted());
    // The peer notices once its buffered bytes are drained.
    let mut aborted = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let log = reqwest_free_get(&format!("{}/log", peer.base)).await;
        let v: Value = serde_json::from_str(&log).unwrap();
        if v.as_array().unwrap().iter().any(|r| r["aborted"] == true) {
            aborted = true;
            break;
        }
    }
    assert!(aborted, "busboy never saw the request aborted");
}

/// A GET with a raw socket, so the test needs no HTTP client besides the one under test.
async fn reqwest_free_get(url: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut s = tokio::net::TcpStream::connect(host).await.unwrap();
    s.write_all(
        format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8(out).unwrap();
    let (_, body) = text.split_once("\r\n\r\n").unwrap();
    // Node answers small bodies with Content-Length, without chunking.
    body.to_owned()
}
