//! One HTTP request and its response, as the protocol drivers see them.
//!
//! A driver (tus) says what to send; each backend sends it its own way (native: our HTTP/1.1
//! client; browser: XHR). Bodies are ranges of the planned source, so no driver ever holds file
//! bytes.

use std::future::Future;

use url::Url;

use crate::{Header, UploadError};

/// A request: method, URL, headers (the protocol's own; the user's are added by the backend),
/// and a body taken from the source.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub(crate) method: &'static str,
    pub(crate) url: Url,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: Body,
}

/// The body of a request: nothing, `len` bytes of the source from `offset`, or bytes already
/// read from a stream (which cannot be read again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Body {
    Empty,
    Range { offset: u64, len: u64 },
    Bytes(bytes::Bytes),
}

impl Body {
    pub(crate) fn len(&self) -> u64 {
        match self {
            Body::Empty => 0,
            Body::Range { len, .. } => *len,
            Body::Bytes(b) => b.len() as u64,
        }
    }
}

/// A complete response.
#[derive(Debug, Clone)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) header: Header,
    pub(crate) data: String,
}

impl Response {
    /// A header value by its lower-case name.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.header.get(name).map(String::as_str)
    }
}

/// Sends requests for one upload. `progress` is told how many body bytes of *this* request the
/// transport has accepted so far.
pub(crate) trait Client: Send + Sync {
    fn send(
        &self,
        request: &Request,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> impl Future<Output = Result<Response, UploadError>> + Send;

    /// The next bytes of a stream source, up to `max`; fewer only at its end.
    fn read_stream(
        &self,
        max: usize,
    ) -> impl Future<Output = Result<bytes::Bytes, UploadError>> + Send;

    /// The digest of `len` bytes of the source from `offset`.
    fn digest(
        &self,
        algorithm: crate::digest::Algorithm,
        offset: u64,
        len: u64,
    ) -> impl Future<Output = Result<Vec<u8>, UploadError>> + Send;
}

/// Sends `request` within `limit` (`None` when it took longer), for last words to a server —
/// terminating an upload after an abort — whose failure is only logged.
pub(crate) async fn send_within<C: Client>(
    client: &C,
    request: &Request,
    limit: std::time::Duration,
) -> Option<Result<Response, UploadError>> {
    let mut ignore = |_| {};
    tokio::select! {
        r = client.send(request, &mut ignore) => Some(r),
        () = crate::backend::sleep(limit) => None,
    }
}
