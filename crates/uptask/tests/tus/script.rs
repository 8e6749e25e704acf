//! A scripted tus server: each request is recorded, and a handler decides the answer from the
//! request head (and may cut the connection after reading part of the body).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    /// Names in lower case, in wire order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// How to answer one request.
#[derive(Debug, Clone, Default)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// Read at most this many body bytes, then close without answering.
    pub cut_after: Option<usize>,
    /// Stop reading the body and hold the connection open this long (a stall).
    pub stall: Option<Duration>,
}

impl Reply {
    pub fn new(status: u16) -> Self {
        Self {
            status,
            ..Self::default()
        }
    }

    pub fn header(mut self, name: &str, value: impl std::fmt::Display) -> Self {
        self.headers.push((name.to_owned(), value.to_string()));
        self
    }

    pub fn cut_after(mut self, n: usize) -> Self {
        self.cut_after = Some(n);
        self
    }

    pub fn stall(mut self, d: Duration) -> Self {
        self.stall = Some(d);
        self
    }
}

type Handler = dyn Fn(&Seen, usize) -> Reply + Send + Sync;

pub struct Script {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    log: Arc<Mutex<Vec<Seen>>>,
}

impl Script {
    /// Starts a server whose answers come from `handler(request_head, index)`.
    pub async fn start(handler: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let log = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let l = Arc::clone(&log);
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (log, handler) = (Arc::clone(&l), Arc::clone(&handler));
                tokio::spawn(async move {
                    let _ = serve(stream, &log, handler.as_ref()).await;
                });
            }
        });
        Self { base, log }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.log.lock().unwrap().clone()
    }

    /// "METHOD path" of each request, in order.
    pub fn lines(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|s| format!("{} {}", s.method, s.path))
            .collect()
    }
}

async fn serve(
    mut stream: TcpStream,
    log: &Mutex<Vec<Seen>>,
    handler: &Handler,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let (mut seen, used) = loop {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut headers);
        if let httparse::Status::Complete(used) = req.parse(&buf).unwrap() {
            let seen = Seen {
                method: req.method.unwrap().to_owned(),
                path: req.path.unwrap().to_owned(),
                headers: req
                    .headers
                    .iter()
                    .map(|h| {
                        (
                            h.name.to_ascii_lowercase(),
                            String::from_utf8_lossy(h.value).into_owned(),
                        )
                    })
                    .collect(),
                body: Vec::new(),
            };
            break (seen, used);
        }
    };
    let len: usize = seen
        .header("content-length")
        .map_or(0, |v| v.parse().unwrap());
    let index = {
        let log = log.lock().unwrap();
        log.len()
    };
    let reply = handler(&seen, index);
    let limit = reply.cut_after.unwrap_or(usize::MAX).min(len);
    let mut body = buf[used..].to_vec();
    body.truncate(limit);
    while body.len() < limit && reply.stall.is_none() {
        let mut chunk = vec![0u8; 64 * 1024];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        let take = n.min(limit - body.len());
        body.extend_from_slice(&chunk[..take]);
    }
    seen.body = body;
    log.lock().unwrap().push(seen);
    if let Some(d) = reply.stall {
        tokio::time::sleep(d).await;
        return Ok(());
    }
    if reply.cut_after.is_some() {
        return Ok(()); // dropped: the connection closes without an answer
    }
    let mut out = format!("HTTP/1.1 {} X\r\nTus-Resumable: 1.0.0\r\n", reply.status);
    for (n, v) in &reply.headers {
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    out.push_str("Content-Length: 0\r\nConnection: close\r\n\r\n");
    stream.write_all(out.as_bytes()).await?;
    stream.shutdown().await
}
