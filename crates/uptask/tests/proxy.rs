//! HTTPS through real proxies (Debian's `tinyproxy` and `squid`): a `CONNECT` tunnel with TLS
//! to the origin inside it, HTTP/1.1 and HTTP/2, with Basic proxy authentication, against Node's
//! HTTP/2 server (`peers/h2-echo.mjs`, busboy parsing). The plain-http routes, the
//! environment and the CLI's flags are tested with the binary (`uptask-cli` tests).

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code; a skipped peer must say so loudly"
)]

use std::sync::{Arc, Mutex};

use serde_json::Value;
use uptask::{ErrorKind, Proxy, UploadOptions, upload_file};

mod common;

use common::proxies::ProxyPeer;
use common::{Peer, hex_sha256, payload};

/// The TLS echo server for `localhost`, the CA that signed it, and its port.
fn tls_peer(dir: &std::path::Path) -> Option<(Peer, String, u16)> {
    let pki = common::pki::generate(&["localhost"]);
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, &pki.cert_pem).unwrap();
    std::fs::write(&key, &pki.key_pem).unwrap();
    let args = ["0".as_ref(), cert.as_os_str(), key.as_os_str()];
    let peer = common::start_peer("h2-echo.mjs", "busboy", &args)?;
    let port = peer.banner.trim().rsplit(' ').next()?.parse().ok()?;
    Some((peer, pki.ca_pem, port))
}

/// Uploads 3 MiB through `proxy` to the TLS peer; what the peer parsed and the progress seen.
async fn through(
    proxy: Proxy,
    http2: bool,
) -> Option<(Result<Value, uptask::UploadError>, Vec<u64>, Vec<u8>)> {
    let dir = tempfile::tempdir().unwrap();
    let (_peer, ca, port) = tls_peer(dir.path())?;
    let data = payload((3 << 20) + 11);
    std::fs::write(dir.path().join("video.mp4"), &data).unwrap();
    let url = format!("https://localhost:{port}/upload");
    let opts = UploadOptions::new(url, dir.path().join("video.mp4"), "clip")
        .add_root_certificate_pem(ca)
        .enable_http2(http2)
        .proxy(proxy);
    let task = upload_file(opts);
    let sent = Arc::new(Mutex::new(Vec::new()));
    let s = Arc::clone(&sent);
    task.on_progress_update(move |p| s.lock().unwrap().push(p.total_bytes_sent));
    let outcome = task.await.map(|done| {
        assert_eq!(done.status_code, 200, "{}", done.data);
        serde_json::from_str::<Value>(&done.data).unwrap()
    });
    let sent = sent.lock().unwrap().clone();
    Some((outcome, sent, data))
}

/// The peer got the file whole, and progress climbed to the body's end, counted at our socket.
fn assert_delivered(parsed: &Value, sent: &[u64], data: &[u8], version: &str) {
    assert_eq!(parsed["httpVersion"], version, "{parsed}");
    assert_eq!(parsed["files"][0]["sha256"], hex_sha256(data), "{parsed}");
    assert!(sent.windows(2).all(|w| w[0] <= w[1]), "{sent:?}");
    let last = *sent.last().unwrap();
    assert!(
        last > data.len() as u64,
        "the whole body, framing included: {last}"
    );
}

#[tokio::test]
async fn https_goes_through_a_connect_tunnel_with_basic_auth() {
    let Some(proxy) = ProxyPeer::tinyproxy(Some(("up", "s3cret"))) else {
        return;
    };
    let Some((outcome, sent, data)) = through(Proxy::url(proxy.url()), false).await else {
        return;
    };
    assert_delivered(&outcome.unwrap(), &sent, &data, "1.1");
    let requests = proxy.requests();
    assert!(
        requests.iter().any(|r| r.starts_with("CONNECT localhost:")),
        "the proxy opened no tunnel: {requests:?}\n{}",
        proxy.log()
    );
}

#[tokio::test]
async fn http2_runs_inside_the_tunnel() {
    let Some(proxy) = ProxyPeer::tinyproxy(None) else {
        return;
    };
    let Some((outcome, sent, data)) = through(Proxy::url(proxy.url()), true).await else {
        return;
    };
    assert_delivered(&outcome.unwrap(), &sent, &data, "2.0");
    assert!(
        proxy.requests().iter().any(|r| r.starts_with("CONNECT ")),
        "{}",
        proxy.log()
    );
}

#[tokio::test]
async fn squid_tunnels_https_and_http2_alike() {
    let Some(proxy) = ProxyPeer::squid() else {
        return;
    };
    for (http2, version) in [(false, "1.1"), (true, "2.0")] {
        let Some((outcome, sent, data)) = through(Proxy::url(proxy.url()), http2).await else {
            return;
        };
        assert_delivered(&outcome.unwrap(), &sent, &data, version);
    }
    let tunnels = proxy
        .requests_after(0, 2)
        .iter()
        .filter(|r| r.starts_with("CONNECT localhost:"))
        .count();
    assert_eq!(tunnels, 2, "{}", proxy.log());
}

#[tokio::test]
async fn a_proxy_that_wants_credentials_is_one_clear_error() {
    let Some(proxy) = ProxyPeer::tinyproxy(Some(("up", "s3cret"))) else {
        return;
    };
    let Some((outcome, sent, _)) = through(Proxy::url(proxy.bare_url()), false).await else {
        return;
    };
    let err = outcome.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err}");
    let message = err.message();
    assert!(
        message.contains(&format!(
            "the proxy {} wants credentials (407",
            proxy.bare_url()
        )),
        "{message}"
    );
    assert!(message.contains("http://user:pass@host:port"), "{message}");
    assert!(sent.iter().all(|&n| n == 0), "nothing was sent: {sent:?}");

    // Wrong ones are refused as such, and the password stays out of the message.
    let wrong = proxy.bare_url().replace("http://", "http://up:wrong@");
    let (outcome, _, _) = through(Proxy::url(wrong), false).await.unwrap();
    let message = outcome.unwrap_err().message().to_owned();
    assert!(message.contains("were refused"), "{message}");
    assert!(!message.contains("wrong"), "{message}");
}

#[tokio::test]
async fn no_proxy_reaches_the_origin_directly() {
    // A proxy that is not there: only a bypass lets the upload through.
    let dead = format!("http://127.0.0.1:{}", common::proxies::free_port());
    let Some((outcome, sent, data)) = through(Proxy::url(&dead).no_proxy("localhost"), false).await
    else {
        return;
    };
    assert_delivered(&outcome.unwrap(), &sent, &data, "1.1");
    let (outcome, _, _) = through(Proxy::url(&dead), false).await.unwrap();
    let err = outcome.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
    assert!(
        err.message()
            .starts_with(&format!("cannot connect to proxy {dead}")),
        "{err}"
    );
}

#[tokio::test]
async fn a_tunnel_that_dies_mid_body_ends_the_upload_with_a_clear_error() {
    let Some(mut proxy) = ProxyPeer::tinyproxy(None) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let Some((_peer, ca, port)) = tls_peer(dir.path()) else {
        return;
    };
    std::fs::write(dir.path().join("big.bin"), payload(16 << 20)).unwrap();
    let opts = UploadOptions::new(
        format!("https://localhost:{port}/upload"),
        dir.path().join("big.bin"),
        "file",
    )
    .add_root_certificate_pem(ca)
    .limit_rate(4 << 20)
    .proxy(Proxy::url(proxy.url()));
    let task = upload_file(opts);
    let (tx, rx) = std::sync::mpsc::channel();
    task.on_progress_update(move |p| {
        if p.progress >= 10 {
            let _ = tx.send(());
        }
    });
    let running = tokio::spawn(task);
    tokio::task::spawn_blocking(move || rx.recv_timeout(std::time::Duration::from_secs(20)))
        .await
        .unwrap()
        .expect("10 % through the tunnel within 20 s");
    proxy.kill();
    let outcome = tokio::time::timeout(std::time::Duration::from_secs(15), running)
        .await
        .expect("the upload still runs 15 s after its tunnel died")
        .unwrap();
    let err = outcome.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    assert!(
        err.message()
            .contains(&format!("(through the proxy {})", proxy.url())),
        "{err}"
    );
}
