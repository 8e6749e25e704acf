//! The browser backend in real headless Chromium (`wasm-bindgen-test-runner` with
//! chromedriver), against `uptask serve` on loopback: a page of another origin, so every
//! request is a CORS request. `scripts/test-browser.sh` builds, starts the server and runs
//! this; the server's URL comes in at compile time as `UPTASK_BROWSER_SERVER`.

#![cfg(target_arch = "wasm32")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code"
)]

use std::sync::{Arc, Mutex};

use uptask::{Source, UploadOptions, upload_file};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

fn server() -> &'static str {
    option_env!("UPTASK_BROWSER_SERVER")
        .unwrap_or_else(|| panic!("UPTASK_BROWSER_SERVER is not set: run scripts/test-browser.sh"))
}

/// The independent tus server (@tus/server) the script starts beside ours.
fn tus_peer() -> &'static str {
    option_env!("UPTASK_BROWSER_TUS_PEER").unwrap_or_else(|| {
        panic!("UPTASK_BROWSER_TUS_PEER is not set: run scripts/test-browser.sh")
    })
}

fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

fn bytes_opts(len: usize) -> UploadOptions {
    UploadOptions::with_source(
        format!("{}/upload", server()),
        Source::Bytes(payload(len).into()),
        "file",
    )
    .file_name("page.bin")
    .form_data("album", "browser")
}

#[wasm_bindgen_test]
async fn progress_rises_to_100_then_headers_then_success() {
    let task = upload_file(bytes_opts(3 << 20));
    let events = Arc::new(Mutex::new(Vec::new()));
    let e = Arc::clone(&events);
    task.on_progress_update(move |p| {
        e.lock().unwrap().push(format!(
            "progress {} {} {}",
            p.progress, p.total_bytes_sent, p.total_bytes_expected_to_send
        ));
    });
    let e = Arc::clone(&events);
    task.on_headers_received(move |h| {
        e.lock()
            .unwrap()
            .push(format!("headers {}", h.header.contains_key("content-type")));
    });
    let done = task.await.unwrap();
    assert_eq!(done.status_code, 200, "{}", done.data);
    assert!(done.data.contains("\"size\":3145728"), "{}", done.data);
    // What a page can time of its request; the connection is the browser's business.
    let p = done.profile.unwrap();
    assert!(
        p.invoke_start <= p.request_start
            && p.request_start <= p.request_end
            && p.request_end <= p.response_start
            && p.response_start <= p.response_end,
        "{p:?}"
    );
    assert_eq!((p.connect_start, p.peer_ip.as_deref()), (None, None));
    let events = events.lock().unwrap();
    let progress: Vec<(u64, u64)> = events
        .iter()
        .filter_map(|e| e.strip_prefix("progress "))
        .map(|e| {
            let f: Vec<u64> = e.split(' ').map(|n| n.parse().unwrap()).collect();
            (f[0], f[1])
        })
        .collect();
    assert!(!progress.is_empty(), "{events:?}");
    assert!(progress.windows(2).all(|w| w[0].1 <= w[1].1), "{events:?}");
    assert_eq!(progress.last().unwrap().0, 100, "{events:?}");
    let headers: Vec<_> = events.iter().filter(|e| e.starts_with("headers")).collect();
    assert_eq!(headers, ["headers true"], "{events:?}");
}

#[wasm_bindgen_test]
async fn abort_before_anything_is_sent_is_the_outcome() {
    let task = upload_file(bytes_opts(1 << 20));
    task.abort();
    let err = task.await.unwrap_err();
    assert!(err.is_aborted(), "{err}");
    assert_eq!(err.err_msg(), "uploadFile:fail abort");
}

#[wasm_bindgen_test]
async fn a_body_over_the_servers_limit_is_answered_413() {
    // The server takes at most 8 MiB (scripts/test-browser.sh).
    let done = upload_file(bytes_opts(12 << 20)).await;
    match done {
        Ok(done) => assert_eq!(done.status_code, 413, "{}", done.data),
        // A browser may see the early answer's closed connection as a network error first.
        Err(e) => panic!("expected the 413 as the outcome, got {e}"),
    }
}

/// Awaits `task`, checking its progress never went down and ended at `len` bytes.
async fn await_rising_to(task: uptask::UploadTask, len: u64) -> uptask::UploadSuccess {
    let sent = Arc::new(Mutex::new(Vec::new()));
    let s = Arc::clone(&sent);
    task.on_progress_update(move |p| s.lock().unwrap().push(p.total_bytes_sent));
    let done = task.await.unwrap();
    let sent = sent.lock().unwrap();
    assert!(sent.windows(2).all(|w| w[0] <= w[1]), "{sent:?}");
    assert_eq!(sent.last().copied(), Some(len));
    done
}

/// A page `Blob` holding `data`.
fn page_blob(data: &[u8]) -> web_sys::Blob {
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(data));
    web_sys::Blob::new_with_u8_array_sequence(&parts).unwrap()
}

/// A tus upload of `source` (`len` bytes) in 1 MiB chunks to `endpoint`: 204, progress
/// monotonic up to `len`.
async fn tus_round_trip(endpoint: &str, source: Source, len: u64) -> uptask::UploadSuccess {
    let opts = UploadOptions::with_source(endpoint, source, "file")
        .tus(uptask::TusOptions::new().chunk_size(1 << 20));
    let done = await_rising_to(upload_file(opts), len).await;
    assert_eq!(done.status_code, 204, "{}", done.data);
    done
}

#[wasm_bindgen_test]
async fn tus_runs_over_the_same_backend() {
    let data = payload((2 << 20) + 7);
    let endpoint = format!("{}/files/", server());
    let done = tus_round_trip(&endpoint, Source::Bytes(data.into()), (2 << 20) + 7).await;
    assert!(done.upload_url.is_some());
}

/// A page `File` of `data` named `name`.
fn file(data: &[u8], name: &str) -> web_sys::File {
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(data));
    web_sys::File::new_with_u8_array_sequence(&parts, name).unwrap()
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[wasm_bindgen_test]
async fn a_page_file_is_sent_as_itself_with_its_name() {
    let data = payload((1 << 20) + 3);
    let blob = uptask::Blob::from(file(&data, "holiday.jpg"));
    assert_eq!(blob.size(), data.len() as u64);
    assert_eq!(blob.name().as_deref(), Some("holiday.jpg"));
    let opts =
        UploadOptions::with_source(format!("{}/upload", server()), Source::Blob(blob), "photo");
    let done = upload_file(opts).await.unwrap();
    assert_eq!(done.status_code, 200, "{}", done.data);
    let reply: serde_json::Value = serde_json::from_str(&done.data).unwrap();
    let stored = &reply["files"][0];
    assert_eq!(stored["field"], "photo", "{reply}");
    assert_eq!(stored["fileName"], "holiday.jpg", "{reply}");
    assert_eq!(stored["size"], data.len() as u64, "{reply}");
    assert_eq!(stored["sha256"], sha256_hex(&data), "{reply}");
}

#[wasm_bindgen_test]
async fn tus_sends_slices_of_a_blob_with_checksums() {
    let data = payload((3 << 20) + 11);
    let blob = page_blob(&data);
    let endpoint = format!("{}/files/", server());
    tus_round_trip(&endpoint, Source::Blob(blob.into()), data.len() as u64).await;
}

/// A tus `HEAD` of `url`, asked synchronously (a test may block its page): the status and
/// `Upload-Offset`.
fn tus_head(url: &str) -> (u16, Option<String>) {
    let xhr = web_sys::XmlHttpRequest::new().unwrap();
    xhr.open_with_async("HEAD", url, false).unwrap();
    xhr.set_request_header("Tus-Resumable", "1.0.0").unwrap();
    xhr.send().unwrap();
    (
        xhr.status().unwrap(),
        xhr.get_response_header("Upload-Offset").unwrap(),
    )
}

/// Aborts a tus upload to `endpoint` once it was created and its second 512 KiB chunk is on
/// the way, and checks the server no longer knows the upload (the abort terminated it).
async fn abort_mid_upload(endpoint: &str) {
    // 8 chunks of 512 KiB: the abort comes long before the end.
    let data = payload(4 << 20);
    let opts = UploadOptions::with_source(endpoint, Source::Bytes(data.into()), "file")
        .tus(uptask::TusOptions::new().chunk_size(512 << 10));
    let task = upload_file(opts);
    let handle = task.handle();
    let created = Arc::new(Mutex::new(None));
    let c = Arc::clone(&created);
    task.on_notice(move |n| {
        if let uptask::Notice::UploadCreated { url } = n {
            *c.lock().unwrap() = Some(url.clone());
        }
    });
    let c = Arc::clone(&created);
    task.on_progress_update(move |p| {
        // Once the server has told where the upload lives (a server taking data with the
        // creation request only answers after its chunk).
        if p.total_bytes_sent > 512 << 10 && c.lock().unwrap().is_some() {
            handle.abort();
        }
    });
    let err = task.await.unwrap_err();
    assert!(err.is_aborted(), "{err}");
    let url = created
        .lock()
        .unwrap()
        .clone()
        .expect("no upload was created");
    let (status, _) = tus_head(&url);
    assert!(
        status == 404 || status == 410,
        "HEAD {url} answered {status}"
    );
}

#[wasm_bindgen_test]
async fn an_abort_mid_upload_reaches_the_server() {
    abort_mid_upload(&format!("{}/files/", server())).await;
}

/// The peer's stored bytes are compared with the payload by scripts/test-browser.sh after the
/// run (a page cannot read the disk); here the peer must say it holds all of them.
#[wasm_bindgen_test]
async fn tus_to_an_independent_server_from_a_page_blob() {
    let data = payload((3 << 20) + 11);
    let blob = page_blob(&data);
    let done = tus_round_trip(tus_peer(), Source::Blob(blob.into()), data.len() as u64).await;
    let url = done.upload_url.expect("the upload's URL");
    assert!(url.starts_with(tus_peer()), "{url}");
    assert_eq!(tus_head(&url), (200, Some(data.len().to_string())));
}

#[wasm_bindgen_test]
async fn an_abort_mid_upload_reaches_an_independent_server() {
    abort_mid_upload(tus_peer()).await;
}

/// The S3-compatible store (SeaweedFS) the script starts with CORS allowed on its bucket:
/// endpoint, access key, secret and bucket.
fn s3_store() -> (&'static str, &'static str, &'static str, &'static str) {
    let need = || panic!("UPTASK_BROWSER_S3_* is not set: run scripts/test-browser.sh");
    (
        option_env!("UPTASK_BROWSER_S3_ENDPOINT").unwrap_or_else(need),
        option_env!("UPTASK_BROWSER_S3_KEY").unwrap_or_else(need),
        option_env!("UPTASK_BROWSER_S3_SECRET").unwrap_or_else(need),
        option_env!("UPTASK_BROWSER_S3_BUCKET").unwrap_or_else(need),
    )
}

/// Uploads `len` payload bytes from a page Blob to `key` in 5 MiB parts, checksummed with
/// `checksum`. The script compares the stored objects with the payload afterwards.
async fn s3_from_a_blob(key: &str, len: usize, checksum: uptask::s3::PartChecksum) {
    let (endpoint, id, secret, bucket) = s3_store();
    let data = payload(len);
    let blob = page_blob(&data);
    let s3 = uptask::S3Options::new(uptask::s3::Credentials::new(id, secret))
        .endpoint(endpoint)
        .part_size(5 << 20)
        .checksum(checksum);
    let opts = UploadOptions::with_source(
        format!("s3://{bucket}/{key}"),
        Source::Blob(blob.into()),
        "file",
    )
    .s3(s3);
    let done = await_rising_to(upload_file(opts), len as u64).await;
    assert_eq!(done.status_code, 200, "{}", done.data);
}

#[wasm_bindgen_test]
async fn s3_multipart_from_a_page_blob() {
    // Three parts, the last one short, in parallel; CRC32C per part.
    s3_from_a_blob(
        "browser/multipart.bin",
        (12 << 20) + 3,
        uptask::s3::PartChecksum::Crc32c,
    )
    .await;
}

#[wasm_bindgen_test]
async fn s3_single_put_from_a_page_blob_with_content_md5() {
    s3_from_a_blob("browser/single.bin", 1 << 20, uptask::s3::PartChecksum::Md5).await;
}

#[wasm_bindgen_test]
async fn s3_abort_mid_upload_aborts_the_multipart_upload() {
    // The script then checks the bucket has no multipart upload left open.
    let (endpoint, id, secret, bucket) = s3_store();
    let data = payload(20 << 20);
    let blob = page_blob(&data);
    let s3 = uptask::S3Options::new(uptask::s3::Credentials::new(id, secret))
        .endpoint(endpoint)
        .part_size(5 << 20)
        .concurrency(1);
    let opts = UploadOptions::with_source(
        format!("s3://{bucket}/browser/aborted.bin"),
        Source::Blob(blob.into()),
        "file",
    )
    .s3(s3);
    let task = upload_file(opts);
    let handle = task.handle();
    let created = Arc::new(Mutex::new(false));
    let c = Arc::clone(&created);
    task.on_notice(move |n| {
        if matches!(n, uptask::Notice::UploadCreated { .. }) {
            *c.lock().unwrap() = true;
        }
    });
    let c = Arc::clone(&created);
    task.on_progress_update(move |p| {
        if p.total_bytes_sent > 0 && *c.lock().unwrap() {
            handle.abort();
        }
    });
    let err = task.await.unwrap_err();
    assert!(err.is_aborted(), "{err}");
    assert!(
        *created.lock().unwrap(),
        "aborted before the upload was created"
    );
}
