//! The receiving server, through `app()` without a socket and over a real socket.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    reason = "test code; a skipped test says so loudly"
)]

use std::path::Path;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;
use uptask_server::{ServerConfig, UploadReply, app};

const B: &str = "XBOUNDARYX";

fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, file_name, data) in parts {
        body.extend_from_slice(
            format!("--{B}\r\nContent-Disposition: form-data; name=\"{name}\"").as_bytes(),
        );
        if let Some(f) = file_name {
            body.extend_from_slice(
                format!("; filename=\"{f}\"\r\nContent-Type: application/octet-stream").as_bytes(),
            );
        }
        body.extend_from_slice(b"\r\n\r\n");
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{B}--\r\n").as_bytes());
    body
}

fn post(body: Vec<u8>) -> Request<Body> {
    Request::post("/upload")
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={B}"),
        )
        .header(header::CONTENT_LENGTH, body.len())
        .body(Body::from(body))
        .unwrap()
}

async fn call(
    config: ServerConfig,
    req: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let res = app(config).oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = res.into_body().collect().await.unwrap().to_bytes().to_vec();
    (status, headers, body)
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn stores_files_with_generated_names_and_reports_sha256() {
    let dir = tempfile::tempdir().unwrap();
    let data = vec![42u8; 100_000];
    let body = multipart(&[
        ("user", None, b"ann"),
        ("tag", None, b"a"),
        ("tag", None, b"b"),
        ("file", Some("../../etc/passwd"), &data),
    ]);
    let (status, headers, body) = call(ServerConfig::new(dir.path()), post(body)).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    let reply: UploadReply = serde_json::from_slice(&body).unwrap();
    assert_eq!(reply.fields["user"], "ann");
    assert_eq!(reply.fields["tag"], serde_json::json!(["a", "b"]));
    let file = &reply.files[0];
    assert_eq!(
        (file.field.as_str(), file.file_name.as_str(), file.size),
        ("file", "../../etc/passwd", 100_000)
    );
    assert_eq!(file.sha256, sha256_hex(&data));
    assert_eq!(
        file.path.parent().unwrap(),
        dir.path(),
        "stored inside --dir, whatever the client's name"
    );
    assert_eq!(std::fs::read(&file.path).unwrap(), data);
    assert_eq!(
        entries(dir.path()).len(),
        1,
        "no temporary file left: {:?}",
        entries(dir.path())
    );
}

#[tokio::test]
async fn a_declared_length_over_the_limit_is_refused_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let body = multipart(&[("file", Some("a.bin"), &[0u8; 2000])]);
    let (status, headers, _) = call(ServerConfig::new(dir.path()).max_size(1000), post(body)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(headers[header::CONNECTION], "close");
    assert!(entries(dir.path()).is_empty());
}

#[tokio::test]
async fn a_body_over_the_limit_without_a_length_is_refused_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let body = multipart(&[("file", Some("a.bin"), &[0u8; 5000])]);
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        body.chunks(512).map(|c| Ok(c.to_vec())).collect();
    let req = Request::post("/upload")
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={B}"),
        )
        .body(Body::from_stream(futures_util::stream::iter(chunks)))
        .unwrap();
    let (status, _, _) = call(ServerConfig::new(dir.path()).max_size(1000), req).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(entries(dir.path()).is_empty(), "{:?}", entries(dir.path()));
}

#[tokio::test]
async fn the_token_is_required_on_every_route_but_preflight() {
    let dir = tempfile::tempdir().unwrap();
    let config = || ServerConfig::new(dir.path()).token("s3cret");
    let body = multipart(&[("file", Some("a.txt"), b"x")]);
    let (status, headers, _) = call(config(), post(body.clone())).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers[header::WWW_AUTHENTICATE], "Bearer");
    let (status, _, _) = call(config(), Request::get("/").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let mut req = post(body.clone());
    req.headers_mut()
        .insert(header::AUTHORIZATION, "Bearer wrong".parse().unwrap());
    assert_eq!(call(config(), req).await.0, StatusCode::UNAUTHORIZED);
    let mut req = post(body);
    req.headers_mut()
        .insert(header::AUTHORIZATION, "Bearer s3cret".parse().unwrap());
    assert_eq!(call(config(), req).await.0, StatusCode::OK);
    let preflight = Request::options("/upload")
        .header(header::ORIGIN, "http://page.example")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "authorization")
        .body(Body::empty())
        .unwrap();
    let (status, headers, _) = call(config(), preflight).await;
    assert!(status.is_success(), "{status}");
    assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
}

/// A cross-origin preflight from `origin`: what the server allows.
fn preflight_from(origin: &str) -> Request<Body> {
    Request::options("/upload")
        .header(header::ORIGIN, origin)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn only_named_origins_may_call_with_credentials() {
    let dir = tempfile::tempdir().unwrap();
    // No origin named: anyone may call, nobody with credentials (tusd's default).
    let (_, headers, _) = call(
        ServerConfig::new(dir.path()),
        preflight_from("http://a.example"),
    )
    .await;
    assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    assert!(
        headers
            .get(header::ACCESS_CONTROL_ALLOW_CREDENTIALS)
            .is_none()
    );
    // Named: that origin gets itself back with credentials; another gets nothing.
    let named = || {
        ServerConfig::new(dir.path())
            .allow_origin("https://app.example")
            .allow_origin("http://localhost:5173")
    };
    let (_, headers, _) = call(named(), preflight_from("https://app.example")).await;
    assert_eq!(
        headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://app.example"
    );
    assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
    let (_, headers, _) = call(named(), preflight_from("http://localhost:5173")).await;
    assert_eq!(
        headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "http://localhost:5173"
    );
    // Another origin may still call, but a browser will not send it credentials.
    let (_, headers, _) = call(named(), preflight_from("https://other.example")).await;
    assert_eq!(
        headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://other.example"
    );
    assert!(
        headers
            .get(header::ACCESS_CONTROL_ALLOW_CREDENTIALS)
            .is_none(),
        "{headers:?}"
    );
}

#[tokio::test]
async fn non_multipart_and_malformed_bodies_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let req = Request::post("/upload")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{}"))
        .unwrap();
    assert_eq!(
        call(ServerConfig::new(dir.path()), req).await.0,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    let mut truncated = multipart(&[("file", Some("a.bin"), &[1u8; 3000])]);
    truncated.truncate(1500);
    let (status, _, body) = call(ServerConfig::new(dir.path()), post(truncated)).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "{}",
        String::from_utf8_lossy(&body)
    );
    assert!(
        entries(dir.path()).is_empty(),
        "a half-received file must not remain: {:?}",
        entries(dir.path())
    );
}

async fn spawn(
    config: ServerConfig,
) -> (
    String,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/upload", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(uptask_server::serve(listener, config, async {
        let _ = rx.await;
    }));
    (url, tx, handle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_a_socket_the_client_round_trips_and_shutdown_is_graceful() {
    let dir = tempfile::tempdir().unwrap();
    let (url, stop, handle) = spawn(ServerConfig::new(dir.path())).await;
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let done = uptask::upload_file(
        uptask::UploadOptions::from_bytes(&url, data.clone(), "file").form_data("k", "v"),
    )
    .await
    .unwrap();
    assert_eq!(done.status_code, 200);
    let reply: UploadReply = serde_json::from_str(&done.data).unwrap();
    assert_eq!(std::fs::read(&reply.files[0].path).unwrap(), data);
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), handle)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_a_socket_an_oversized_upload_gets_an_early_413() {
    let dir = tempfile::tempdir().unwrap();
    let (url, _stop, _handle) = spawn(ServerConfig::new(dir.path()).max_size(1 << 20)).await;
    for _ in 0..5 {
        let task = uptask::upload_file(uptask::UploadOptions::from_bytes(
            &url,
            vec![0u8; 64 << 20],
            "file",
        ));
        let sent = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let s = std::sync::Arc::clone(&sent);
        task.on_progress_update(move |p| {
            s.store(p.total_bytes_sent, std::sync::atomic::Ordering::SeqCst);
        });
        let done = task.await.unwrap();
        assert_eq!(done.status_code, 413);
        assert!(
            sent.load(std::sync::atomic::Ordering::SeqCst) < 32 << 20,
            "the body should stop early"
        );
    }
    assert!(entries(dir.path()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_a_socket_an_aborted_upload_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let (url, _stop, _handle) = spawn(ServerConfig::new(dir.path())).await;
    let task = uptask::upload_file(uptask::UploadOptions::from_bytes(
        &url,
        vec![1u8; 256 << 20],
        "file",
    ));
    let handle = task.handle();
    task.on_progress_update(move |p| {
        if p.total_bytes_sent > 8 << 20 {
            handle.abort();
        }
    });
    assert!(task.await.unwrap_err().is_aborted());
    // The server notices the cut connection and removes its temporary file.
    for _ in 0..200 {
        if entries(dir.path()).is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("left behind: {:?}", entries(dir.path()));
}

#[tokio::test]
async fn discard_mode_counts_parts_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let body = multipart(&[("file", Some("a.bin"), &[7u8; 12345])]);
    let (status, _, body) = call(ServerConfig::new(dir.path()).discard(true), post(body)).await;
    assert_eq!(status, StatusCode::OK);
    let reply: UploadReply = serde_json::from_slice(&body).unwrap();
    assert_eq!(reply.files[0].size, 12345);
    assert!(entries(dir.path()).is_empty());
}

/// A well-behaved upload still gets through.
async fn assert_still_serves(url: &str) {
    let opts = uptask::UploadOptions::from_bytes(url, vec![1u8; 10], "file");
    assert_eq!(uptask::upload_file(opts).await.unwrap().status_code, 200);
}

/// A bare TCP connection to the server behind `url`, for speaking broken HTTP to it.
async fn raw_connection(url: &str) -> tokio::net::TcpStream {
    let addr = url
        .trim_start_matches("http://")
        .trim_end_matches("/upload");
    tokio::net::TcpStream::connect(addr).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_finishes_its_head_is_disconnected() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let (url, _stop, _handle) =
        spawn(ServerConfig::new(dir.path()).header_timeout(Duration::from_millis(300))).await;
    let mut slow = raw_connection(&url).await;
    slow.write_all(b"POST /upload HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut buf = [0u8; 256];
    let read = tokio::time::timeout(Duration::from_secs(5), slow.read(&mut buf))
        .await
        .expect("the server must drop a client stuck in its head");
    // Closed (0 bytes), a reset, or a 408 answer: any is fine, as long as it ends.
    if let Ok(n) = read {
        assert!(n == 0 || String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 408"));
    }
    assert!(started.elapsed() < Duration::from_secs(3));
    // A well-behaved client still gets through afterwards.
    assert_still_serves(&url).await;
}

#[tokio::test]
async fn too_many_parts_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let fields: Vec<(String, Option<&str>, &[u8])> = (0..10_001)
        .map(|i| (format!("k{i}"), None, &b"v"[..]))
        .collect();
    let parts: Vec<(&str, Option<&str>, &[u8])> = fields
        .iter()
        .map(|(k, f, v)| (k.as_str(), *f, *v))
        .collect();
    let (status, _, body) = call(ServerConfig::new(dir.path()), post(multipart(&parts))).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(String::from_utf8_lossy(&body).contains("more than 10000 parts"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_uploads_of_the_same_name_never_collide() {
    let dir = tempfile::tempdir().unwrap();
    let (url, _stop, _handle) = spawn(ServerConfig::new(dir.path())).await;
    let tasks: Vec<_> = (0..20u8)
        .map(|i| {
            let opts = uptask::UploadOptions::from_bytes(&url, vec![i; 50_000], "file")
                .file_name("same.bin");
            tokio::spawn(uptask::upload_file(opts))
        })
        .collect();
    let mut paths = std::collections::BTreeSet::new();
    for (i, t) in tasks.into_iter().enumerate() {
        let done = t.await.unwrap().unwrap();
        let reply: UploadReply = serde_json::from_str(&done.data).unwrap();
        let path = reply.files[0].path.clone();
        assert_eq!(std::fs::read(&path).unwrap(), vec![i as u8; 50_000]);
        paths.insert(path);
    }
    assert_eq!(paths.len(), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_request_heads_are_refused_and_the_server_carries_on() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let (url, _stop, _handle) = spawn(ServerConfig::new(dir.path())).await;
    let mut s = raw_connection(&url).await;
    let head = format!(
        "POST /upload HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(1 << 20)
    );
    let _ = s.write_all(head.as_bytes()).await; // the server may close before it is all written
    let mut buf = vec![0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(n == 0 || answer.starts_with("HTTP/1.1 431"), "{answer}");
    assert_still_serves(&url).await;
}

/// Disk full: a 1 MiB tmpfs (needs root to mount; skipped loudly otherwise, unless
/// `UPTASK_REQUIRE_ROOT_TESTS=1`).
#[tokio::test]
async fn a_full_disk_is_507_and_leaves_no_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(dir.path())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        let why = "SKIPPED: cannot mount a small tmpfs (needs root) to fill a disk";
        assert!(
            std::env::var("UPTASK_REQUIRE_ROOT_TESTS").as_deref() != Ok("1"),
            "{why}"
        );
        eprintln!("{why}");
        return;
    }
    let body = multipart(&[("file", Some("big.bin"), &vec![7u8; 3 << 20])]);
    let (status, _, answer) = call(ServerConfig::new(dir.path()), post(body)).await;
    let left = entries(dir.path());
    let _ = std::process::Command::new("umount")
        .arg(dir.path())
        .status();
    assert_eq!(
        status,
        StatusCode::INSUFFICIENT_STORAGE,
        "{}",
        String::from_utf8_lossy(&answer)
    );
    assert!(left.is_empty(), "a partial file was kept: {left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_head_over_16_kib_is_answered_431() {
    let dir = tempfile::tempdir().unwrap();
    let (url, _stop, _handle) = spawn(ServerConfig::new(dir.path())).await;
    let status_of = |value_len: usize| {
        let url = url.clone();
        async move {
            let head = format!(
                "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
                "a".repeat(value_len)
            );
            let answer = exchange(&url, &head, b"").await;
            answer.split(' ').nth(1).unwrap_or_default().to_owned()
        }
    };
    assert_eq!(status_of(70_000).await, "431", "a 70 KB header");
    assert_eq!(status_of(16_500).await, "431", "just over the limit");
    assert_eq!(status_of(15_000).await, "200", "under the limit");
    assert_still_serves(&url).await;
}

#[tokio::test]
async fn metrics_count_uploads_bytes_and_requests() {
    let dir = tempfile::tempdir().unwrap();
    let router = app(ServerConfig::new(dir.path()).max_size(1000));
    let send = |req: Request<Body>| {
        let router = router.clone();
        async move { router.oneshot(req).await.unwrap().status() }
    };
    let ok = multipart(&[("file", Some("a.bin"), &[7u8; 100])]);
    let ok_len = ok.len() as u64;
    assert_eq!(send(post(ok)).await, StatusCode::OK);
    let too_big = multipart(&[("file", Some("b.bin"), &[7u8; 2000])]);
    assert_eq!(send(post(too_big)).await, StatusCode::PAYLOAD_TOO_LARGE);
    let create = Request::post("/files/")
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", "3")
        .body(Body::empty())
        .unwrap();
    let res = router.clone().oneshot(create).await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let location = res.headers()[header::LOCATION].to_str().unwrap().to_owned();
    let path = location
        .split_once("/files/")
        .map(|(_, id)| format!("/files/{id}"))
        .unwrap();
    let patch = Request::patch(path.as_str())
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Offset", "0")
        .header(header::CONTENT_TYPE, "application/offset+octet-stream")
        .body(Body::from(vec![1u8, 2, 3]))
        .unwrap();
    assert_eq!(send(patch).await, StatusCode::NO_CONTENT);

    let res = router
        .clone()
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let text =
        String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    let value = |series: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series).and_then(|v| v.strip_prefix(' ')))
            .unwrap_or_else(|| panic!("no {series} in:\n{text}"))
            .parse()
            .unwrap()
    };
    assert_eq!(
        value(r#"uptask_uploads_started_total{protocol="multipart"}"#),
        2.0
    );
    assert_eq!(
        value(r#"uptask_uploads_completed_total{protocol="multipart"}"#),
        1.0
    );
    assert_eq!(
        value(r#"uptask_uploads_failed_total{protocol="multipart"}"#),
        1.0
    );
    assert_eq!(
        value(r#"uptask_uploads_started_total{protocol="tus"}"#),
        1.0
    );
    assert_eq!(
        value(r#"uptask_uploads_completed_total{protocol="tus"}"#),
        1.0
    );
    assert_eq!(value("uptask_uploads_in_progress"), 0.0);
    // The stored body and the three tus bytes; the refused one was not read (413 up front).
    assert_eq!(value("uptask_received_bytes_total"), (ok_len + 3) as f64);
    assert_eq!(
        value(
            r#"uptask_request_duration_seconds_count{route="/files/{id}",method="PATCH",status="204"}"#
        ),
        1.0
    );
    assert!(!text.contains(&path), "no upload id in a label: {text}");
}

/// Sends `head` (and `body`) on a new connection to the server behind `url` and returns all
/// it answered.
async fn exchange(url: &str, head: &str, body: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut conn = raw_connection(url).await;
    conn.write_all(head.as_bytes()).await.unwrap();
    conn.write_all(body).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), conn.read_to_end(&mut answer))
        .await
        .expect("an answer within 5 s")
        .unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

fn header_of<'a>(answer: &'a str, name: &str) -> Option<&'a str> {
    answer.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_cuts_a_patch_after_the_drain_and_the_upload_continues_elsewhere() {
    use tokio::io::AsyncWriteExt;
    let dir = tempfile::tempdir().unwrap();
    let config = || ServerConfig::new(dir.path()).drain_timeout(Duration::from_millis(300));
    let (url, stop, handle) = spawn(config()).await;
    let total = 1_000_000usize;
    let created = exchange(
        &url,
        &format!(
            "POST /files/ HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\nUpload-Length: {total}\r\nConnection: close\r\n\r\n"
        ),
        b"",
    )
    .await;
    assert!(created.starts_with("HTTP/1.1 201"), "{created}");
    let location = header_of(&created, "location").unwrap();
    let path = format!("/files/{}", location.rsplit('/').next().unwrap());
    let head_of = |url: String, path: String| async move {
        let answer = exchange(
            &url,
            &format!("HEAD {path} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\nConnection: close\r\n\r\n"),
            b"",
        )
        .await;
        header_of(&answer, "upload-offset")
            .unwrap()
            .parse::<usize>()
            .unwrap()
    };

    // A PATCH that sends part of its body, then nothing.
    let data: Vec<u8> = (0..total).map(|i| (i % 251) as u8).collect();
    let sent = total * 3 / 10;
    let mut patch = raw_connection(&url).await;
    patch
        .write_all(
            format!(
                "PATCH {path} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n\
                 Content-Type: application/offset+octet-stream\r\nContent-Length: {total}\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    patch.write_all(&data[..sent]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Told to stop, the server waits out the drain, then cuts the PATCH and exits.
    let stopping = std::time::Instant::now();
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), handle)
        .await
        .expect("the server did not stop within 5 s of its drain")
        .unwrap()
        .unwrap();
    assert!(
        stopping.elapsed() >= Duration::from_millis(300),
        "it did not wait for the drain"
    );
    drop(patch);

    // Another server on the same store continues from what was stored, to the end.
    let (url, _stop, _handle) = spawn(config()).await;
    // What the store has: whole bytes of what was sent, nothing made up (a write still in its
    // buffer when the request was cut is not counted).
    let offset = head_of(url.clone(), path.clone()).await;
    assert!(
        offset <= sent,
        "offset {offset} beyond the {sent} bytes sent"
    );
    let on_disk = std::fs::metadata(
        dir.path()
            .join(".tus")
            .join(path.rsplit('/').next().unwrap()),
    )
    .unwrap()
    .len() as usize;
    assert_eq!(on_disk, offset, "the data on disk is the offset");
    let rest = exchange(
        &url,
        &format!(
            "PATCH {path} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: {offset}\r\n\
             Content-Type: application/offset+octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            total - offset
        ),
        &data[offset..],
    )
    .await;
    assert!(rest.starts_with("HTTP/1.1 204"), "{rest}");
    let stored: Vec<_> = entries(dir.path())
        .into_iter()
        .filter(|e| !e.starts_with('.'))
        .collect();
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert!(
        std::fs::read(dir.path().join(&stored[0])).unwrap() == data,
        "the stored file differs"
    );
}
