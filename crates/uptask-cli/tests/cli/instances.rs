//! Several `uptask serve --store s3://...` processes on one SeaweedFS bucket, raw HTTP to
//! them, and a round-robin balancer in front (each new connection to the next instance).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::weed;

/// One `uptask serve` on the test store, killed on drop.
pub(crate) struct Instance {
    child: Child,
    pub(crate) addr: String,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Instance {
    /// Starts `uptask serve --store s3://BUCKET/PREFIX` with `extra` flags and waits for its
    /// banner.
    pub(crate) fn start(store: &str, extra: &[&str]) -> Self {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("uptask"))
            .args(["serve", "--addr", "127.0.0.1:0", "--store", store])
            .args(["--endpoint", &format!("http://{}", weed::ENDPOINT)])
            .args(["--part-size", "5MiB"])
            .args(extra)
            .envs(weed::aws_env())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut banner = String::new();
        std::io::BufRead::read_line(&mut stderr, &mut banner).unwrap();
        // Keep draining stderr (the access log) so the server never blocks on it; into
        // $UPTASK_TEST_LOGS/serve-PID.log when that is set, to see what a failure did.
        let pid = child.id();
        std::thread::spawn(move || match std::env::var_os("UPTASK_TEST_LOGS") {
            Some(dir) => {
                let path = std::path::Path::new(&dir).join(format!("serve-{pid}.log"));
                let mut file = std::fs::File::create(path).unwrap();
                std::io::copy(&mut stderr, &mut file)
            }
            None => std::io::copy(&mut stderr, &mut std::io::sink()),
        });
        let addr = banner
            .split("http://")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or_else(|| panic!("no address in the banner {banner:?}"))
            .to_owned();
        Self { child, addr }
    }

    /// SIGKILL: the instance vanishes mid-request, as in a crash.
    pub(crate) fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

/// An answer: status, headers (names lower-case) and the start of its body.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
}

impl Reply {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn offset(&self) -> u64 {
        self.header("upload-offset")
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no Upload-Offset in {self:?}"))
    }
}

/// One request with `Connection: close`; the answer read to its end (10 s deadline).
pub(crate) fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> Reply {
    let mut s = open(addr, method, path, headers, body.len() as u64);
    // A refusal may come before the body is sent; the answer is read all the same.
    let _ = s.write_all(body);
    read_reply(s)
}

/// Sends a request head announcing `length` body bytes, and hands back the socket.
pub(crate) fn open(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    length: u64,
) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {length}\r\n"
    );
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    s
}

pub(crate) fn read_reply(mut s: TcpStream) -> Reply {
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no answer: {:?}", String::from_utf8_lossy(&buf)));
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&buf[end + 4..])
            .chars()
            .take(300)
            .collect(),
    }
}

pub(crate) fn tus() -> (&'static str, String) {
    ("Tus-Resumable", "1.0.0".to_owned())
}

/// POST /files/ with `Upload-Length`; the upload's path.
pub(crate) fn create(addr: &str, length: u64) -> String {
    let r = http(
        addr,
        "POST",
        "/files/",
        &[tus(), ("Upload-Length", length.to_string())],
        b"",
    );
    assert_eq!(r.status, 201, "{r:?}");
    r.header("location").unwrap().to_owned()
}

/// PATCH `bytes` at `offset`.
pub(crate) fn patch(addr: &str, path: &str, offset: u64, bytes: &[u8]) -> Reply {
    http(
        addr,
        "PATCH",
        path,
        &[
            tus(),
            ("Upload-Offset", offset.to_string()),
            ("Content-Type", "application/offset+octet-stream".to_owned()),
        ],
        bytes,
    )
}

pub(crate) fn head(addr: &str, path: &str) -> Reply {
    http(addr, "HEAD", path, &[tus()], b"")
}

/// Keys under `prefix` in the test bucket.
pub(crate) fn keys(bucket: &str, prefix: &str) -> Vec<String> {
    let (status, body) = weed::raw(
        "GET",
        &format!("/{bucket}"),
        &[("list-type", "2"), ("prefix", prefix)],
        &weed::creds(),
    );
    assert_eq!(status, 200);
    let text = String::from_utf8_lossy(&body).into_owned();
    text.split("<Key>")
        .skip(1)
        .filter_map(|s| s.split("</Key>").next())
        .map(str::to_owned)
        .collect()
}

/// An object's bytes, read back from the bucket.
pub(crate) fn object(bucket: &str, key: &str) -> Vec<u8> {
    let (status, body) = weed::raw("GET", &format!("/{bucket}/{key}"), &[], &weed::creds());
    assert_eq!(status, 200, "GET {key}");
    body
}

/// Polls `cond` every 50 ms until it holds; fails naming `what` after `limit`.
pub(crate) fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Forwards each new connection to the next of `backends`, in turn: a load balancer.
pub(crate) fn balancer(backends: Vec<String>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for (n, client) in listener.incoming().enumerate() {
            let Ok(client) = client else { continue };
            let backend = &backends[n % backends.len()];
            let Ok(server) = TcpStream::connect(backend) else {
                continue;
            };
            for (mut from, mut to) in [
                (client.try_clone().unwrap(), server.try_clone().unwrap()),
                (server, client),
            ] {
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from, &mut to);
                    let _ = to.shutdown(std::net::Shutdown::Write);
                });
            }
        }
    });
    addr
}

/// A hook receiver: records each event's JSON; answers 200 to `pre-create`, and to post
/// events only while `up` holds (503 otherwise).
pub(crate) struct HookReceiver {
    pub(crate) url: String,
    pub(crate) up: std::sync::Arc<std::sync::atomic::AtomicBool>,
    pub(crate) events: std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
}

impl HookReceiver {
    pub(crate) fn start() -> Self {
        use std::sync::atomic::Ordering;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let events = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (is_up, seen) = (up.clone(), events.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let (is_up, seen) = (is_up.clone(), seen.clone());
                std::thread::spawn(move || {
                    while let Some(json) = read_request(&mut conn) {
                        let event: serde_json::Value = serde_json::from_slice(&json).unwrap();
                        let ok = event["type"] == "pre-create" || is_up.load(Ordering::Relaxed);
                        seen.lock().unwrap().push(event);
                        let status = if ok {
                            "200 OK"
                        } else {
                            "503 Service Unavailable"
                        };
                        let answer = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n");
                        if conn.write_all(answer.as_bytes()).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Self { url, up, events }
    }

    pub(crate) fn of(&self, kind: &str) -> Vec<serde_json::Value> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == kind)
            .cloned()
            .collect()
    }
}

/// One request's body off a kept-alive connection; `None` at its end.
fn read_request(conn: &mut TcpStream) -> Option<Vec<u8>> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if conn.read(&mut byte).ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    conn.read_exact(&mut body).ok()?;
    Some(body)
}
