//! What a tus client may believe of a server's answer: offsets within what it had and what was
//! sent, locations that are http(s) URLs, and which statuses are worth another try.

use url::Url;

use super::{parse_offset, should_retry};
use crate::engine::{Failure, Response, Stop};

pub(super) fn protocol<E>(message: impl Into<String>) -> Stop<E> {
    Stop::Fatal(Failure::Protocol(message.into()))
}

/// Statuses meaning the upload does not exist (any more) on the server.
pub(super) fn is_gone(status: u16) -> bool {
    matches!(status, 403 | 404 | 410)
}

/// A non-2xx answer: retried when the status is worth it, the outcome otherwise.
pub(super) fn status_stop<E>(response: Response) -> Stop<E> {
    if should_retry(response.status) {
        Stop::Retry(Failure::Protocol(format!(
            "the server answered {}",
            response.status
        )))
    } else {
        Stop::Answered(response)
    }
}

/// An `Upload-Offset` the server may truthfully send: between what it had and what was sent.
pub(super) fn checked_offset<E>(value: Option<&str>, low: u64, high: u64) -> Result<u64, Stop<E>> {
    let offset = parse_offset("upload-offset", value).map_err(|e| protocol(e.to_string()))?;
    if offset < low || offset > high {
        return Err(protocol(format!(
            "the server's Upload-Offset {offset} is outside {low}..={high}: it cannot be trusted"
        )));
    }
    Ok(offset)
}

/// The offset a PATCH of `len` bytes at `start` brought the upload to, from its answer. An
/// answer that took none of a non-empty body is worth a retry; one outside the range, never.
pub(super) fn acknowledged<E>(response: &Response, start: u64, len: u64) -> Result<u64, Stop<E>> {
    if !response.is_success() {
        return Err(status_stop(response.clone()));
    }
    let offset = checked_offset(response.get("upload-offset"), start, start + len)?;
    if offset == start && len > 0 {
        return Err(Stop::Retry(Failure::Protocol(format!(
            "the server accepted none of the {len} bytes sent at offset {start}"
        ))));
    }
    Ok(offset)
}

/// The upload URL a creation answered with, resolved against the endpoint.
pub(super) fn location_of<E>(endpoint: &Url, response: &Response) -> Result<Url, Stop<E>> {
    if !response.is_success() {
        return Err(status_stop(response.clone()));
    }
    let location = response.get("location").ok_or_else(|| {
        protocol(format!(
            "the server created the upload ({}) without a Location header",
            response.status
        ))
    })?;
    let url = endpoint
        .join(location.trim())
        .map_err(|_| protocol(format!("the server's Location {location:?} is not a URL")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(protocol(format!(
            "the server's upload URL {url} is not http or https"
        )));
    }
    Ok(url)
}
