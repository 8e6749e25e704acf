//! HTTP/2 (`enable_http2`) against Node's own HTTP/2 server (`peers/h2-echo.mjs`, busboy
//! parsing): cleartext with prior knowledge, TLS chosen by ALPN, an early answer, and progress
//! that stays within what the server's flow-control window let out.
//!
//! Needs `node` and `peers/node_modules`; without them the tests say so loudly and skip,
//! unless `UPTASK_REQUIRE_PEERS=1` (the test script and CI).

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code; a skipped peer must say so loudly"
)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use uptask::{UploadOptions, upload_file};

mod common;

use common::{Peer, hex_sha256, payload};

/// The HTTP/2 echo server (TLS with `tls = Some((cert, key))` files), and its port.
fn start(tls: Option<(&std::path::Path, &std::path::Path)>) -> Option<(Peer, u16)> {
    let mut args: Vec<&std::ffi::OsStr> = vec!["0".as_ref()];
    if let Some((cert, key)) = tls {
        args.push(cert.as_os_str());
        args.push(key.as_os_str());
    }
    let peer = common::start_peer("h2-echo.mjs", "busboy", &args)?;
    let port = peer
        .banner
        .trim()
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    Some((peer, port))
}

/// Uploads `data` from a file plus a field, and checks what the server parsed.
async fn round_trip(
    url: String,
    extra_root: Option<String>,
    http2: bool,
) -> (Value, uptask::Profile) {
    let dir = tempfile::tempdir().unwrap();
    let data = payload((3 << 20) + 5);
    std::fs::write(dir.path().join("video.mp4"), &data).unwrap();
    let mut opts = UploadOptions::new(url, dir.path().join("video.mp4"), "clip")
        .form_data("album", "trip")
        .header("X-Trace", "abc")
        .enable_http2(http2);
    if let Some(pem) = extra_root {
        opts = opts.add_root_certificate_pem(pem);
    }
    let task = upload_file(opts);
    let sent = Arc::new(Mutex::new(Vec::new()));
    let s = Arc::clone(&sent);
    task.on_progress_update(move |p| s.lock().unwrap().push(p.total_bytes_sent));
    let done = task.await.unwrap();
    assert_eq!(done.status_code, 200, "{}", done.data);
    let v: Value = serde_json::from_str(&done.data).unwrap();
    let file = &v["files"][0];
    assert_eq!(file["name"], "clip");
    assert_eq!(file["filename"], "video.mp4");
    assert_eq!(file["sha256"], hex_sha256(&data));
    assert_eq!(v["fields"][0]["value"], "trip");
    let sent = sent.lock().unwrap();
    assert!(sent.windows(2).all(|w| w[0] <= w[1]), "{sent:?}");
    assert_eq!(*sent.last().unwrap(), v["bytesReceived"].as_u64().unwrap());
    (v, done.profile.unwrap())
}

#[tokio::test]
async fn cleartext_http2_with_prior_knowledge_round_trips() {
    let Some((_peer, port)) = start(None) else {
        return;
    };
    let (v, profile) = round_trip(format!("http://127.0.0.1:{port}/upload"), None, true).await;
    assert_eq!(v["httpVersion"], "2.0");
    assert_eq!(profile.protocol.as_deref(), Some("h2"));
}

#[tokio::test]
async fn tls_offers_http2_and_falls_back_without_it() {
    let pki = common::pki::generate(&["127.0.0.1"]);
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, &pki.cert_pem).unwrap();
    std::fs::write(&key, &pki.key_pem).unwrap();
    let Some((_peer, port)) = start(Some((&cert, &key))) else {
        return;
    };
    let url = format!("https://127.0.0.1:{port}/upload");
    let (v, profile) = round_trip(url.clone(), Some(pki.ca_pem.clone()), true).await;
    assert_eq!(
        (v["httpVersion"].as_str(), profile.protocol.as_deref()),
        (Some("2.0"), Some("h2"))
    );
    assert!(profile.ssl_connection_end.is_some());
    // Not asked for: the same server is spoken to in HTTP/1.1.
    let (v, profile) = round_trip(url, Some(pki.ca_pem), false).await;
    assert_eq!(
        (v["httpVersion"].as_str(), profile.protocol.as_deref()),
        (Some("1.1"), Some("http/1.1"))
    );
}

#[tokio::test]
async fn progress_stops_where_the_servers_window_does() {
    // The server takes the request and reads nothing: only its initial window (64 KiB by
    // default) may leave. Over HTTP/1.1 the socket buffers would take megabytes.
    let Some((_peer, port)) = start(None) else {
        return;
    };
    let opts = UploadOptions::from_bytes(
        format!("http://127.0.0.1:{port}/upload?stall=1"),
        payload(4 << 20),
        "file",
    )
    .enable_http2(true);
    let task = upload_file(opts);
    let last = Arc::new(Mutex::new(0u64));
    let l = Arc::clone(&last);
    task.on_progress_update(move |p| *l.lock().unwrap() = p.total_bytes_sent);
    let handle = task.handle();
    let waiter = tokio::spawn(task);
    tokio::time::sleep(Duration::from_millis(800)).await;
    let sent = *last.lock().unwrap();
    assert!(sent > 0 && sent <= 65_535, "{sent} bytes counted as sent");
    assert!(handle.abort());
    assert!(waiter.await.unwrap().unwrap_err().is_aborted());
}

#[tokio::test]
async fn an_early_answer_over_http2_is_the_result() {
    let Some((_peer, port)) = start(None) else {
        return;
    };
    let opts = UploadOptions::from_bytes(
        format!("http://127.0.0.1:{port}/upload?early=413"),
        payload(8 << 20),
        "file",
    )
    .enable_http2(true);
    let done = upload_file(opts).await.unwrap();
    assert_eq!(done.status_code, 413, "{}", done.data);
    assert_eq!(done.data, "refused early\n");
}

#[tokio::test]
async fn a_response_body_too_large_to_hold_is_refused() {
    let Some((_peer, port)) = start(None) else {
        return;
    };
    let opts = UploadOptions::from_bytes(
        format!("http://127.0.0.1:{port}/upload?big=65"),
        payload(1000),
        "file",
    )
    .enable_http2(true);
    let err = upload_file(opts).await.unwrap_err();
    assert!(
        err.to_string().contains("larger than 67108864 bytes"),
        "{err}"
    );
}
