//! An answer from the bucket, and what the server reads in it: headers, the store's dates,
//! the document it holds, or its refusal as the client's error.

use std::time::{Duration, UNIX_EPOCH};

use axum::http::{HeaderMap, StatusCode};
use bytes::Bytes;

use crate::error::ApiError;

/// An answer from the bucket, its body read.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Reply {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// A time header (`Date`, `Last-Modified`), in Unix seconds.
    pub(crate) fn time(&self, name: &str) -> Option<u64> {
        let time = httpdate::parse_http_date(self.header(name)?).ok()?;
        Some(time.duration_since(UNIX_EPOCH).ok()?.as_secs())
    }

    /// The store's `Date`, in Unix seconds.
    pub(crate) fn date(&self) -> Option<u64> {
        self.time("date")
    }

    /// How long ago the object answered for was last written, on the store's own clock
    /// (`None` without both dates: then nothing can be judged).
    pub(crate) fn age(&self) -> Option<Duration> {
        let (now, written) = (self.date()?, self.time("last-modified")?);
        Some(Duration::from_secs(now.saturating_sub(written)))
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The document a successful answer holds, as `parse` reads it; otherwise the refusal.
    pub(crate) fn parsed<T>(
        &self,
        parse: impl FnOnce(&str) -> Option<T>,
        what: &str,
    ) -> Result<T, ApiError> {
        self.status
            .is_success()
            .then(|| parse(&self.text()))
            .flatten()
            .ok_or_else(|| self.refused(what))
    }

    /// An answer that is not what the call wanted, as the client's error: 502 with the
    /// store's own code and message.
    pub(crate) fn refused(&self, what: &str) -> ApiError {
        let text = self.text();
        let detail = uptask_proto::s3::error_of(&text)
            .map(|(code, message)| format!("{code}: {message}"))
            .unwrap_or_else(|| text.chars().take(200).collect());
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            format!("the store refused to {what}: {} {detail}", self.status),
        )
    }
}
