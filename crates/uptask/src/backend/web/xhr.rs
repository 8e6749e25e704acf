//! One request through `XMLHttpRequest`: `upload.onprogress` reports the body bytes sent,
//! `readyState` 2 (`HEADERS_RECEIVED`) the response head, `load` the end. Dropping the future
//! before the end aborts the request (`xhr.abort()`), so an abort, a pause or a deadline of the
//! caller reaches the network at once. With a stall limit, a request the browser reports no
//! progress of (upload progress or response bytes) for that long is aborted as a timeout.
//!
//! The browser's callbacks only post signals into a channel; the request's future turns them
//! into [`Event`]s in order, so the upload's event rules hold as on native targets.

use std::time::Duration;

use js_sys::Uint8Array;
use tokio::sync::mpsc;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Blob, ProgressEvent, XmlHttpRequest, XmlHttpRequestUpload};

use crate::backend::Response;
use crate::{ErrorKind, Header, UploadError};

/// What a request sends.
pub(crate) enum XhrBody {
    Empty,
    Blob(Blob),
    Bytes(Uint8Array),
}

/// What a request reports while it runs.
pub(crate) enum Event {
    /// Body bytes sent so far.
    Sent(u64),
    /// The response head arrived, with its status.
    Headers(u16, Header),
}

enum Signal {
    Sent(u64),
    Headers,
    /// Response bytes are arriving.
    Receiving,
    Loaded,
    Failed,
    TimedOut,
}

fn js_error(what: &str, e: &JsValue) -> UploadError {
    UploadError::new(ErrorKind::Internal, format!("{what}: {e:?}"))
}

/// An open request and its callbacks; dropped before the end, it aborts the request.
struct Open {
    xhr: XmlHttpRequest,
    upload: XmlHttpRequestUpload,
    finished: bool,
    _callbacks: Vec<Closure<dyn FnMut()>>,
    _progress: Closure<dyn FnMut(ProgressEvent)>,
}

impl Drop for Open {
    fn drop(&mut self) {
        // The closures go with this value: the browser must not call them afterwards.
        self.upload.set_onprogress(None);
        self.xhr.set_onreadystatechange(None);
        self.xhr.set_onload(None);
        self.xhr.set_onerror(None);
        self.xhr.set_ontimeout(None);
        if !self.finished {
            let _ = self.xhr.abort();
        }
    }
}

/// One request to send.
pub(crate) struct XhrRequest<'a> {
    pub(crate) method: &'a str,
    pub(crate) url: &'a str,
    pub(crate) headers: &'a [(&'a str, &'a str)],
    pub(crate) body: XhrBody,
    /// Bounds the whole request (the XHR's own timeout).
    pub(crate) timeout: Option<Duration>,
    /// Ends a request the browser reports no progress of for this long.
    pub(crate) stall: Option<Duration>,
    pub(crate) with_credentials: bool,
}

/// Sends one request and waits for its whole response.
pub(crate) async fn exchange(
    request: XhrRequest<'_>,
    on_event: &mut dyn FnMut(Event),
) -> Result<Response, UploadError> {
    let XhrRequest {
        method,
        url,
        headers,
        body,
        timeout,
        stall,
        with_credentials,
    } = request;
    let xhr = XmlHttpRequest::new().map_err(|e| js_error("XMLHttpRequest", &e))?;
    xhr.open_with_async(method, url, true)
        .map_err(|e| js_error("XMLHttpRequest.open", &e))?;
    xhr.set_with_credentials(with_credentials);
    for (name, value) in headers {
        // The browser refuses some names (Cookie, Host, ...): say which.
        xhr.set_request_header(name, value).map_err(|_| {
            UploadError::invalid(format!(
                "the browser does not let a page set header {name:?}"
            ))
        })?;
    }
    if let Some(t) = timeout {
        xhr.set_timeout(u32::try_from(t.as_millis()).unwrap_or(u32::MAX).max(1));
    }
    let upload = xhr
        .upload()
        .map_err(|e| js_error("XMLHttpRequest.upload", &e))?;

    let (tx, mut rx) = mpsc::unbounded_channel();
    let signal = |s: fn() -> Signal| {
        let tx = tx.clone();
        Closure::<dyn FnMut()>::new(move || {
            let _ = tx.send(s());
        })
    };
    let progress = {
        let tx = tx.clone();
        Closure::<dyn FnMut(ProgressEvent)>::new(move |e: ProgressEvent| {
            // `loaded` is a byte count below 2^53: exact in an f64.
            let _ = tx.send(Signal::Sent(e.loaded().max(0.0) as u64));
        })
    };
    let state = {
        let tx = tx.clone();
        let xhr = xhr.clone();
        Closure::<dyn FnMut()>::new(move || match xhr.ready_state() {
            XmlHttpRequest::HEADERS_RECEIVED => {
                let _ = tx.send(Signal::Headers);
            }
            XmlHttpRequest::LOADING => {
                let _ = tx.send(Signal::Receiving);
            }
            _ => {}
        })
    };
    let loaded = signal(|| Signal::Loaded);
    let failed = signal(|| Signal::Failed);
    let timed_out = signal(|| Signal::TimedOut);
    upload.set_onprogress(Some(progress.as_ref().unchecked_ref()));
    xhr.set_onreadystatechange(Some(state.as_ref().unchecked_ref()));
    xhr.set_onload(Some(loaded.as_ref().unchecked_ref()));
    xhr.set_onerror(Some(failed.as_ref().unchecked_ref()));
    xhr.set_ontimeout(Some(timed_out.as_ref().unchecked_ref()));
    let mut open = Open {
        xhr: xhr.clone(),
        upload,
        finished: false,
        _callbacks: vec![state, loaded, failed, timed_out],
        _progress: progress,
    };

    let sent = match &body {
        XhrBody::Empty => xhr.send(),
        XhrBody::Blob(b) => xhr.send_with_opt_blob(Some(b)),
        XhrBody::Bytes(b) => xhr.send_with_opt_buffer_source(Some(b)),
    };
    sent.map_err(|e| js_error("XMLHttpRequest.send", &e))?;
    let mut head_seen = false;
    loop {
        let next = match stall {
            Some(limit) => tokio::select! {
                next = rx.recv() => next,
                () = super::clock::sleep(limit) => {
                    // Dropping `open` on return aborts the request.
                    return Err(UploadError::new(
                        ErrorKind::Timeout,
                        format!("{method} {url} made no progress for {limit:?}"),
                    ));
                }
            },
            None => rx.recv().await,
        };
        match next {
            Some(Signal::Sent(n)) => on_event(Event::Sent(n)),
            Some(Signal::Receiving) => {}
            Some(Signal::Headers) => {
                head_seen = true;
                on_event(Event::Headers(
                    xhr.status().unwrap_or(0),
                    response_headers(&xhr),
                ));
            }
            Some(Signal::Loaded) => {
                open.finished = true;
                let header = response_headers(&xhr);
                if !head_seen {
                    on_event(Event::Headers(xhr.status().unwrap_or(0), header.clone()));
                }
                return Ok(Response {
                    status: xhr.status().unwrap_or(0),
                    header,
                    data: xhr.response_text().ok().flatten().unwrap_or_default(),
                });
            }
            Some(Signal::Failed) | None => {
                open.finished = true;
                return Err(UploadError::new(
                    ErrorKind::Connect,
                    format!(
                        "{method} {url} failed: the network, or the server did not allow this page's origin (CORS)"
                    ),
                ));
            }
            Some(Signal::TimedOut) => {
                open.finished = true;
                return Err(UploadError::new(
                    ErrorKind::Timeout,
                    format!(
                        "the upload did not complete within {:?}",
                        timeout.unwrap_or_default()
                    ),
                ));
            }
        }
    }
}

/// `getAllResponseHeaders()` as a header map: names lower-case, repeated names joined by ", ".
fn response_headers(xhr: &XmlHttpRequest) -> Header {
    let mut header = Header::new();
    let text = xhr.get_all_response_headers().unwrap_or_default();
    for line in text.split("\r\n") {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        header
            .entry(name.trim().to_ascii_lowercase())
            .and_modify(|v: &mut String| {
                v.push_str(", ");
                v.push_str(value);
            })
            .or_insert_with(|| value.to_owned());
    }
    header
}
