//! The server's own HTTP client, for its store and its hook receiver: pooled, http or https
//! (web PKI roots).

use std::time::Duration;

use bytes::Bytes;

pub(crate) type Connector =
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>;

/// What the server sends: bodies of known or streamed bytes.
pub(crate) type RequestBody = http_body_util::combinators::UnsyncBoxBody<Bytes, std::io::Error>;

pub(crate) type Client = hyper_util::client::legacy::Client<Connector, RequestBody>;

pub(crate) fn new() -> Client {
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .build();
    hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .build(connector)
}

/// An error and its causes on one line (hyper's own message is only "client error").
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
