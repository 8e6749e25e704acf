//! The tus 1.0 endpoint at `/files/`: protocol answers through `app()`, and round trips with the
//! uptask client over a real socket.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code: a failed setup should stop the test loudly"
)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use sha2::{Digest, Sha256};
use tower::ServiceExt;
use uptask_server::{ServerConfig, app};

#[path = "../../../uptask/tests/common/weed.rs"]
mod weed;

/// The server on the local directory, or on an S3 bucket of a SeaweedFS of its own.
struct Tusd {
    router: Router,
    dir: tempfile::TempDir,
    /// The store and the key prefix, on a bucket.
    bucket: Option<(weed::Weed, String)>,
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
}

impl Answer {
    fn get(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

const BUCKET: &str = "tus-scenarios";

/// Which store a scenario runs on.
#[derive(Clone, Copy)]
enum On {
    Dir,
    Bucket,
}

impl Tusd {
    fn new(config: impl FnOnce(ServerConfig) -> ServerConfig) -> Self {
        Self::on(On::Dir, config).unwrap()
    }

    /// `None` when SeaweedFS cannot run here (said loudly by `Weed::start`).
    fn on(on: On, config: impl FnOnce(ServerConfig) -> ServerConfig) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let mut base = ServerConfig::new(dir.path());
        let bucket = match on {
            On::Dir => None,
            On::Bucket => {
                let weed = weed::Weed::start(BUCKET)?;
                let store =
                    uptask_server::S3Store::parse(&format!("s3://{BUCKET}/t"), weed::creds())
                        .unwrap()
                        .endpoint(format!("http://{}", weed::ENDPOINT))
                        .part_size(5 << 20)
                        // A request that dies frees its upload soon.
                        .lock_lease(Duration::from_secs(3));
                base = base.s3(store);
                Some((weed, "t/".to_owned()))
            }
        };
        let router = app(config(base));
        Some(Self {
            router,
            dir,
            bucket,
        })
    }

    async fn call(&self, req: Request<Body>) -> Answer {
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let _ = res.into_body().collect().await.unwrap();
        Answer { status, headers }
    }

    /// A request with `Tus-Resumable` and the given headers and body.
    async fn send(&self, method: &str, uri: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
        let mut req = Request::builder()
            .method(method)
            .uri(uri)
            .header("Tus-Resumable", "1.0.0");
        for (n, v) in headers {
            req = req.header(*n, *v);
        }
        self.call(req.body(Body::from(body.to_vec())).unwrap())
            .await
    }

    async fn create(&self, headers: &[(&str, &str)]) -> String {
        let a = self.send("POST", "/files/", headers, b"").await;
        assert_eq!(a.status, StatusCode::CREATED);
        a.get("location").unwrap().to_owned()
    }

    async fn patch(&self, url: &str, offset: u64, data: &[u8], extra: &[(&str, &str)]) -> Answer {
        let offset = offset.to_string();
        let mut headers = vec![
            ("Content-Type", "application/offset+octet-stream"),
            ("Upload-Offset", offset.as_str()),
        ];
        headers.extend_from_slice(extra);
        self.send("PATCH", url, &headers, data).await
    }

    /// Files published (not the work area): their names and bytes, read from the store.
    fn published(&self) -> Vec<(String, Vec<u8>)> {
        match &self.bucket {
            None => std::fs::read_dir(self.dir.path())
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.is_file() && !name_of(p).starts_with('.'))
                .map(|p| (name_of(&p), std::fs::read(&p).unwrap()))
                .collect(),
            Some((_, prefix)) => self
                .keys()
                .into_iter()
                .filter(|k| !k.starts_with(&format!("{prefix}.uptask/")))
                .map(|k| {
                    let (status, body) =
                        weed::raw("GET", &format!("/{BUCKET}/{k}"), &[], &weed::creds());
                    assert_eq!(status, 200, "{k}");
                    (k, body)
                })
                .collect(),
        }
    }

    /// What the store keeps of uploads in progress besides published files (for a bucket:
    /// also any multipart upload left open).
    fn work_area(&self) -> Vec<String> {
        match &self.bucket {
            None => std::fs::read_dir(self.dir.path().join(".tus"))
                .map(|d| d.map(|e| name_of(&e.unwrap().path())).collect())
                .unwrap_or_default(),
            Some((_, prefix)) => {
                let mut left: Vec<String> = self
                    .keys()
                    .into_iter()
                    .filter(|k| k.starts_with(&format!("{prefix}.uptask/")))
                    // The sweep's mark belongs to no upload.
                    .filter(|k| *k != format!("{prefix}.uptask/tus-sweep"))
                    .collect();
                let (open, listing) = weed::uploads_listed(BUCKET);
                if open {
                    left.push(listing);
                }
                left
            }
        }
    }

    /// Nothing is left of uploads in progress but their infos (the local store's `.json`).
    fn assert_only_infos_left(&self) {
        let work = self.work_area();
        assert!(
            work.iter()
                .all(|k| k.ends_with(".json") || k.ends_with(".info")),
            "left behind: {work:?}"
        );
    }

    /// The one file published holds `data`, and nothing else is left but infos.
    fn assert_published_alone(&self, data: &[u8]) {
        let published = self.published();
        assert_eq!(published.len(), 1);
        assert!(
            published[0].1 == data,
            "the stored bytes differ from the source"
        );
        self.assert_only_infos_left();
    }

    fn keys(&self) -> Vec<String> {
        weed::keys(BUCKET, "")
    }
}

fn name_of(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

/// A scenario as two tests: on the local directory and on an S3 bucket.
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod on_dir {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::On::Dir).await;
                }
            )*
        }
        mod on_bucket {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::On::Bucket).await;
                }
            )*
        }
    };
}

on_both_stores!(
    an_upload_is_published_under_its_final_name_only_when_complete,
    creation_with_upload_stores_the_first_bytes,
    termination_removes_the_upload,
    expired_uploads_are_gone,
    a_deferred_length_is_given_by_a_later_patch,
    partial_uploads_are_joined_by_a_final_concatenation,
    a_second_writer_is_locked_out,
);

mod checksums;

const META: &str = "filename bm90ZXMudHh0"; // notes.txt

#[tokio::test]
async fn discovery_announces_the_extensions_and_checksums() {
    // Pages of this origin may send credentials (a page's withCredentials).
    let tus = Tusd::new(|c| c.max_size(1 << 20).allow_origin("http://example.test"));
    let req = Request::options("/files/").body(Body::empty()).unwrap();
    let a = tus.call(req).await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    assert_eq!(a.get("tus-version"), Some("1.0.0"));
    let ext = a.get("tus-extension").unwrap();
    for e in [
        "creation",
        "creation-with-upload",
        "termination",
        "checksum",
        "expiration",
        "concatenation",
        "creation-defer-length",
    ] {
        assert!(ext.split(',').any(|x| x == e), "{e} in {ext}");
    }
    assert_eq!(a.get("tus-max-size"), Some("1048576"));
    assert_eq!(a.get("tus-checksum-algorithm"), Some("sha1,sha256"));
    // A CORS preflight is still a preflight.
    let pre = Request::options("/files/")
        .header("Origin", "http://example.test")
        .header("Access-Control-Request-Method", "PATCH")
        .body(Body::empty())
        .unwrap();
    let a = tus.call(pre).await;
    assert_eq!(a.get("access-control-allow-methods"), Some("PATCH"));
    // Credentials allowed, so the origin is echoed, never `*`.
    assert_eq!(
        a.get("access-control-allow-origin"),
        Some("http://example.test")
    );
    assert_eq!(a.get("access-control-allow-credentials"), Some("true"));
    // Discovery from a page (answered before the CORS layer) carries the same answer.
    let discover = Request::options("/files/")
        .header("Origin", "http://example.test")
        .header("Tus-Resumable", "1.0.0")
        .body(Body::empty())
        .unwrap();
    let a = tus.call(discover).await;
    assert_eq!(a.get("tus-version"), Some("1.0.0"));
    assert_eq!(
        a.get("access-control-allow-origin"),
        Some("http://example.test")
    );
    assert_eq!(a.get("access-control-allow-credentials"), Some("true"));
    // A cross-origin page can read where its upload went and how far it got.
    let create = Request::post("/files/")
        .header("Origin", "http://example.test")
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", "1")
        .body(Body::empty())
        .unwrap();
    let a = tus.call(create).await;
    let exposed = a.get("access-control-expose-headers").unwrap_or_default();
    for name in ["location", "upload-offset", "tus-resumable"] {
        assert!(
            exposed.split(',').any(|e| e.trim() == name),
            "{name} in {exposed}"
        );
    }
}

#[tokio::test]
async fn discovery_allows_any_origin_but_credentials_only_from_named_ones() {
    let tus = Tusd::new(|c| c);
    let discover = Request::options("/files/")
        .header("Origin", "http://any.test")
        .header("Tus-Resumable", "1.0.0")
        .body(Body::empty())
        .unwrap();
    let a = tus.call(discover).await;
    assert_eq!(a.get("access-control-allow-origin"), Some("*"));
    assert_eq!(a.get("access-control-allow-credentials"), None);
    // With an origin named, others may still call, never with credentials.
    let tus = Tusd::new(|c| c.allow_origin("https://app.test"));
    let discover = Request::options("/files/")
        .header("Origin", "http://other.test")
        .header("Tus-Resumable", "1.0.0")
        .body(Body::empty())
        .unwrap();
    let a = tus.call(discover).await;
    assert_eq!(
        a.get("access-control-allow-origin"),
        Some("http://other.test")
    );
    assert_eq!(a.get("access-control-allow-credentials"), None);
}

#[tokio::test]
async fn requests_without_the_protocol_version_are_refused() {
    let tus = Tusd::new(|c| c);
    let req = Request::post("/files/")
        .header("Upload-Length", "1")
        .body(Body::empty())
        .unwrap();
    let a = tus.call(req).await;
    assert_eq!(a.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(a.get("tus-version"), Some("1.0.0"));
}

async fn an_upload_is_published_under_its_final_name_only_when_complete(on: On) {
    let Some(tus) = Tusd::on(on, |c| c) else {
        return;
    };
    let url = tus
        .create(&[("Upload-Length", "10"), ("Upload-Metadata", META)])
        .await;
    assert!(url.starts_with("/files/"), "{url}");
    let head = tus.send("HEAD", &url, &[], b"").await;
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(head.get("upload-offset"), Some("0"));
    assert_eq!(head.get("upload-length"), Some("10"));
    assert_eq!(head.get("upload-metadata"), Some(META));
    assert!(head.get("upload-expires").is_some());
    assert_eq!(head.get("cache-control"), Some("no-store"));

    let a = tus.patch(&url, 0, b"0123", &[]).await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    assert_eq!(a.get("upload-offset"), Some("4"));
    assert!(tus.published().is_empty(), "not visible while incomplete");

    // Wrong offset, wrong content type: refused, offset unchanged.
    assert_eq!(
        tus.patch(&url, 2, b"xx", &[]).await.status,
        StatusCode::CONFLICT
    );
    let a = tus
        .send(
            "PATCH",
            &url,
            &[("Content-Type", "text/plain"), ("Upload-Offset", "4")],
            b"x",
        )
        .await;
    assert_eq!(a.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // Past the length: refused whole.
    let a = tus.patch(&url, 4, b"456789-too-long", &[]).await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        tus.send("HEAD", &url, &[], b"").await.get("upload-offset"),
        Some("4")
    );

    let a = tus.patch(&url, 4, b"456789", &[]).await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    assert_eq!(a.get("upload-offset"), Some("10"));
    let published = tus.published();
    assert_eq!(published.len(), 1);
    assert!(published[0].0.ends_with(".txt"), "{}", published[0].0);
    assert_eq!(published[0].1, b"0123456789");
    let head = tus.send("HEAD", &url, &[], b"").await;
    assert_eq!(head.get("upload-offset"), Some("10"));
    assert_eq!(
        tus.patch(&url, 10, b"x", &[]).await.status,
        StatusCode::FORBIDDEN
    );
}

async fn creation_with_upload_stores_the_first_bytes(on: On) {
    let Some(tus) = Tusd::on(on, |c| c) else {
        return;
    };
    let a = tus
        .send(
            "POST",
            "/files/",
            &[
                ("Upload-Length", "5"),
                ("Content-Type", "application/offset+octet-stream"),
            ],
            b"hello",
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    assert_eq!(a.get("upload-offset"), Some("5"));
    assert!(a.get("location").is_some());
    assert_eq!(tus.published()[0].1, b"hello");
}

async fn termination_removes_the_upload(on: On) {
    let Some(tus) = Tusd::on(on, |c| c) else {
        return;
    };
    let url = tus.create(&[("Upload-Length", "4")]).await;
    tus.patch(&url, 0, b"ab", &[]).await;
    assert_eq!(
        tus.send("DELETE", &url, &[], b"").await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        tus.send("HEAD", &url, &[], b"").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        tus.patch(&url, 2, b"cd", &[]).await.status,
        StatusCode::NOT_FOUND
    );
    let work = tus.work_area();
    assert!(work.is_empty(), "left behind: {work:?}");
}

async fn expired_uploads_are_gone(on: On) {
    let Some(tus) = Tusd::on(on, |c| c.tus_expiry(Duration::ZERO)) else {
        return;
    };
    let url = tus.create(&[("Upload-Length", "4")]).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    // The first look finds it expired (410) and removes it, unless the expiry sweep the
    // creation started got there first (404, on a loaded machine); either way it is gone.
    let first = tus.send("HEAD", &url, &[], b"").await.status;
    assert!(
        first == StatusCode::GONE || first == StatusCode::NOT_FOUND,
        "an expired upload answered {first}"
    );
    assert_eq!(
        tus.send("HEAD", &url, &[], b"").await.status,
        StatusCode::NOT_FOUND
    );
}

async fn a_deferred_length_is_given_by_a_later_patch(on: On) {
    let Some(tus) = Tusd::on(on, |c| c) else {
        return;
    };
    let url = tus.create(&[("Upload-Defer-Length", "1")]).await;
    let head = tus.send("HEAD", &url, &[], b"").await;
    assert_eq!(head.get("upload-defer-length"), Some("1"));
    assert_eq!(
        tus.patch(&url, 0, b"abc", &[]).await.get("upload-offset"),
        Some("3")
    );
    let a = tus.patch(&url, 3, b"de", &[("Upload-Length", "5")]).await;
    assert_eq!(a.get("upload-offset"), Some("5"));
    assert_eq!(tus.published()[0].1, b"abcde");
    // tus-js-client's way: the length comes last, with an empty body.
    let url = tus.create(&[("Upload-Defer-Length", "1")]).await;
    tus.patch(&url, 0, b"xyz", &[]).await;
    let a = tus.patch(&url, 3, b"", &[("Upload-Length", "3")]).await;
    assert_eq!(
        (a.status, a.get("upload-offset")),
        (StatusCode::NO_CONTENT, Some("3"))
    );
    let mut files: Vec<Vec<u8>> = tus.published().into_iter().map(|(_, b)| b).collect();
    files.sort();
    assert_eq!(files, vec![b"abcde".to_vec(), b"xyz".to_vec()]);
    let a = tus.send("POST", "/files/", &[], b"").await;
    assert_eq!(
        a.status,
        StatusCode::BAD_REQUEST,
        "a length or a deferral is required"
    );
}

async fn partial_uploads_are_joined_by_a_final_concatenation(on: On) {
    let Some(tus) = Tusd::on(on, |c| c) else {
        return;
    };
    let a = tus
        .create(&[("Upload-Length", "3"), ("Upload-Concat", "partial")])
        .await;
    let b = tus
        .create(&[("Upload-Length", "2"), ("Upload-Concat", "partial")])
        .await;
    tus.patch(&a, 0, b"abc", &[]).await;
    assert!(
        tus.published().is_empty(),
        "a complete part is not published"
    );
    let fin = format!("final;{a} http://any.host{b}");
    let early = tus
        .send("POST", "/files/", &[("Upload-Concat", fin.as_str())], b"")
        .await;
    assert_eq!(
        early.status,
        StatusCode::BAD_REQUEST,
        "a part is incomplete"
    );
    tus.patch(&b, 0, b"de", &[]).await;
    let done = tus
        .send(
            "POST",
            "/files/",
            &[("Upload-Concat", fin.as_str()), ("Upload-Metadata", META)],
            b"",
        )
        .await;
    assert_eq!(done.status, StatusCode::CREATED);
    let url = done.get("location").unwrap();
    let head = tus.send("HEAD", url, &[], b"").await;
    assert_eq!(head.get("upload-offset"), Some("5"));
    assert!(head.get("upload-concat").unwrap().starts_with("final;"));
    let published = tus.published();
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].1, b"abcde");
    assert!(published[0].0.ends_with(".txt"), "{}", published[0].0);
    assert_eq!(
        tus.send("HEAD", &a, &[], b"").await.status,
        StatusCode::NOT_FOUND,
        "parts are consumed"
    );
    tus.assert_only_infos_left();
}

async fn a_second_writer_is_locked_out(on: On) {
    let Some(tus) = Tusd::on(on, |c| c) else {
        return;
    };
    let url = tus.create(&[("Upload-Length", "10")]).await;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(1);
    let slow = Request::patch(&url)
        .header("Tus-Resumable", "1.0.0")
        .header("Content-Type", "application/offset+octet-stream")
        .header("Upload-Offset", "0")
        .body(Body::from_stream(tokio_stream(rx)))
        .unwrap();
    let router = tus.router.clone();
    let first = tokio::spawn(async move { router.oneshot(slow).await.unwrap().status() });
    tx.send(Ok(bytes::Bytes::from_static(b"01"))).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        tus.patch(&url, 0, b"zz", &[]).await.status,
        StatusCode::LOCKED
    );
    assert_eq!(
        tus.send("DELETE", &url, &[], b"").await.status,
        StatusCode::LOCKED
    );
    tx.send(Ok(bytes::Bytes::from_static(b"234")))
        .await
        .unwrap();
    drop(tx);
    assert_eq!(first.await.unwrap(), StatusCode::NO_CONTENT);
    assert_eq!(
        tus.send("HEAD", &url, &[], b"").await.get("upload-offset"),
        Some("5")
    );
}

fn tokio_stream(
    mut rx: tokio::sync::mpsc::Receiver<Result<bytes::Bytes, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[tokio::test]
async fn ids_that_are_not_ours_are_not_found() {
    let tus = Tusd::new(|c| c);
    for uri in [
        "/files/..%2F..%2Fetc%2Fpasswd",
        "/files/ZZZ",
        "/files/0123456789abcdef0123456789ABCDEF",
    ] {
        assert_eq!(
            tus.send("HEAD", uri, &[], b"").await.status,
            StatusCode::NOT_FOUND,
            "{uri}"
        );
    }
}

#[tokio::test]
async fn the_token_guards_the_tus_routes_too() {
    let tus = Tusd::new(|c| c.token("s3cret"));
    let a = tus
        .send("POST", "/files/", &[("Upload-Length", "1")], b"")
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    let a = tus
        .send(
            "POST",
            "/files/",
            &[("Upload-Length", "1"), ("Authorization", "Bearer s3cret")],
            b"",
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
}

/// The uptask client against this server over a real socket: parallel parts with checksums,
/// then the size limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_uptask_client_round_trips_in_parallel_with_checksums() {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}/files/", listener.local_addr().unwrap());
    let config = ServerConfig::new(dir.path()).max_size(16 << 20);
    tokio::spawn(uptask_server::serve(
        listener,
        config,
        std::future::pending(),
    ));
    let data: Vec<u8> = (0..(6u32 << 20)).map(|i| (i * 7 % 253) as u8).collect();
    let file = dir.path().join(".source.bin");
    std::fs::write(&file, &data).unwrap();
    let tus = uptask::TusOptions::new().parallel(3).chunk_size(1 << 20);
    let opts = uptask::UploadOptions::new(&endpoint, &file, "file")
        .file_name("clip.bin")
        .tus(tus);
    let done = uptask::upload_file(opts).await.unwrap();
    assert_eq!(done.status_code, 201);
    let stored: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && !name_of(p).starts_with('.'))
        .collect();
    assert_eq!(stored.len(), 1);
    assert!(name_of(&stored[0]).ends_with(".bin"));
    assert_eq!(
        Sha256::digest(std::fs::read(&stored[0]).unwrap()),
        Sha256::digest(&data)
    );

    let big = uptask::UploadOptions::from_bytes(&endpoint, vec![0u8; 17 << 20], "f")
        .tus(uptask::TusOptions::new());
    let err = uptask::upload_file(big).await.unwrap_err();
    assert_eq!(err.kind(), uptask::ErrorKind::InvalidInput);
}
