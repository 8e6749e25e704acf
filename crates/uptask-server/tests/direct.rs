//! Uploads straight to the bucket through the `/s3/` routes (Companion's S3 controller): the
//! server signs, the bytes go from the test to SeaweedFS through presigned URLs that carry no
//! keys, and the objects are read back and compared with the source.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code: a failed setup should stop the test loudly"
)]

use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tower::ServiceExt;
use uptask_server::{ServerConfig, app};

#[path = "../../uptask/tests/common/weed.rs"]
mod weed;

const BUCKET: &str = "direct-uploads";

fn router(token: Option<&str>) -> axum::Router {
    let store = uptask_server::S3Store::parse(&format!("s3://{BUCKET}/d"), weed::creds())
        .unwrap()
        .endpoint(format!("http://{}", weed::ENDPOINT));
    let mut config = ServerConfig::new("/unused").s3(store);
    if let Some(t) = token {
        config = config.token(t);
    }
    app(config)
}

/// A call to the router: status and JSON body (`Null` when it is not JSON).
async fn call(router: &axum::Router, method: &str, uri: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = Request::builder().method(method).uri(uri);
    let body = match body {
        Some(v) => {
            req = req.header("content-type", "application/json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    let res = router
        .clone()
        .oneshot(req.body(body).unwrap())
        .await
        .unwrap();
    let status = res.status().as_u16();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes);
    assert!(!text.contains(weed::SECRET), "the store's secret in {text}");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn get(router: &axum::Router, uri: &str) -> (u16, Value) {
    call(router, "GET", uri, None).await
}

fn source(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 253) as u8).collect()
}

fn stored(key: &str) -> Vec<u8> {
    let (status, body) = weed::raw("GET", &format!("/{BUCKET}/{key}"), &[], &weed::creds());
    assert_eq!(status, 200, "{key} not stored");
    body
}

async fn start(router: &axum::Router, filename: &str) -> (String, String) {
    let (status, created) = call(
        router,
        "POST",
        "/s3/multipart",
        Some(json!({"filename": filename, "type": "application/octet-stream", "metadata": {"name": filename}})),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["bucket"], BUCKET);
    let key = created["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("d/") && key.ends_with(".bin"), "{key}");
    (key, created["uploadId"].as_str().unwrap().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multipart_upload_goes_straight_to_the_store_through_signed_urls() {
    let Some(_weed) = weed::Weed::start(BUCKET) else {
        return;
    };
    let router = router(None);
    let data = source((5 << 20) + 12345);
    let (key, id) = start(&router, "clip.bin").await;
    let k = url::form_urlencoded::byte_serialize(key.as_bytes()).collect::<String>();

    let (status, batch) = get(
        &router,
        &format!("/s3/multipart/{id}/batch?key={k}&partNumbers=1,2"),
    )
    .await;
    assert_eq!(status, 200, "{batch}");
    let mut etags = Vec::new();
    for (n, bytes) in [("1", &data[..5 << 20]), ("2", &data[5 << 20..])] {
        let url = batch["presignedUrls"][n].as_str().unwrap();
        assert!(url.contains("X-Amz-Signature=") && !url.contains(weed::SECRET));
        let (status, etag, answer) =
            tokio::task::block_in_place(|| weed::presigned("PUT", url, bytes));
        assert_eq!(status, 200, "{answer}");
        etags.push(etag.unwrap());
    }
    // One part signed alone reads as Companion answers it.
    let (status, one) = get(&router, &format!("/s3/multipart/{id}/2?key={k}")).await;
    assert_eq!(status, 200, "{one}");
    assert!(one["url"].as_str().unwrap().contains("partNumber=2"));
    assert_eq!(one["expires"], 900);

    let (status, listed) = get(&router, &format!("/s3/multipart/{id}?key={k}")).await;
    assert_eq!(status, 200, "{listed}");
    let sizes: Vec<u64> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["Size"].as_u64().unwrap())
        .collect();
    assert_eq!(sizes, [5 << 20, 12345], "{listed}");

    let parts: Vec<Value> = etags
        .iter()
        .zip(1..)
        .map(|(e, n)| json!({"PartNumber": n, "ETag": e}))
        .collect();
    let (status, done) = call(
        &router,
        "POST",
        &format!("/s3/multipart/{id}/complete?key={k}"),
        Some(json!({ "parts": parts })),
    )
    .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["key"], key.as_str());
    assert_eq!(done["location"], format!("s3://{BUCKET}/{key}"));
    assert!(
        Sha256::digest(stored(&key)) == Sha256::digest(&data),
        "the stored object differs from the source"
    );
    // Once complete, its id signs nothing more.
    let (status, _) = get(&router, &format!("/s3/multipart/{id}/1?key={k}")).await;
    assert_eq!(status, 404);
    assert!(
        !weed::uploads_listed(BUCKET).0,
        "a multipart upload left open"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_asking_for_crc32c_gets_each_parts_value_signed_and_the_store_checks_it() {
    use base64::Engine as _;
    let Some(_weed) = weed::Weed::start(BUCKET) else {
        return;
    };
    let router = router(None);
    let data = source((5 << 20) + 777);
    let (status, created) = call(
        &router,
        "POST",
        "/s3/multipart",
        Some(json!({"filename": "crc.bin", "type": "application/octet-stream", "checksumAlgorithm": "CRC32C"})),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["checksumAlgorithm"], "CRC32C", "{created}");
    let key = created["key"].as_str().unwrap().to_owned();
    let id = created["uploadId"].as_str().unwrap().to_owned();
    let k = url::form_urlencoded::byte_serialize(key.as_bytes()).collect::<String>();
    let crc_of = |bytes: &[u8]| {
        base64::engine::general_purpose::STANDARD.encode(crc32c::crc32c(bytes).to_be_bytes())
    };
    let escaped = |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();

    // Without its value, or with a malformed one, a part is not signed.
    for query in ["", "&checksumCRC32C=AAAA", "&checksumCRC32C=%21%21"] {
        let (status, refused) = get(&router, &format!("/s3/multipart/{id}/1?key={k}{query}")).await;
        assert_eq!(status, 400, "{query}: {refused}");
        assert!(
            refused["error"]
                .as_str()
                .unwrap_or_default()
                .contains("checksumCRC32C"),
            "{refused}"
        );
    }
    let (status, _) = get(
        &router,
        &format!("/s3/multipart/{id}/batch?key={k}&partNumbers=1"),
    )
    .await;
    assert_eq!(status, 400, "a batch cannot carry each part's value");

    // A URL signed for one part's CRC32C takes only those bytes.
    let (first, second) = data.split_at(5 << 20);
    let (status, signed) = get(
        &router,
        &format!(
            "/s3/multipart/{id}/1?key={k}&checksumCRC32C={}",
            escaped(&crc_of(second))
        ),
    )
    .await;
    assert_eq!(status, 200, "{signed}");
    let url = signed["url"].as_str().unwrap();
    assert!(url.contains("x-amz-checksum-crc32c="), "{url}");
    let (status, _, answer) = tokio::task::block_in_place(|| weed::presigned("PUT", url, first));
    assert!(
        (400..500).contains(&status),
        "bytes that do not match the signed CRC32C were stored: {status} {answer}"
    );

    let mut parts = Vec::new();
    for (n, bytes) in [(1, first), (2, second)] {
        let crc = crc_of(bytes);
        let (status, signed) = get(
            &router,
            &format!(
                "/s3/multipart/{id}/{n}?key={k}&checksumCRC32C={}",
                escaped(&crc)
            ),
        )
        .await;
        assert_eq!(status, 200, "{signed}");
        let url = signed["url"].as_str().unwrap();
        let (status, etag, answer) =
            tokio::task::block_in_place(|| weed::presigned("PUT", url, bytes));
        assert_eq!(status, 200, "{answer}");
        parts.push(json!({"PartNumber": n, "ETag": etag.unwrap(), "ChecksumCRC32C": crc}));
    }
    let without: Vec<Value> = parts
        .iter()
        .map(|p| json!({"PartNumber": p["PartNumber"], "ETag": p["ETag"]}))
        .collect();
    let complete = format!("/s3/multipart/{id}/complete?key={k}");
    let (status, refused) = call(
        &router,
        "POST",
        &complete,
        Some(json!({ "parts": without })),
    )
    .await;
    assert_eq!(status, 400, "a completion without the checksums: {refused}");
    let (status, done) = call(&router, "POST", &complete, Some(json!({ "parts": parts }))).await;
    assert_eq!(status, 200, "{done}");
    assert!(
        Sha256::digest(stored(&key)) == Sha256::digest(&data),
        "the stored object differs from the source"
    );
    assert!(
        !weed::uploads_listed(BUCKET).0,
        "a multipart upload left open"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_signer_signs_only_for_its_own_uploads_and_keys() {
    let Some(_weed) = weed::Weed::start(BUCKET) else {
        return;
    };
    let router = router(None);
    let (key, id) = start(&router, "a.bin").await;
    let k = url::form_urlencoded::byte_serialize(key.as_bytes()).collect::<String>();
    let refused = [
        (format!("/s3/multipart/{id}/1?key=d%2Fother.bin"), 404),
        (format!("/s3/multipart/{id}/1?key=..%2F..%2Fetc"), 404),
        (format!("/s3/multipart/not-ours/1?key={k}"), 404),
        (format!("/s3/multipart/{id}/0?key={k}"), 400),
        (format!("/s3/multipart/{id}/10001?key={k}"), 400),
        (format!("/s3/multipart/{id}/x?key={k}"), 400),
        (format!("/s3/multipart/{id}/1"), 400),
        (
            format!("/s3/multipart/{id}/batch?key={k}&partNumbers=1,0"),
            400,
        ),
        (format!("/s3/multipart/{id}?key=d%2Fother.bin"), 404),
    ];
    for (uri, want) in refused {
        let (status, body) = get(&router, &uri).await;
        assert_eq!(status, want, "{uri}: {body}");
        assert!(
            body["error"].as_str().unwrap().starts_with("s3: "),
            "{body}"
        );
    }
    let (status, body) = call(
        &router,
        "POST",
        &format!("/s3/multipart/{id}/complete?key={k}"),
        Some(json!({"parts": [{"PartNumber": 2, "ETag": "\"x\""}]})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = call(
        &router,
        "POST",
        "/s3/multipart",
        Some(json!({"filename": "b.bin"})),
    )
    .await;
    assert_eq!(status, 400, "no type: {body}");
    // Aborted: gone from the store, and its id signs nothing more.
    let (status, body) = call(
        &router,
        "DELETE",
        &format!("/s3/multipart/{id}?key={k}"),
        None,
    )
    .await;
    assert_eq!((status, body), (200, json!({})));
    assert!(
        !weed::uploads_listed(BUCKET).0,
        "the aborted upload is still open"
    );
    let (status, _) = get(&router, &format!("/s3/multipart/{id}/1?key={k}")).await;
    assert_eq!(status, 404);

    let guarded = self::router(Some("s3cret"));
    let (status, _) = call(
        &guarded,
        "POST",
        "/s3/multipart",
        Some(json!({"filename": "c.bin", "type": "x/y"})),
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = call(&guarded, "GET", "/s3/params?filename=c.bin", None).await;
    assert_eq!(status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_file_goes_in_one_presigned_post_form() {
    let Some(_weed) = weed::Weed::start(BUCKET) else {
        return;
    };
    let router = router(None);
    let data = source(70_000);
    let (status, params) = get(
        &router,
        "/s3/params?filename=note.txt&type=text%2Fplain&metadata%5Balbum%5D=trip",
    )
    .await;
    assert_eq!(status, 200, "{params}");
    // Companion's shape: a browser's form to the bucket, its fields sent as they are.
    assert_eq!(params["method"], "POST");
    let url = params["url"].as_str().unwrap();
    assert_eq!(url, format!("http://{}/{BUCKET}", weed::ENDPOINT));
    let fields: Vec<(String, String)> = params["fields"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(n, v)| (n.clone(), v.as_str().unwrap().to_owned()))
        .collect();
    let field = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no {name} in {params}"))
    };
    let key = field("key");
    assert!(key.starts_with("d/") && key.ends_with(".txt"), "{key}");
    assert_eq!(field("Content-Type"), "text/plain");
    assert!(!params.to_string().contains(weed::SECRET), "{params}");

    // The policy pins the key: the same form for another key is refused.
    let mut moved = fields.clone();
    for (n, v) in &mut moved {
        if n == "key" {
            *v = "elsewhere.txt".into();
        }
    }
    let (status, answer) = tokio::task::block_in_place(|| weed::post_form(url, &moved, &data));
    assert_eq!(status, 403, "{answer}");

    let (status, answer) = tokio::task::block_in_place(|| weed::post_form(url, &fields, &data));
    assert!((200..300).contains(&status), "{answer}");
    assert!(
        stored(&key) == data,
        "the stored object differs from the source"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_refuses_a_part_url_the_routes_gave_once_tampered_with_or_expired() {
    let Some(_weed) = weed::Weed::start(BUCKET) else {
        return;
    };
    let store = uptask_server::S3Store::parse(&format!("s3://{BUCKET}/d"), weed::creds())
        .unwrap()
        .endpoint(format!("http://{}", weed::ENDPOINT));
    let router = app(ServerConfig::new("/unused")
        .s3(store)
        .presign_expiry(Duration::from_secs(1)));
    let (key, id) = start(&router, "short.bin").await;
    let k = url::form_urlencoded::byte_serialize(key.as_bytes()).collect::<String>();
    let (status, one) = get(&router, &format!("/s3/multipart/{id}/1?key={k}")).await;
    assert_eq!(status, 200, "{one}");
    let url = one["url"].as_str().unwrap().to_owned();
    let part = source(1000);

    // The same URL for another part number: the signature no longer matches.
    let moved = url.replace("partNumber=1", "partNumber=2");
    assert_ne!(moved, url);
    let (status, _, answer) = tokio::task::block_in_place(|| weed::presigned("PUT", &moved, &part));
    assert_eq!(status, 403, "{answer}");

    // Past its expiry (1 s, plus a margin for the store's clock granularity).
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (status, _, answer) = tokio::task::block_in_place(|| weed::presigned("PUT", &url, &part));
    assert_eq!(status, 403, "{answer}");
    let (status, listed) = get(&router, &format!("/s3/multipart/{id}?key={k}")).await;
    assert_eq!(
        (status, listed),
        (200, json!([])),
        "no part reached the store"
    );
    let (status, _) = call(
        &router,
        "DELETE",
        &format!("/s3/multipart/{id}?key={k}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
}
