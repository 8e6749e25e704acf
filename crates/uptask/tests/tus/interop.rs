//! Interop with an independent tus server: `@tus/server` with its file store, behind
//! `peers/tus-server.mjs`. Cuts and restarts go through a loopback proxy.
//!
//! Needs `node` and `peers/node_modules` (the test script installs them). Without them the tests
//! say so loudly and skip, unless `UPTASK_REQUIRE_PEERS=1`, where a missing peer is a failure.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use uptask::{Notice, TusOptions, UploadOptions, upload_file};

use super::payload;

pub struct TusPeer {
    _peer: crate::common::Peer,
    pub port: u16,
    pub dir: PathBuf,
}

/// Starts `@tus/server` on `port` (0: any) storing into `dir`, or explains why it cannot.
pub fn start_tus_peer(port: u16, dir: &Path) -> Option<TusPeer> {
    let port = port.to_string();
    let peer = crate::common::start_peer(
        "tus-server.mjs",
        "@tus/server",
        &[port.as_ref(), dir.as_os_str()],
    )?;
    // "tus server listening on http://127.0.0.1:PORT/files"
    let port = peer
        .banner
        .trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.strip_suffix("/files"))
        .unwrap_or_else(|| panic!("unexpected peer banner {:?}", peer.banner))
        .parse()
        .unwrap();
    Some(TusPeer {
        _peer: peer,
        port,
        dir: dir.to_path_buf(),
    })
}

fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The upload URL from the `uploadCreated` notice.
fn created_url(task: &uptask::UploadTask) -> Arc<Mutex<Option<String>>> {
    let url = Arc::new(Mutex::new(None));
    let u = Arc::clone(&url);
    task.on_notice(move |n| {
        if let Notice::UploadCreated { url } = n {
            *u.lock().unwrap() = Some(url.clone());
        }
    });
    url
}

/// The file `@tus/server` stored for an upload URL.
fn stored(peer_dir: &Path, url: &str) -> Vec<u8> {
    let id = url.rsplit('/').next().unwrap();
    std::fs::read(peer_dir.join(id)).unwrap()
}

fn file_with(data: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("video.mp4");
    std::fs::write(&path, data).unwrap();
    (dir, path)
}

#[tokio::test]
async fn round_trip_to_tus_server_is_byte_identical() {
    let store = tempfile::tempdir().unwrap();
    let Some(peer) = start_tus_peer(0, store.path()) else {
        return;
    };
    let data = payload(5 << 20);
    let (_keep, path) = file_with(&data);
    let endpoint = format!("http://127.0.0.1:{}/files", peer.port);
    let opts = UploadOptions::new(&endpoint, &path, "file").tus(TusOptions::new());
    let task = upload_file(opts);
    let url = created_url(&task);
    let done = task.await.unwrap();
    assert_eq!(done.status_code, 204);
    let url = url.lock().unwrap().clone().unwrap();
    assert_eq!(sha256_hex(&stored(&peer.dir, &url)), sha256_hex(&data));
    // The metadata arrived as sent.
    let info = std::fs::read_to_string(
        peer.dir
            .join(format!("{}.json", url.rsplit('/').next().unwrap())),
    )
    .unwrap();
    assert!(
        info.contains("video.mp4") && info.contains("video/mp4"),
        "{info}"
    );
}

#[tokio::test]
async fn a_stream_with_a_deferred_length_round_trips_to_tus_server() {
    let store = tempfile::tempdir().unwrap();
    let Some(peer) = start_tus_peer(0, store.path()) else {
        return;
    };
    let data = payload((5 << 20) + 123);
    let (_dir, fifo) = super::contract::fifo_with(data.clone());
    let endpoint = format!("http://127.0.0.1:{}/files", peer.port);
    let opts = UploadOptions::new(&endpoint, &fifo, "file")
        .file_name("stream.bin")
        .tus(TusOptions::new().chunk_size(1 << 20));
    let task = upload_file(opts);
    let url = created_url(&task);
    assert_eq!(task.await.unwrap().status_code, 204);
    let url = url.lock().unwrap().clone().unwrap();
    assert_eq!(sha256_hex(&stored(&peer.dir, &url)), sha256_hex(&data));
}

#[tokio::test]
async fn abort_terminates_on_tus_server() {
    let store = tempfile::tempdir().unwrap();
    let Some(peer) = start_tus_peer(0, store.path()) else {
        return;
    };
    let proxy = Proxy::start(peer.port, None, Some(Duration::from_millis(2))).await;
    let data = payload(8 << 20);
    let opts = UploadOptions::from_bytes(proxy.url("/files"), data, "f").tus(TusOptions::new());
    let task = upload_file(opts);
    let url = created_url(&task);
    let handle = task.handle();
    let waiter = tokio::spawn(task);
    crate::common::wait_until("1 MiB through the proxy", Duration::from_secs(30), || {
        proxy.upstream_bytes() >= 1 << 20
    })
    .await;
    handle.abort();
    assert!(waiter.await.unwrap().unwrap_err().is_aborted());
    let url = url.lock().unwrap().clone().unwrap();
    let id = url.rsplit('/').next().unwrap();
    assert!(!peer.dir.join(id).exists(), "the peer deleted the upload");
    let head = reqwest_head(peer.port, id).await;
    assert_eq!(head, 404);
}

/// HEAD straight to the peer, answering its status.
async fn reqwest_head(port: u16, id: &str) -> u16 {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let req = format!(
        "HEAD /files/{id} HTTP/1.1\r\nHost: 127.0.0.1\r\nTus-Resumable: 1.0.0\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf).await;
    String::from_utf8_lossy(&buf)
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn a_connection_cut_mid_patch_is_resumed_to_an_identical_file() {
    let store = tempfile::tempdir().unwrap();
    let Some(peer) = start_tus_peer(0, store.path()) else {
        return;
    };
    // The first connection that carries a PATCH is cut after 3 MiB have gone upstream.
    let proxy = Proxy::start(peer.port, Some(3 << 20), None).await;
    let data = payload(12 << 20);
    let (_keep, path) = file_with(&data);
    let opts = UploadOptions::new(proxy.url("/files"), &path, "file")
        .tus(TusOptions::new().retry_delays([Duration::ZERO; 3]));
    let task = upload_file(opts);
    let url = created_url(&task);
    let notices = Arc::new(Mutex::new(Vec::new()));
    let n = Arc::clone(&notices);
    task.on_notice(move |x| n.lock().unwrap().push(x.clone()));
    let done = task.await.unwrap();
    assert_eq!(done.status_code, 204);
    assert!(proxy.cut.load(Ordering::SeqCst), "the proxy did cut");
    let url = url.lock().unwrap().clone().unwrap();
    assert_eq!(sha256_hex(&stored(&peer.dir, &url)), sha256_hex(&data));
    let notices = notices.lock().unwrap();
    let resumed = notices.iter().find_map(|n| match n {
        Notice::Resumed { offset } => Some(*offset),
        _ => None,
    });
    let resumed = resumed.expect("a resume after the cut");
    assert!(resumed > 0 && resumed <= 3 << 20, "resumed at {resumed}");
    // Exactly two PATCHes: the cut one from 0, then one from the server's offset carrying
    // exactly the rest of the file, so no byte the server acknowledged went out again.
    let patches = proxy.patches();
    assert_eq!(patches.len(), 2, "{patches:?}");
    assert_eq!(patches[0].0, 0);
    assert!(patches[0].1 >= resumed, "{patches:?}");
    assert_eq!(patches[1], (resumed, (12 << 20) - resumed), "{patches:?}");
}

#[tokio::test]
async fn a_server_restart_mid_upload_is_resumed_to_an_identical_file() {
    let store = tempfile::tempdir().unwrap();
    let Some(peer) = start_tus_peer(0, store.path()) else {
        return;
    };
    let port = peer.port;
    // Throttled, so the restart happens while the body is on its way.
    let proxy = Proxy::start(port, None, Some(Duration::from_millis(1))).await;
    let data = payload(24 << 20);
    let (_keep, path) = file_with(&data);
    let opts = UploadOptions::new(proxy.url("/files"), &path, "file")
        .tus(TusOptions::new().retry_delays([Duration::from_millis(200); 10]));
    let task = upload_file(opts);
    let url = created_url(&task);
    let retried = Arc::new(AtomicBool::new(false));
    let r = Arc::clone(&retried);
    task.on_notice(move |n| {
        if matches!(n, Notice::Retrying { .. }) {
            r.store(true, Ordering::SeqCst);
        }
    });
    let waiter = tokio::spawn(task);
    crate::common::wait_until("4 MiB through the proxy", Duration::from_secs(30), || {
        proxy.upstream_bytes() >= 4 << 20
    })
    .await;
    drop(peer); // SIGKILL mid-PATCH
    let restarted = start_tus_peer(port, store.path()).unwrap();
    let done = waiter.await.unwrap().unwrap();
    assert_eq!(done.status_code, 204);
    assert!(
        retried.load(Ordering::SeqCst),
        "the restart was seen and retried"
    );
    let url = url.lock().unwrap().clone().unwrap();
    assert_eq!(sha256_hex(&stored(&restarted.dir, &url)), sha256_hex(&data));
}

/// A loopback TCP proxy to `127.0.0.1:upstream` that counts bytes sent upstream, may cut the
/// first PATCH connection after some bytes, and may slow the upload (a pause per 64 KiB).
pub struct Proxy {
    port: u16,
    upstream: Arc<AtomicU64>,
    pub cut: Arc<AtomicBool>,
    patches: Patches,
}

/// Each PATCH that went through: its `Upload-Offset` and the body bytes passed upstream.
type Patches = Arc<Mutex<Vec<(u64, u64)>>>;

impl Proxy {
    pub async fn start(
        upstream: u16,
        cut_patch_after: Option<u64>,
        pace: Option<Duration>,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let counted = Arc::new(AtomicU64::new(0));
        let cut = Arc::new(AtomicBool::new(false));
        let patches = Patches::default();
        let (c, k, p) = (Arc::clone(&counted), Arc::clone(&cut), Arc::clone(&patches));
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                let (c, k, p) = (Arc::clone(&c), Arc::clone(&k), Arc::clone(&p));
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)).await else {
                        return;
                    };
                    pipe(client, server, (c, k, p), cut_patch_after, pace).await;
                });
            }
        });
        Self {
            port,
            upstream: counted,
            cut,
            patches,
        }
    }

    /// The PATCH requests seen so far, in the order they ended.
    pub fn patches(&self) -> Vec<(u64, u64)> {
        self.patches.lock().unwrap().clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn upstream_bytes(&self) -> u64 {
        self.upstream.load(Ordering::SeqCst)
    }
}

async fn pipe(
    client: TcpStream,
    server: TcpStream,
    (counted, cut, patches): (Arc<AtomicU64>, Arc<AtomicBool>, Patches),
    cut_patch_after: Option<u64>,
    pace: Option<Duration>,
) {
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let up = async move {
        let mut buf = vec![0u8; 64 * 1024];
        let mut this_conn = 0u64;
        let mut is_patch = None;
        // The request head as read so far (until its end is seen), to find a PATCH's offset;
        // then where its body starts and its entry in `patches`, kept up to date as bytes pass.
        let mut head = Vec::new();
        let mut body: Option<(u64, usize)> = None;
        let record = |body: Option<(u64, usize)>, passed: u64| {
            if let Some((from, entry)) = body {
                patches.lock().unwrap()[entry].1 = passed.saturating_sub(from);
            }
        };
        loop {
            let n = match cr.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let patch = *is_patch.get_or_insert_with(|| buf.starts_with(b"PATCH"));
            if patch && body.is_none() {
                head.extend_from_slice(&buf[..n]);
                if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                    let text = String::from_utf8_lossy(&head[..end]).to_ascii_lowercase();
                    let offset = text
                        .lines()
                        .find_map(|l| l.strip_prefix("upload-offset:"))
                        .map_or(u64::MAX, |v| v.trim().parse().unwrap());
                    let mut all = patches.lock().unwrap();
                    all.push((offset, 0));
                    // `head` holds the connection from its first byte.
                    body = Some(((end + 4) as u64, all.len() - 1));
                }
            }
            if let Some(limit) = cut_patch_after
                && patch
                && this_conn + n as u64 > limit
                && !cut.swap(true, Ordering::SeqCst)
            {
                let keep = usize::try_from(limit - this_conn).unwrap();
                let _ = sw.write_all(&buf[..keep]).await;
                counted.fetch_add(keep as u64, Ordering::SeqCst);
                record(body, limit);
                return; // both halves drop: the connection is cut
            }
            if sw.write_all(&buf[..n]).await.is_err() {
                break;
            }
            this_conn += n as u64;
            record(body, this_conn);
            counted.fetch_add(n as u64, Ordering::SeqCst);
            if let Some(p) = pace {
                tokio::time::sleep(p).await;
            }
        }
        let _ = sw.shutdown().await;
    };
    let down = async move {
        let _ = tokio::io::copy(&mut sr, &mut cw).await;
        let _ = cw.shutdown().await;
    };
    tokio::select! {
        () = up => {},
        () = down => {},
    }
}
