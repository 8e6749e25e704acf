//! The multipart POST in the browser: the body assembled as one `Blob` from the planned
//! framing and the source (bytes, or the page's `Blob`/`File` itself), sent by one
//! `XMLHttpRequest`.

use js_sys::{Array, Uint8Array};
use uptask_proto::multipart::{MultipartBody, Segment};
use web_sys::{Blob, BlobPropertyBag};

use super::xhr::{self, Event, XhrBody, XhrRequest};
use crate::prepare::{Plan, PlannedSource};
use crate::task::{Control, EventSink};
use crate::{ErrorKind, UploadError, UploadSuccess};

/// Runs the POST to its outcome; an abort drops the request, which aborts it.
pub(crate) async fn run(
    plan: &Plan,
    body: &MultipartBody,
    sink: &mut EventSink,
    control: &Control,
) -> Result<UploadSuccess, UploadError> {
    let blob = body_blob(plan, body)?;
    let content_type = body.content_type();
    let mut all: Vec<(&str, &str)> = plan
        .header
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    all.push(("Content-Type", &content_type));
    let total = body.len();
    let now = super::clock::now;
    // What the page can time: its request and the response (for the result's profile).
    let request_start = now();
    let mut request_end = None;
    let mut response_start = None;
    let response = {
        let mut on_event = |event| match event {
            Event::Sent(n) => {
                if n >= total {
                    request_end.get_or_insert_with(now);
                }
                sink.progress(n.min(total));
            }
            Event::Headers(h) => {
                let at = now();
                response_start = Some(at);
                // An early answer ends the request too.
                request_end.get_or_insert(at);
                sink.headers(&h);
            }
        };
        let request = xhr::exchange(
            XhrRequest {
                method: "POST",
                url: plan.url.as_str(),
                headers: &all,
                body: XhrBody::Blob(blob),
                timeout: plan.timeout,
                stall: plan.stall,
                with_credentials: plan.with_credentials,
            },
            &mut on_event,
        );
        tokio::select! {
            biased;
            () = control.cancel.cancelled() => return Err(UploadError::aborted()),
            response = request => response?,
        }
    };
    let response_end = now();
    // Some browsers send no progress event for the last bytes before the load.
    sink.progress(total);
    let response_start = response_start.unwrap_or(response_end);
    let mut success = UploadSuccess::new(response.status, response.header, response.data);
    success.profile = Some(crate::Profile::of_exchange(
        plan.invoked,
        sink.queued(),
        (request_start, request_end.unwrap_or(response_start)),
        (response_start, response_end),
        total,
    ));
    Ok(success)
}

/// The body as one `Blob`: framing bytes and the source, in wire order.
fn body_blob(plan: &Plan, body: &MultipartBody) -> Result<Blob, UploadError> {
    let parts = Array::new();
    for segment in body.segments() {
        match segment {
            Segment::Bytes(b) => {
                parts.push(&Uint8Array::from(b.as_slice()));
            }
            Segment::File { index, .. } => match plan.source_at(*index)? {
                PlannedSource::Bytes(b) => {
                    parts.push(&Uint8Array::from(&b[..]));
                }
                // The page's own object: the browser reads it as it sends, no copy here.
                PlannedSource::Blob(b) => {
                    parts.push(b.js());
                }
                other => return Err(super::not_in_browser(other)),
            },
            _ => {
                return Err(UploadError::new(
                    ErrorKind::Internal,
                    "unknown body segment",
                ));
            }
        }
    }
    let options = BlobPropertyBag::new();
    options.set_type(&body.content_type());
    Blob::new_with_u8_array_sequence_and_options(&parts, &options)
        .map_err(|e| UploadError::new(ErrorKind::Internal, format!("Blob: {e:?}")))
}
