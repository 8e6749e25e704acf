//! Request bodies refused before they were read.
//!
//! Closing a connection with unread data makes the kernel send a reset, which can destroy the
//! answer before the client reads it: a refused body is read and discarded for a short while
//! instead, so the client sees why (413, 423, 409, ...).

use axum::body::Body;
use futures_util::StreamExt;

/// How long to keep reading a refused body.
const DRAIN_FOR: std::time::Duration = std::time::Duration::from_secs(2);

/// Reads and discards `body` in the background for up to [`DRAIN_FOR`].
pub(crate) fn drain_in_background(body: Body) {
    tokio::spawn(async move {
        let mut stream = body.into_data_stream();
        let _ = tokio::time::timeout(DRAIN_FOR, async {
            while let Some(Ok(_)) = stream.next().await {}
        })
        .await;
    });
}

/// A body that is drained if it is dropped before being [`take`](Self::take)n.
#[derive(Debug)]
pub(crate) struct Unread(Option<Body>);

impl Unread {
    pub(crate) fn new(body: Body) -> Self {
        Self(Some(body))
    }

    /// The body, to be read by the caller.
    pub(crate) fn take(mut self) -> Body {
        self.0.take().unwrap_or_else(Body::empty)
    }
}

impl Drop for Unread {
    fn drop(&mut self) {
        if let Some(body) = self.0.take() {
            drain_in_background(body);
        }
    }
}
