//! Hooks (`hooks_http`) with a real HTTP receiver on loopback: pre-create refuses or chooses
//! the key and metadata, post events arrive at least once even while the receiver is down.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code: a failed setup should stop the test loudly"
)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use uptask_server::{ServerConfig, app};

#[path = "../../uptask/tests/common/weed.rs"]
mod weed;

type Answerer = dyn Fn(&Value) -> (u16, String) + Send + Sync;

/// A hook receiver: records every event, answers as `answer` says.
struct Receiver {
    url: String,
    events: Arc<Mutex<Vec<Value>>>,
}

impl Receiver {
    async fn start(answer: impl Fn(&Value) -> (u16, String) + Send + Sync + 'static) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::on(listener, Arc::new(answer))
    }

    fn on(listener: tokio::net::TcpListener, answer: Arc<Answerer>) -> Self {
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        let events = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&events);
        let router = axum::Router::new().route(
            "/hooks",
            axum::routing::post(move |body: axum::body::Bytes| {
                let seen = Arc::clone(&seen);
                let answer = Arc::clone(&answer);
                async move {
                    let event: Value = serde_json::from_slice(&body).unwrap();
                    let (status, text) = answer(&event);
                    seen.lock().unwrap().push(event);
                    (StatusCode::from_u16(status).unwrap(), text)
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { url, events }
    }

    fn events(&self, kind: &str) -> Vec<Value> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == kind)
            .cloned()
            .collect()
    }

    /// Waits (10 s at most) for `n` events of `kind`.
    async fn wait_for(&self, kind: &str, n: usize) -> Vec<Value> {
        let start = Instant::now();
        loop {
            let seen = self.events(kind);
            if seen.len() >= n {
                return seen;
            }
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "{n} {kind} events never arrived: {:?}",
                self.events.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

async fn call(router: &axum::Router, req: Request<Body>) -> Answer {
    let res = router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

fn tus_create(length: usize, metadata: &str) -> Request<Body> {
    Request::post("/files/")
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", length.to_string())
        .header("Upload-Metadata", metadata)
        .body(Body::empty())
        .unwrap()
}

fn tus_patch(url: &str, offset: usize, bytes: &[u8]) -> Request<Body> {
    Request::patch(url)
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Offset", offset.to_string())
        .header("Content-Type", "application/offset+octet-stream")
        .body(Body::from(bytes.to_vec()))
        .unwrap()
}

fn form(file_name: &str, bytes: &[u8]) -> Request<Body> {
    let mut body = format!(
        "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(b"\r\n--XyZ--\r\n");
    Request::post("/upload")
        .header("Content-Type", "multipart/form-data; boundary=XyZ")
        .body(Body::from(body))
        .unwrap()
}

/// `filename <base64 name>`.
fn named(name: &str) -> String {
    use base64::Engine;
    format!(
        "filename {}",
        base64::engine::general_purpose::STANDARD.encode(name)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pre_create_refusal_is_the_clients_answer() {
    let hooks = Receiver::start(|e| {
        if e["upload"]["metadata"]["filename"] == "blocked.exe" {
            (403, "no executables here".to_owned())
        } else {
            (200, String::new())
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let router = app(ServerConfig::new(dir.path()).hooks_http(&hooks.url));
    let a = call(&router, tus_create(3, &named("blocked.exe"))).await;
    assert_eq!(
        (a.status, a.body.as_str()),
        (StatusCode::FORBIDDEN, "no executables here")
    );
    let a = call(&router, form("blocked.exe", b"MZ")).await;
    assert_eq!(
        (a.status, a.body.as_str()),
        (StatusCode::FORBIDDEN, "no executables here")
    );
    let asked = hooks.events("pre-create");
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert_eq!(asked[0]["upload"]["size"], 3);
    assert_eq!(asked[0]["request"]["method"], "POST");
    assert_eq!(asked[0]["request"]["uri"], "/files/");
    assert_eq!(asked[1]["request"]["uri"], "/upload");
    assert_eq!(asked[1]["upload"]["storage"]["type"], "dir");
    // Nothing was stored for either.
    let stored: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.path().is_file())
        .collect();
    assert!(stored.is_empty(), "{stored:?}");
    // Allowed names go through.
    let a = call(&router, tus_create(3, &named("ok.txt"))).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
}

/// The receiver names the key and the metadata; the upload lands there.
async fn pre_create_chooses(router: &axum::Router, hooks: &Receiver) -> (Answer, Answer) {
    let a = call(router, tus_create(5, &named("original.bin"))).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let url = a.headers["location"].to_str().unwrap().to_owned();
    let done = call(router, tus_patch(&url, 0, b"hello")).await;
    assert_eq!(done.status, StatusCode::NO_CONTENT, "{}", done.body);
    let head = call(
        router,
        Request::head(&url)
            .header("Tus-Resumable", "1.0.0")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    let form = call(router, form("photo.jpg", b"jpeg bytes")).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    let finished = hooks.wait_for("post-finish", 2).await;
    assert!(
        finished.iter().any(|e| e["upload"]["sha256"].is_string()),
        "{finished:?}"
    );
    (head, form)
}

fn choose_key(e: &Value) -> (u16, String) {
    let name = e["upload"]["metadata"]["filename"]
        .as_str()
        .unwrap_or_default();
    let key = format!("users/42/{name}");
    let json = serde_json::json!({"key": key, "metadata": {"filename": name, "owner": "42"}});
    (200, json.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pre_create_answer_sets_the_key_and_metadata_in_the_directory() {
    let hooks = Receiver::start(choose_key).await;
    let dir = tempfile::tempdir().unwrap();
    let router = app(ServerConfig::new(dir.path()).hooks_http(&hooks.url));
    let (head, form) = pre_create_chooses(&router, &hooks).await;
    let meta = head.headers["upload-metadata"].to_str().unwrap();
    assert!(meta.contains("owner NDI="), "{meta}");
    assert_eq!(
        std::fs::read(dir.path().join("users/42/original.bin")).unwrap(),
        b"hello"
    );
    assert_eq!(
        std::fs::read(dir.path().join("users/42/photo.jpg")).unwrap(),
        b"jpeg bytes"
    );
    let reply: Value = serde_json::from_str(&form.body).unwrap();
    assert!(
        reply["files"][0]["path"]
            .as_str()
            .unwrap()
            .ends_with("users/42/photo.jpg")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pre_create_answer_sets_the_key_and_metadata_on_a_bucket() {
    let Some(_weed) = weed::Weed::start("hook-keys") else {
        return;
    };
    let hooks = Receiver::start(choose_key).await;
    let store = uptask_server::S3Store::parse("s3://hook-keys/in", weed::creds())
        .unwrap()
        .endpoint(format!("http://{}", weed::ENDPOINT));
    let router = app(ServerConfig::new("/unused")
        .s3(store)
        .hooks_http(&hooks.url));
    let (head, form) = pre_create_chooses(&router, &hooks).await;
    assert!(
        head.headers["upload-metadata"]
            .to_str()
            .unwrap()
            .contains("owner NDI=")
    );
    let get = |key: &str| weed::raw("GET", &format!("/hook-keys/{key}"), &[], &weed::creds());
    assert_eq!(get("in/users/42/original.bin"), (200, b"hello".to_vec()));
    assert_eq!(get("in/users/42/photo.jpg"), (200, b"jpeg bytes".to_vec()));
    let reply: Value = serde_json::from_str(&form.body).unwrap();
    assert_eq!(reply["files"][0]["key"], "in/users/42/photo.jpg");
    let finished = hooks.events("post-finish");
    assert!(
        finished
            .iter()
            .any(|e| e["upload"]["storage"] == serde_json::json!({"type": "s3", "bucket": "hook-keys", "key": "in/users/42/original.bin"})),
        "{finished:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_events_arrive_once_a_receiver_that_was_down_is_back() {
    // The receiver answers creations, but refuses every post event (503) for 5 s: longer
    // than the first attempts, so the outbox sweep has to send them.
    let up = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let is_up = Arc::clone(&up);
    let hooks = Receiver::start(move |e| {
        if e["type"] == "pre-create" || is_up.load(std::sync::atomic::Ordering::Relaxed) {
            (200, String::new())
        } else {
            (503, "down for maintenance".to_owned())
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let router = app(ServerConfig::new(dir.path())
        .hooks_http(&hooks.url)
        .hooks_retry(Duration::from_millis(500)));
    // Finished, terminated, and a form file, while the receiver is down.
    let a = call(&router, tus_create(3, &named("a.txt"))).await;
    let url = a.headers["location"].to_str().unwrap().to_owned();
    assert_eq!(
        call(&router, tus_patch(&url, 0, b"abc")).await.status,
        StatusCode::NO_CONTENT
    );
    let b = call(&router, tus_create(9, &named("b.txt"))).await;
    let gone = b.headers["location"].to_str().unwrap().to_owned();
    call(&router, tus_patch(&gone, 0, b"1234")).await;
    let del = Request::delete(&gone)
        .header("Tus-Resumable", "1.0.0")
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&router, del).await.status, StatusCode::NO_CONTENT);
    assert_eq!(
        call(&router, form("c.txt", b"cc")).await.status,
        StatusCode::OK
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Kept in the outbox meanwhile.
    let waiting = std::fs::read_dir(dir.path().join(".hooks"))
        .unwrap()
        .count();
    assert!(waiting >= 3, "{waiting} events in the outbox");
    tokio::time::sleep(Duration::from_secs(5)).await;
    let refused = hooks.events("post-finish").len();
    assert!(
        refused >= 2 * 4,
        "each finish tried with backoff: {refused} attempts"
    );
    up.store(true, std::sync::atomic::Ordering::Relaxed);
    let before = hooks.events.lock().unwrap().len();
    let start = Instant::now();
    while hooks.events.lock().unwrap().len() < before + 3 {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "events never sent again"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let finished = hooks.wait_for("post-finish", 2).await;
    let terminated = hooks.wait_for("post-terminate", 1).await;
    let tus = finished
        .iter()
        .find(|e| e["upload"]["metadata"]["filename"] == "a.txt")
        .unwrap();
    assert_eq!(tus["upload"]["size"], 3);
    assert_eq!(tus["upload"]["offset"], 3);
    assert_eq!(tus["upload"]["storage"]["type"], "dir");
    assert!(
        tus["upload"]["storage"]["path"]
            .as_str()
            .unwrap()
            .ends_with(".txt")
    );
    assert_eq!(tus["request"]["method"], "PATCH");
    assert_eq!(terminated[0]["upload"]["offset"], 4);
    assert_eq!(terminated[0]["request"]["method"], "DELETE");
    let start = Instant::now();
    while std::fs::read_dir(dir.path().join(".hooks"))
        .unwrap()
        .count()
        > 0
    {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the outbox was never emptied"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `POST /s3/multipart` of a direct upload called `name`.
fn direct_create(name: &str) -> Request<Body> {
    let body = serde_json::json!({"filename": name, "type": "application/octet-stream", "metadata": {"album": "trip"}});
    Request::post("/s3/multipart")
        .header("Content-Type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_uploads_run_pre_create_and_post_finish_after_the_completion() {
    let Some(_weed) = weed::Weed::start("hook-direct") else {
        return;
    };
    // Names that ask for it get a key that leaves the prefix, or a refusal.
    let hooks = Receiver::start(|e| {
        match e["upload"]["metadata"]["filename"]
            .as_str()
            .unwrap_or_default()
        {
            "escape.bin" => (200, r#"{"key": "../../outside.bin"}"#.to_owned()),
            "refused.bin" => (403, "not for you".to_owned()),
            _ => choose_key(e),
        }
    })
    .await;
    let store = uptask_server::S3Store::parse("s3://hook-direct/in", weed::creds())
        .unwrap()
        .endpoint(format!("http://{}", weed::ENDPOINT));
    let router = app(ServerConfig::new("/unused")
        .s3(store)
        .hooks_http(&hooks.url));

    let refused = call(&router, direct_create("refused.bin")).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(refused.body.contains("not for you"), "{}", refused.body);
    let escape = call(&router, direct_create("escape.bin")).await;
    assert_eq!(escape.status, StatusCode::BAD_GATEWAY, "{}", escape.body);
    assert!(
        !weed::uploads_listed("hook-direct").0,
        "a refused creation opened an upload"
    );

    let created = call(&router, direct_create("clip.bin")).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let created: Value = serde_json::from_str(&created.body).unwrap();
    assert_eq!(created["key"], "in/users/42/clip.bin");
    let pre = hooks.events("pre-create");
    assert!(
        pre.iter()
            .any(|e| e["upload"]["metadata"]["album"] == "trip"),
        "{pre:?}"
    );
    let (id, key) = (
        created["uploadId"].as_str().unwrap(),
        "in%2Fusers%2F42%2Fclip.bin",
    );
    let signed = call(
        &router,
        Request::get(format!("/s3/multipart/{id}/1?key={key}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    let url: Value = serde_json::from_str(&signed.body).unwrap();
    let (status, etag, answer) = tokio::task::block_in_place(|| {
        weed::presigned("PUT", url["url"].as_str().unwrap(), b"direct bytes")
    });
    assert_eq!(status, 200, "{answer}");
    assert!(
        hooks.events("post-finish").is_empty(),
        "post-finish before the completion"
    );
    let parts = serde_json::json!({"parts": [{"PartNumber": 1, "ETag": etag.unwrap()}]});
    let done = call(
        &router,
        Request::post(format!("/s3/multipart/{id}/complete?key={key}"))
            .header("Content-Type", "application/json")
            .body(Body::from(parts.to_string()))
            .unwrap(),
    )
    .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    let finished = hooks.wait_for("post-finish", 1).await;
    assert_eq!(
        finished[0]["upload"]["storage"],
        serde_json::json!({"type": "s3", "bucket": "hook-direct", "key": "in/users/42/clip.bin"}),
        "{finished:?}"
    );
    let stored = weed::raw(
        "GET",
        "/hook-direct/in/users/42/clip.bin",
        &[],
        &weed::creds(),
    );
    assert_eq!(stored, (200, b"direct bytes".to_vec()));
    let outside = weed::raw("GET", "/hook-direct/outside.bin", &[], &weed::creds());
    assert_eq!(outside.0, 404);
}
