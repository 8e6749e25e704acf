//! A loopback HTTP/1.1 server whose misbehaviour each test chooses.

#![allow(dead_code, reason = "each test binary uses a different part")]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

/// How the server treats a request.
#[derive(Debug, Clone)]
pub enum Behavior {
    /// Read the whole body, answer 200 with `{"bytes":N,"sha256":"..."}`.
    Echo,
    /// Like `Echo`, but read `chunk` bytes per `pause`.
    SlowReader { chunk: usize, pause: Duration },
    /// Read the head, then neither read nor answer.
    Stall,
    /// Read the head and `n` body bytes, then close the connection.
    CutAfter(u64),
    /// Read the head and `after` body bytes, answer 413, then keep reading (counting) until the
    /// client goes away (`then_close == false`) or close at once (`then_close == true`).
    Early413 { after: u64, then_close: bool },
    /// Read everything, send the head, wait, then send the body.
    PauseAfterHead(Duration),
    /// Read everything, then answer these bytes verbatim.
    Raw(Vec<u8>),
    /// Read everything; answer `status` with `Location: location`, unless the request's path is
    /// `final_path`, which is answered like `Echo`.
    Redirect {
        status: u16,
        location: String,
        final_path: String,
    },
}

/// What the server saw of one request.
#[derive(Debug, Default)]
pub struct Seen {
    pub head: Mutex<String>,
    pub body: Mutex<Vec<u8>>,
    /// Body bytes read so far, live.
    pub read: AtomicU64,
    /// The whole declared body arrived.
    pub complete: AtomicBool,
    /// The connection ended before the declared body did.
    pub aborted: AtomicBool,
    /// The connection has been handled to its end.
    pub closed: AtomicBool,
    pub connections: AtomicU64,
    /// The request path of every request that was read to the end, in order.
    pub paths: Mutex<Vec<String>>,
    /// Every request head seen, in order.
    pub heads: Mutex<Vec<String>>,
}

impl Seen {
    /// Whether the whole declared body arrived.
    pub fn is_complete(&self) -> bool {
        self.complete.load(Ordering::SeqCst)
    }

    /// The Content-Length of the last request head seen.
    pub fn content_length(&self) -> Option<u64> {
        content_length(&self.head.lock().unwrap())
    }

    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.head.lock().unwrap();
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }

    pub async fn wait_closed(&self) {
        for _ in 0..500 {
            if self.closed.load(Ordering::SeqCst) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the server never saw the connection end");
    }
}

pub struct TestServer {
    pub url: String,
    pub seen: Arc<Seen>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestServer {
    pub async fn start(behavior: Behavior) -> Self {
        Self::start_with(behavior, None).await
    }

    /// Starts the server; with `tls`, connections are wrapped by that acceptor.
    pub async fn start_with(behavior: Behavior, tls: Option<tokio_rustls::TlsAcceptor>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Seen::default());
        let s = Arc::clone(&seen);
        let task = tokio::spawn(async move {
            loop {
                // A client that aborts before its connection is accepted can make accept fail
                // (ECONNABORTED); the server must go on accepting the others.
                let Ok((tcp, _)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    continue;
                };
                s.connections.fetch_add(1, Ordering::SeqCst);
                let s = Arc::clone(&s);
                let behavior = behavior.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    match tls {
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(tcp).await {
                                serve(stream, behavior, &s).await;
                            }
                        }
                        None => serve(tcp, behavior, &s).await,
                    }
                    s.closed.store(true, Ordering::SeqCst);
                });
            }
        });
        Self {
            url: format!("http://{addr}/upload"),
            seen,
            task,
        }
    }
}

fn content_length(head: &str) -> Option<u64> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse().ok())?
    })
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, behavior: Behavior, seen: &Seen) {
    let mut buf = Vec::new();
    let head_end = loop {
        let mut tmp = [0u8; 4096];
        let n = match s.read(&mut tmp).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        buf.extend_from_slice(&tmp[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    *seen.head.lock().unwrap() = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    seen.heads
        .lock()
        .unwrap()
        .push(String::from_utf8_lossy(&buf[..head_end]).into_owned());
    // This connection's own head: `seen.head` is shared and may already hold another's.
    let head_text = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let declared = content_length(&head_text).unwrap_or(0);
    let mut body = buf.split_off(head_end);
    // `got` drives this connection; `seen.read` mirrors it for tests that watch one connection.
    let mut got = body.len() as u64;
    seen.read.store(got, Ordering::SeqCst);

    let limit = match &behavior {
        Behavior::Stall => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            return;
        }
        Behavior::CutAfter(n) => *n,
        Behavior::Early413 { after, .. } => *after,
        _ => declared,
    };
    let (chunk, pause) = match &behavior {
        Behavior::SlowReader { chunk, pause } => (*chunk, Some(*pause)),
        _ => (64 * 1024, None),
    };
    // Small bodies are kept and hashed; big ones (memory tests) are only counted.
    let keep = declared <= 16 * 1024 * 1024;
    let mut hasher = Sha256::new();
    hasher.update(&body);
    let mut tmp = vec![0u8; chunk];
    loop {
        if got >= limit {
            break;
        }
        let want = usize::try_from(limit - got)
            .unwrap_or(usize::MAX)
            .min(chunk);
        match s.read(&mut tmp[..want]).await {
            Ok(0) | Err(_) => {
                seen.aborted.store(true, Ordering::SeqCst);
                if keep {
                    *seen.body.lock().unwrap() = body;
                }
                return;
            }
            Ok(n) => {
                if keep {
                    hasher.update(&tmp[..n]);
                    body.extend_from_slice(&tmp[..n]);
                }
                got += n as u64;
                seen.read.fetch_add(n as u64, Ordering::SeqCst);
            }
        }
        if let Some(p) = pause {
            tokio::time::sleep(p).await;
        }
    }
    if got >= declared {
        seen.complete.store(true, Ordering::SeqCst);
    }
    let total = got;
    if keep {
        *seen.body.lock().unwrap() = body;
    }
    let sha = hex(&hasher.finalize());
    let path = head_text.split(' ').nth(1).unwrap_or_default().to_owned();
    seen.paths.lock().unwrap().push(path.clone());
    let behavior = match behavior {
        Behavior::Redirect { final_path, .. } if final_path == path => Behavior::Echo,
        other => other,
    };
    match behavior {
        Behavior::Redirect {
            status, location, ..
        } => {
            let head = format!(
                "HTTP/1.1 {status} Redirect\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n"
            );
            let _ = s.write_all(head.as_bytes()).await;
            let _ = s.flush().await;
        }
        Behavior::CutAfter(_) => {}
        Behavior::Early413 { then_close, .. } => {
            let msg = b"request entity too large";
            let head = format!(
                "HTTP/1.1 413 Payload Too Large\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                msg.len()
            );
            let _ = s.write_all(head.as_bytes()).await;
            let _ = s.write_all(msg).await;
            let _ = s.flush().await;
            if !then_close {
                // Keep counting what the client still sends, until it gives up.
                loop {
                    match s.read(&mut tmp).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            seen.read.fetch_add(n as u64, Ordering::SeqCst);
                        }
                    }
                }
            }
        }
        Behavior::PauseAfterHead(pause) => {
            let body = format!("{{\"bytes\":{total}}}");
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nX-Test: paused\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes()).await;
            let _ = s.flush().await;
            tokio::time::sleep(pause).await;
            let _ = s.write_all(body.as_bytes()).await;
            let _ = s.flush().await;
        }
        Behavior::Raw(bytes) => {
            let _ = s.write_all(&bytes).await;
            let _ = s.flush().await;
        }
        Behavior::Echo | Behavior::SlowReader { .. } | Behavior::Stall => {
            let body = format!("{{\"bytes\":{total},\"sha256\":\"{sha}\"}}");
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes()).await;
            let _ = s.write_all(body.as_bytes()).await;
            let _ = s.flush().await;
        }
    }
    let _ = s.shutdown().await;
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn sha256(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Checks that `body`, a multipart body as the server read it, is one file part holding exactly
/// `source` (the bytes the test started from), and that `reply`, the Echo server's JSON, hashed
/// that same body: the part headers as sent, then the source, then the closing delimiter.
pub fn assert_body_carries(body: &[u8], reply: &str, source: &[u8]) {
    let delimiter_end = body.windows(2).position(|w| w == b"\r\n").unwrap();
    let delimiter = &body[..delimiter_end];
    let start = body.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let mut expected = body[..start].to_vec();
    expected.extend_from_slice(source);
    expected.extend_from_slice(b"\r\n");
    expected.extend_from_slice(delimiter);
    expected.extend_from_slice(b"--\r\n");
    assert_eq!(body.len(), expected.len(), "body length");
    assert!(
        body[start..start + source.len()] == *source,
        "the file part differs from the source"
    );
    let v: serde_json::Value = serde_json::from_str(reply).unwrap();
    assert_eq!(
        v["sha256"],
        sha256(&expected),
        "the server hashed another body"
    );
    assert_eq!(v["bytes"], expected.len() as u64);
}

/// Records every event a task delivers, in order, as text.
#[derive(Debug, Default, Clone)]
pub struct Trace(pub Arc<Mutex<Vec<String>>>);

impl Trace {
    pub fn attach(&self, task: &uptask::UploadTask) {
        let t = self.clone();
        task.on_progress_update(move |p| {
            t.push(format!(
                "progress:{}:{}:{}",
                p.progress, p.total_bytes_sent, p.total_bytes_expected_to_send
            ));
        });
        let t = self.clone();
        task.on_headers_received(move |h| t.push(format!("headers:{}", h.header.len())));
    }

    pub fn push(&self, s: String) {
        self.0.lock().unwrap().push(s);
    }

    pub fn events(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    pub fn progress(&self) -> Vec<(u8, u64, u64)> {
        self.events()
            .iter()
            .filter_map(|e| {
                let rest = e.strip_prefix("progress:")?;
                let mut it = rest.split(':').map(|x| x.parse::<u64>().unwrap());
                Some((it.next()? as u8, it.next()?, it.next()?))
            })
            .collect()
    }
}
