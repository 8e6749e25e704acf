//! Errors as HTTP answers: each carries its status and a JSON body `{"error": "..."}`.

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

#[derive(Debug)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    /// A storage failure: 507 when the disk is full, 500 otherwise.
    pub(crate) fn storage(e: &std::io::Error) -> Self {
        const ENOSPC: i32 = 28;
        if e.raw_os_error() == Some(ENOSPC) || e.kind() == std::io::ErrorKind::StorageFull {
            Self::new(
                StatusCode::INSUFFICIENT_STORAGE,
                "the server's disk is full",
            )
        } else {
            tracing::error!(error = %e, "storage failed");
            Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the server could not store the file",
            )
        }
    }
}

impl ApiError {
    /// Logs a failure that is the server's or its store's (5xx): the client's own mistakes
    /// are only in the access log.
    pub(crate) fn log(&self) {
        if self.status.is_server_error() {
            tracing::error!(status = %self.status, "{}", self.message);
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.log();
        let mut res = (
            self.status,
            Json(serde_json::json!({ "error": self.message })),
        )
            .into_response();
        if self.status == StatusCode::PAYLOAD_TOO_LARGE {
            res.headers_mut().insert(
                header::CONNECTION,
                header::HeaderValue::from_static("close"),
            );
        }
        res
    }
}
