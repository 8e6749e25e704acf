//! The protocol drivers' [`Client`] in the browser: each request one `XMLHttpRequest`, bodies
//! cut from the source's bytes.

use send_wrapper::SendWrapper;

use super::xhr::{self, Event, XhrBody};
use crate::UploadError;
use crate::digest::{Algorithm, Hasher};
use crate::http::{Body, Client, Request, Response};
use crate::prepare::{Plan, PlannedSource};

/// Requests for one upload, with the user's headers.
pub(crate) struct WebClient {
    source: bytes::Bytes,
    headers: Vec<(String, String)>,
}

impl WebClient {
    pub(crate) fn new(plan: &Plan) -> Result<Self, UploadError> {
        let PlannedSource::Bytes(source) = &plan.source else {
            return Err(super::not_bytes());
        };
        Ok(Self {
            source: source.clone(),
            headers: plan.header.clone(),
        })
    }

    fn range(&self, offset: u64, len: u64) -> Result<&[u8], UploadError> {
        let start = usize::try_from(offset).ok();
        let end = start.and_then(|s| s.checked_add(usize::try_from(len).ok()?));
        start
            .zip(end)
            .and_then(|(s, e)| self.source.get(s..e))
            .ok_or_else(|| UploadError::invalid("a range past the end of the source"))
    }
}

impl Client for WebClient {
    fn send(
        &self,
        request: &Request,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> impl Future<Output = Result<Response, UploadError>> + Send {
        // A page has one thread: the request's JS objects never leave it, which the wrapper
        // checks.
        SendWrapper::new(async move {
            let body = match &request.body {
                Body::Empty => XhrBody::Empty,
                Body::Range { offset, len } => {
                    XhrBody::Bytes(js_sys::Uint8Array::from(self.range(*offset, *len)?))
                }
                Body::Bytes(b) => XhrBody::Bytes(js_sys::Uint8Array::from(&b[..])),
            };
            let headers: Vec<(&str, &str)> = request
                .headers
                .iter()
                .map(|(n, v)| (*n, v.as_str()))
                .chain(self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())))
                .collect();
            let mut on_event = |event| {
                if let Event::Sent(n) = event {
                    progress(n);
                }
            };
            xhr::exchange(
                request.method,
                request.url.as_str(),
                &headers,
                body,
                None,
                &mut on_event,
            )
            .await
        })
    }

    fn read_stream(
        &self,
        _max: usize,
    ) -> impl Future<Output = Result<bytes::Bytes, UploadError>> + Send {
        std::future::ready(Err(UploadError::invalid(
            "a stream of unknown length cannot be read in the browser",
        )))
    }

    fn digest(
        &self,
        algorithm: Algorithm,
        offset: u64,
        len: u64,
    ) -> impl Future<Output = Result<Vec<u8>, UploadError>> + Send {
        std::future::ready(self.range(offset, len).map(|b| Hasher::of(algorithm, b)))
    }
}
