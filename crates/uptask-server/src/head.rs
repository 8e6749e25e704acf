//! The size limit on request heads: a head over [`MAX_HEAD`] is answered 431 before any route
//! sees it, as nginx and tusd refuse oversized heads, so no header can make a route buffer or
//! log tens of kilobytes.

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// The largest request head taken: request line and header lines, as sent.
pub const MAX_HEAD: usize = 16 * 1024;

pub(crate) async fn limit(req: Request, next: Next) -> Response {
    let size = head_size(&req);
    if size > MAX_HEAD {
        tracing::debug!(size, "request head too large");
        return ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!("the request head is {size} bytes; at most {MAX_HEAD} are taken"),
        )
        .into_response();
    }
    next.run(req).await
}

/// The head's length on the wire: `METHOD URI HTTP/1.1\r\n`, each `name: value\r\n`, and the
/// blank line.
fn head_size(req: &Request) -> usize {
    let line = req.method().as_str().len() + req.uri().to_string().len() + " HTTP/1.1\r\n ".len();
    let fields: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + ": \r\n".len())
        .sum();
    line + fields + "\r\n".len()
}
