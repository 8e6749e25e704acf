//! Any tus request to the receiving server — method, headers and body from the input, to the
//! creation endpoint or to an upload that exists — answers with a known status and never panics;
//! nothing is ever published but a complete upload of the right length.
#![no_main]

use axum::body::Body;
use axum::http::Request;
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

#[path = "common/mod.rs"]
mod common;

use common::fixture;

const LENGTH: usize = 16;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let f = fixture();
    let app = uptask_server::app(uptask_server::ServerConfig::new(f.dir.path()).max_size(1024));
    // An upload of LENGTH bytes to aim at.
    let created = Request::post("/files/")
        .header("tus-resumable", "1.0.0")
        .header("upload-length", LENGTH.to_string())
        .body(Body::empty())
        .expect("request");
    let res =
        f.rt.block_on(app.clone().oneshot(created))
            .expect("infallible");
    let location = res.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned();

    let text = String::from_utf8_lossy(rest);
    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let method = ["POST", "PATCH", "HEAD", "DELETE", "OPTIONS", "GET"][usize::from(selector % 6)];
    let uri = if selector & 0x80 == 0 {
        location.as_str()
    } else {
        "/files/"
    };
    let mut req = Request::builder().method(method).uri(uri);
    for line in head.lines() {
        if let Some((name, value)) = line.split_once(':') {
            if axum::http::HeaderName::try_from(name.trim()).is_ok()
                && axum::http::HeaderValue::try_from(value.trim()).is_ok()
            {
                req = req.header(name.trim(), value.trim());
            }
        }
    }
    let Ok(req) = req.body(Body::from(body.as_bytes().to_vec())) else {
        return;
    };
    let status =
        f.rt.block_on(app.oneshot(req))
            .expect("infallible")
            .status()
            .as_u16();
    assert!(
        matches!(
            status,
            200 | 201 | 204 | 400 | 403 | 404 | 405 | 409 | 410 | 412 | 413 | 415 | 423 | 460
        ),
        "status {status}"
    );
    for entry in std::fs::read_dir(f.dir.path()).expect("dir") {
        let entry = entry.expect("entry");
        let path = entry.path();
        if path.is_file() {
            // Published: complete, and the only way to be complete is the announced length (or
            // a deferred one given later, at most the limit).
            let len = std::fs::metadata(&path).expect("meta").len();
            assert!(len <= 1024, "published {len} bytes past the limit");
            let _ = std::fs::remove_file(&path);
        }
    }
    let _ = std::fs::remove_dir_all(f.dir.path().join(".tus"));
});
