//! The expiry sweep on an S3 store: it removes an expired upload nobody asks for again, the
//! leftovers of uploads whose cleanup failed, and stale multipart uploads under the prefix
//! (not elsewhere in the bucket), while published uploads keep answering.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code: a failed setup should stop the test loudly"
)]

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt;
use uptask_server::{ServerConfig, app};

#[path = "../../uptask/tests/common/weed.rs"]
mod weed;

const BUCKET: &str = "sweeps";
const EXPIRY: Duration = Duration::from_secs(2);

async fn tus(
    router: &Router,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: &'static [u8],
) -> (StatusCode, Option<String>, Option<String>) {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header("Tus-Resumable", "1.0.0");
    for (n, v) in headers {
        req = req.header(*n, *v);
    }
    let res = router
        .clone()
        .oneshot(req.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let get = |name: &str| {
        res.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    (res.status(), get("location"), get("upload-offset"))
}

async fn create(router: &Router, length: &str) -> String {
    let (status, location, _) =
        tus(router, "POST", "/files/", &[("Upload-Length", length)], b"").await;
    assert_eq!(status, StatusCode::CREATED);
    location.unwrap()
}

async fn patch(router: &Router, url: &str, bytes: &'static [u8]) -> Option<String> {
    let headers = [
        ("Content-Type", "application/offset+octet-stream"),
        ("Upload-Offset", "0"),
    ];
    let (status, _, offset) = tus(router, "PATCH", url, &headers, bytes).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    offset
}

/// Every key in the bucket, and the open multipart uploads' listing.
fn bucket_now() -> (Vec<String>, String) {
    (weed::keys(BUCKET, ""), weed::uploads_listed(BUCKET).1)
}

fn id_of(url: &str) -> &str {
    url.rsplit('/').next().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_removes_expired_uploads_and_leftovers_but_not_what_is_not_its_own() {
    let Some(_weed) = weed::Weed::start(BUCKET) else {
        return;
    };
    let store = uptask_server::S3Store::parse(&format!("s3://{BUCKET}/sw"), weed::creds())
        .unwrap()
        .endpoint(format!("http://{}", weed::ENDPOINT));
    let router = app(ServerConfig::new("/unused").s3(store).tus_expiry(EXPIRY));

    let done = create(&router, "3").await;
    assert_eq!(patch(&router, &done, b"abc").await.as_deref(), Some("3"));
    let half = create(&router, "10").await;
    assert_eq!(patch(&router, &half, b"abc").await.as_deref(), Some("3"));
    // What failed cleanups leave: a lock of an upload whose info is gone, and a multipart
    // upload nobody names; and another application's multipart upload outside the prefix.
    let lost_lock = format!("sw/.uptask/tus/{}.lock", "a".repeat(32));
    assert_eq!(
        weed::raw(
            "PUT",
            &format!("/{BUCKET}/{lost_lock}"),
            &[],
            &weed::creds()
        )
        .0,
        200
    );
    for key in ["sw/lost.bin", "elsewhere/theirs.bin"] {
        let (status, _) = weed::raw(
            "POST",
            &format!("/{BUCKET}/{key}"),
            &[("uploads", "")],
            &weed::creds(),
        );
        assert_eq!(status, 200, "cannot start a multipart upload of {key}");
    }
    let (keys, _) = bucket_now();
    assert!(keys.iter().any(|k| k.contains(id_of(&half))), "{keys:?}");
    let done_info = format!("sw/.uptask/tus-done/{}.info", id_of(&done));
    assert!(
        keys.contains(&done_info),
        "a published upload's info settles: {keys:?}"
    );

    // Older than the expiry (on the store's clock, in whole seconds), the next creation sweeps.
    tokio::time::sleep(EXPIRY + Duration::from_millis(1500)).await;
    let fresh = create(&router, "5").await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let (keys, uploads) = loop {
        let (keys, uploads) = bucket_now();
        let swept = !keys
            .iter()
            .any(|k| k.contains(id_of(&half)) || *k == lost_lock)
            && !uploads.contains("<Key>sw/lost.bin</Key>");
        if swept {
            break (keys, uploads);
        }
        assert!(
            Instant::now() < deadline,
            "not swept within 20 s: {keys:?}\n{uploads}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        uploads.contains("<Key>elsewhere/theirs.bin</Key>"),
        "a multipart upload outside the prefix is not the server's: {uploads}"
    );
    assert!(keys.contains(&done_info), "{keys:?}");
    assert!(
        keys.iter().any(|k| k.contains(id_of(&fresh))),
        "an upload younger than the expiry stays: {keys:?}"
    );
    // The expired upload is gone without anyone asking for it; the others still answer.
    assert_eq!(
        tus(&router, "HEAD", &half, &[], b"").await.0,
        StatusCode::NOT_FOUND
    );
    let (status, _, offset) = tus(&router, "HEAD", &done, &[], b"").await;
    assert_eq!((status, offset.as_deref()), (StatusCode::OK, Some("3")));
    let published = weed::keys(BUCKET, "sw/")
        .into_iter()
        .filter(|k| !k.starts_with("sw/.uptask/"))
        .count();
    assert_eq!(published, 1, "only the complete upload became a file");
}
