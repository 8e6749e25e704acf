//! The multipart body in the browser: one `Blob` from the planned framing and the sources
//! (bytes, or the page's `Blob`/`File` itself, which the browser reads as it sends).

use js_sys::{Array, Uint8Array};
use uptask_proto::multipart::Segment;
use web_sys::{Blob, BlobPropertyBag};

use crate::backend::{PlannedSource, Setup};
use crate::{ErrorKind, UploadError};

/// The body as one `Blob`: framing bytes and the source, in wire order.
pub(super) fn body_blob(setup: Setup<'_>) -> Result<Blob, UploadError> {
    let body = setup.multipart()?;
    let parts = Array::new();
    for segment in body.segments() {
        match segment {
            Segment::Bytes(b) => {
                parts.push(&Uint8Array::from(b.as_slice()));
            }
            Segment::File { index, .. } => match setup.source_at(*index)? {
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
