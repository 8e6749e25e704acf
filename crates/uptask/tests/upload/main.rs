//! The UploadTask over real loopback sockets: one test per event rule, abort case and fault.

#![allow(
    missing_docs,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::panic,
    reason = "test-only helpers: a failed setup should stop the test loudly"
)]

mod abort;
mod blocking;
mod client;
#[path = "../common/mod.rs"]
mod common;
mod faults;
mod listeners;
mod profile;
mod rate;
mod redirects;
mod rules;
mod support;
mod tls;
mod transport;

use std::time::Duration;

pub use common::payload;

pub fn opts(url: &str, data: Vec<u8>) -> uptask::UploadOptions {
    uptask::UploadOptions::from_bytes(url, data, "file").timeout(Duration::from_secs(20))
}

/// Uploads 1,000 bytes to a server that answers `response` verbatim.
pub async fn raw_response(
    response: impl Into<Vec<u8>>,
) -> Result<uptask::UploadSuccess, uptask::UploadError> {
    let server = support::TestServer::start(support::Behavior::Raw(response.into())).await;
    uptask::upload_file(opts(&server.url, payload(1000))).await
}
