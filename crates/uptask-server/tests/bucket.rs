//! The S3 store when things go wrong: `POST /upload` aborted, oversized or failing leaves no
//! object and no open multipart upload; a store that dies mid-PATCH loses nothing it had.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code: a failed setup should stop the test loudly"
)]

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use sha2::{Digest, Sha256};
use tower::ServiceExt;
use uptask_server::{ServerConfig, app};

#[path = "../../uptask/tests/common/weed.rs"]
mod weed;

const BUCKET: &str = "failing-forms";

type Chunk = Result<bytes::Bytes, std::io::Error>;

fn router(max_size: u64) -> axum::Router {
    let store = uptask_server::S3Store::parse(&format!("s3://{BUCKET}/f"), weed::creds())
        .unwrap()
        .endpoint(format!("http://{}", weed::ENDPOINT))
        .part_size(5 << 20)
        .lock_lease(Duration::from_secs(3));
    app(ServerConfig::new("/unused").s3(store).max_size(max_size))
}

fn source(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 13 % 251) as u8).collect()
}

/// A form with one file whose bytes come from `rx` (no Content-Length: streamed).
fn streamed_form(rx: tokio::sync::mpsc::Receiver<Chunk>) -> Request<Body> {
    let head = bytes::Bytes::from_static(
        b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.bin\"\r\n\r\n",
    );
    let mut rx = rx;
    let rest = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    let body = futures_util::StreamExt::chain(futures_util::stream::iter([Ok(head)]), rest);
    Request::post("/upload")
        .header("Content-Type", "multipart/form-data; boundary=B")
        .body(Body::from_stream(body))
        .unwrap()
}

/// Objects under the prefix, and whether a multipart upload is open.
fn left_behind() -> (Vec<String>, bool) {
    let keys = weed::keys(BUCKET, "");
    (keys, weed::uploads_listed(BUCKET).0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_that_is_cut_or_too_large_leaves_nothing_in_the_bucket() {
    let Some(_weed) = weed::Weed::start(BUCKET) else {
        return;
    };
    let router = router(9 << 20);
    let data = source(12 << 20);

    // Cut after 7 MiB: one part went to the store, then the client vanished.
    let (tx, rx) = tokio::sync::mpsc::channel::<Chunk>(4);
    let call = tokio::spawn(router.clone().oneshot(streamed_form(rx)));
    for piece in data[..7 << 20].chunks(1 << 20) {
        tx.send(Ok(bytes::Bytes::copy_from_slice(piece)))
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    tx.send(Err(std::io::Error::other("client gone")))
        .await
        .unwrap();
    let res = call.await.unwrap().unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(left_behind(), (Vec::new(), false), "after a cut form");

    // Streamed past the limit: refused once it is crossed, after a part was stored.
    let (tx, rx) = tokio::sync::mpsc::channel::<Chunk>(4);
    let call = tokio::spawn(router.clone().oneshot(streamed_form(rx)));
    for piece in data.chunks(1 << 20) {
        if tx
            .send(Ok(bytes::Bytes::copy_from_slice(piece)))
            .await
            .is_err()
        {
            break;
        }
    }
    drop(tx);
    let res = call.await.unwrap().unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        left_behind(),
        (Vec::new(), false),
        "after an oversized form"
    );

    // A whole form under the limit is stored whole.
    let (tx, rx) = tokio::sync::mpsc::channel::<Chunk>(4);
    let call = tokio::spawn(router.clone().oneshot(streamed_form(rx)));
    for piece in data[..8 << 20].chunks(1 << 20) {
        tx.send(Ok(bytes::Bytes::copy_from_slice(piece)))
            .await
            .unwrap();
    }
    tx.send(Ok(bytes::Bytes::from_static(b"\r\n--B--\r\n")))
        .await
        .unwrap();
    drop(tx);
    let res = call.await.unwrap().unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let reply: serde_json::Value =
        serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap();
    let key = reply["files"][0]["key"].as_str().unwrap();
    let (status, stored) = weed::raw("GET", &format!("/{BUCKET}/{key}"), &[], &weed::creds());
    assert_eq!(status, 200);
    assert_eq!(Sha256::digest(&stored), Sha256::digest(&data[..8 << 20]));
    assert_eq!(left_behind(), (vec![key.to_owned()], false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_dies_mid_patch_keeps_what_it_had_and_the_upload_goes_on() {
    let Some(mut weed) = weed::Weed::start(BUCKET) else {
        return;
    };
    let router = router(1 << 30);
    let data = source(16 << 20);
    let create = Request::post("/files/")
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", data.len().to_string())
        .body(Body::empty())
        .unwrap();
    let res = router.clone().oneshot(create).await.unwrap();
    let url = res.headers()["location"].to_str().unwrap().to_owned();
    let patch = |offset: usize, body: Body| {
        Request::patch(&url)
            .header("Tus-Resumable", "1.0.0")
            .header("Upload-Offset", offset.to_string())
            .header("Content-Type", "application/offset+octet-stream")
            .body(body)
            .unwrap()
    };
    let head = || {
        Request::head(&url)
            .header("Tus-Resumable", "1.0.0")
            .body(Body::empty())
            .unwrap()
    };
    // 11 MiB arrive (two parts stored), then the store dies and the rest keeps coming.
    let (tx, rx) = tokio::sync::mpsc::channel::<Chunk>(2);
    let body = Body::from_stream(futures_util::stream::poll_fn({
        let mut rx = rx;
        move |cx| rx.poll_recv(cx)
    }));
    let call = tokio::spawn(router.clone().oneshot(patch(0, body)));
    for piece in data[..11 << 20].chunks(1 << 20) {
        tx.send(Ok(bytes::Bytes::copy_from_slice(piece)))
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    weed.kill();
    for piece in data[11 << 20..].chunks(1 << 20) {
        if tx
            .send(Ok(bytes::Bytes::copy_from_slice(piece)))
            .await
            .is_err()
        {
            break;
        }
    }
    drop(tx);
    let res = call.await.unwrap().unwrap();
    let status = res.status();
    let text =
        String::from_utf8_lossy(&res.into_body().collect().await.unwrap().to_bytes()).into_owned();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{text}");
    assert!(text.contains("the store is unreachable"), "{text}");
    // While it is down, HEAD says so in one answer.
    let res = router.clone().oneshot(head()).await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    weed.restart(BUCKET);
    // The bucket answers before its volume serves reads again: until then HEAD says the store
    // failed (502), then it answers.
    let started = std::time::Instant::now();
    let res = loop {
        let res = router.clone().oneshot(head()).await.unwrap();
        if res.status() != StatusCode::BAD_GATEWAY {
            break res;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "HEAD still fails 20 s after the store came back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(res.status(), StatusCode::OK);
    let offset: usize = res.headers()["upload-offset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((5 << 20..=11 << 20).contains(&offset), "{offset}");
    // The lock of the cut request is released once the store answers again (at the latest
    // when its lease runs out): until then a writer is told 423.
    let started = std::time::Instant::now();
    let res = loop {
        let res = router
            .clone()
            .oneshot(patch(offset, Body::from(data[offset..].to_vec())))
            .await
            .unwrap();
        if res.status() != StatusCode::LOCKED {
            break res;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "locked for good"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        res.headers()["upload-offset"],
        data.len().to_string().as_str()
    );
    let (keys, open) = left_behind();
    assert!(!open, "a multipart upload left open");
    let published: Vec<&String> = keys.iter().filter(|k| !k.contains("/.uptask/")).collect();
    assert_eq!(published.len(), 1, "{keys:?}");
    let (_, stored) = weed::raw(
        "GET",
        &format!("/{BUCKET}/{}", published[0]),
        &[],
        &weed::creds(),
    );
    assert_eq!(Sha256::digest(&stored), Sha256::digest(&data));
}
