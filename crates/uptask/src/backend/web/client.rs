//! The browser's [`Transport`]: each request one `XMLHttpRequest`, bodies cut from the source
//! (bytes, or slices of the page's `Blob`, which the browser reads itself), or the multipart
//! body assembled as one `Blob`.

use js_sys::Uint8Array;
use send_wrapper::SendWrapper;
use wasm_bindgen_futures::JsFuture;

use super::xhr::{self, Event, XhrBody, XhrRequest};
use crate::UploadError;
use crate::backend::{Body, Heard, PlannedSource, Request, Response, Setup, Transport};
use crate::digest::{Algorithm, Hasher};
use crate::profile::{Invoked, Profile, Span};

enum WebSource {
    Bytes(bytes::Bytes),
    Blob(crate::Blob),
}

/// Requests for one upload: its source as the page holds it, and the plan for the rest (the
/// user's headers, stall limit, credentials, bandwidth limits).
pub(crate) struct WebClient<'a> {
    source: WebSource,
    setup: Setup<'a>,
    /// When the last request went out and its answer came back (what a page can time), and
    /// the body bytes it sent.
    timings: std::sync::Mutex<Option<(Span, Span, u64)>>,
}

fn past_the_end() -> UploadError {
    UploadError::invalid("a range past the end of the source")
}

impl<'a> WebClient<'a> {
    pub(crate) fn new(setup: Setup<'a>) -> Result<Self, UploadError> {
        let source = match setup.source {
            PlannedSource::Bytes(b) => WebSource::Bytes(b.clone()),
            PlannedSource::Blob(b) => WebSource::Blob(b.clone()),
            other => return Err(super::not_in_browser(other)),
        };
        Ok(Self {
            source,
            setup,
            timings: std::sync::Mutex::new(None),
        })
    }

    fn slice(bytes: &bytes::Bytes, offset: u64, len: u64) -> Result<&[u8], UploadError> {
        crate::backend::range_of(bytes, offset, len).ok_or_else(past_the_end)
    }

    /// `len` bytes from `offset`, as a request body.
    fn range(&self, offset: u64, len: u64) -> Result<XhrBody, UploadError> {
        match &self.source {
            WebSource::Bytes(b) => Ok(XhrBody::Bytes(Uint8Array::from(Self::slice(
                b, offset, len,
            )?))),
            WebSource::Blob(b) => {
                let end = offset
                    .checked_add(len)
                    .filter(|e| *e <= b.size())
                    .ok_or_else(past_the_end)?;
                // Offsets below 2^53 are exact in an f64.
                b.js()
                    .slice_with_f64_and_f64(offset as f64, end as f64)
                    .map(XhrBody::Blob)
                    .map_err(|e| {
                        UploadError::new(crate::ErrorKind::Io, format!("Blob.slice: {e:?}"))
                    })
            }
        }
    }
}

impl Transport for WebClient<'_> {
    fn send(
        &self,
        request: &Request,
        hear: &mut (dyn FnMut(Heard<'_>) + Send),
    ) -> impl Future<Output = Result<Response, UploadError>> + Send {
        // A page has one thread: the request's JS objects never leave it, which the wrapper
        // checks.
        SendWrapper::new(async move {
            let body = match &request.body {
                Body::Empty => XhrBody::Empty,
                Body::Range { offset, len } => self.range(*offset, *len)?,
                Body::Bytes(b) => XhrBody::Bytes(Uint8Array::from(&b[..])),
                Body::Multipart { .. } => XhrBody::Blob(super::multipart::body_blob(self.setup)?),
                _ => {
                    return Err(UploadError::new(
                        crate::ErrorKind::Internal,
                        "a body of an unknown kind",
                    ));
                }
            };
            let headers: Vec<(&str, &str)> = request
                .headers
                .iter()
                .map(|(n, v)| (*n, v.as_str()))
                .chain(
                    self.setup
                        .header
                        .iter()
                        .filter(|_| request.user_headers)
                        .map(|(n, v)| (n.as_str(), v.as_str())),
                )
                .collect();
            let total = request.body.len();
            // The browser sends the body at its own pace: under a limit, the request first
            // waits for its bytes' share, so the average over the chunks holds.
            let mut left = total;
            let limits = &self.setup.limits;
            while left > 0 && !limits.is_empty() {
                let grant = limits.take(left).await;
                left -= grant.len();
                let all = grant.len();
                grant.settle(all);
            }
            let now = super::clock::now;
            let request_start = now();
            let (mut request_end, mut response_start) = (None, None);
            let mut on_event = |event| match event {
                Event::Sent(n) => {
                    if n >= total {
                        request_end.get_or_insert_with(now);
                    }
                    hear(Heard::Sent(n.min(total)));
                }
                Event::Headers(status, header) => {
                    let at = now();
                    response_start = Some(at);
                    // An early answer ends the request too.
                    request_end.get_or_insert(at);
                    hear(Heard::Head {
                        status,
                        header: &header,
                    });
                }
            };
            let response = xhr::exchange(
                XhrRequest {
                    method: request.method,
                    url: request.url.as_str(),
                    headers: &headers,
                    body,
                    timeout: None,
                    stall: self.setup.stall,
                    with_credentials: self.setup.with_credentials && request.user_headers,
                },
                &mut on_event,
            )
            .await?;
            // Some browsers send no progress event for the last bytes before the load.
            hear(Heard::Sent(total));
            let response_end = now();
            let response_start = response_start.unwrap_or(response_end);
            let request = (request_start, request_end.unwrap_or(response_start));
            *self
                .timings
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) =
                Some((request, (response_start, response_end), total));
            Ok(response)
        })
    }

    fn profile(&self, invoked: Invoked, queued: Option<Span>) -> Option<Profile> {
        let timings = self
            .timings
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (request, response, sent) = (*timings)?;
        Some(Profile::of_exchange(
            invoked, queued, request, response, sent,
        ))
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
        SendWrapper::new(async move {
            if let WebSource::Bytes(b) = &self.source {
                return Ok(Hasher::of(algorithm, Self::slice(b, offset, len)?));
            }
            let XhrBody::Blob(slice) = self.range(offset, len)? else {
                return Err(past_the_end());
            };
            let buffer = JsFuture::from(slice.array_buffer()).await.map_err(|e| {
                UploadError::new(crate::ErrorKind::Io, format!("cannot read the Blob: {e:?}"))
            })?;
            Ok(Hasher::of(algorithm, &Uint8Array::new(&buffer).to_vec()))
        })
    }
}
