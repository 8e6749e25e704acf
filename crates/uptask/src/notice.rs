//! Notices: what a resumable upload tells about itself besides progress and headers.

/// Something a resumable upload did: created or resumed its upload on the server, or is about
/// to retry. Multipart uploads send none.
///
/// Serializes as the CLI's NDJSON events (`{"event":"resumed","offset":N}` and so on).
///
/// ```
/// use uptask::Notice;
/// let n = Notice::Resumed { offset: 42 };
/// assert_eq!(serde_json::to_string(&n).unwrap(), r#"{"event":"resumed","offset":42}"#);
/// let r = Notice::Retrying { attempt: 1, delay_ms: 0, error: "connection reset".into() };
/// assert_eq!(
///     serde_json::to_string(&r).unwrap(),
///     r#"{"event":"retrying","attempt":1,"delayMs":0,"error":"connection reset"}"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(
    tag = "event",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
#[non_exhaustive]
pub enum Notice {
    /// The server created the upload at this URL (keep it to resume later).
    UploadCreated {
        /// The upload URL.
        url: String,
    },
    /// The upload continues an earlier one, from the server's offset. Progress may step back to
    /// this offset; it is the only time progress goes down.
    Resumed {
        /// Bytes the server already had.
        offset: u64,
    },
    /// The upload left its [`Client`](crate::Client)'s queue and starts now, after waiting
    /// `waited_ms` for a free slot.
    Dequeued {
        /// Milliseconds spent in the queue.
        waited_ms: u64,
    },
    /// A request failed in a way worth retrying; the next try starts after `delay_ms`.
    Retrying {
        /// 1 for the first retry since the last progress.
        attempt: u32,
        /// The wait before the retry, in milliseconds.
        delay_ms: u64,
        /// What went wrong.
        error: String,
    },
}
