//! Any bytes as a multipart upload to the receiving server: it answers with a known status,
//! never panics, and never leaves a temporary `.part` file behind.
#![no_main]

use axum::body::Body;
use axum::http::Request;
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

#[path = "common/mod.rs"]
mod common;

use common::fixture;

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let config = uptask_server::ServerConfig::new(f.dir.path()).max_size(64 * 1024);
    let req = Request::post("/upload")
        .header("content-type", "multipart/form-data; boundary=B")
        .body(Body::from(data.to_vec()))
        .expect("request");
    let status =
        f.rt.block_on(uptask_server::app(config).oneshot(req))
            .expect("infallible")
            .status()
            .as_u16();
    assert!(matches!(status, 200 | 400 | 413 | 415), "status {status}");
    for entry in std::fs::read_dir(f.dir.path()).expect("dir") {
        let entry = entry.expect("entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        assert!(!name.starts_with('.'), "temporary file left behind: {name}");
        let _ = std::fs::remove_file(entry.path());
    }
});
