//! What crosses the boundary: the call's options, the events, the outcome and the error, as
//! records each language sees as its own plain types.

use std::collections::HashMap;

/// One header or form field, in the order given (a name may repeat).
///
/// ```
/// let p = uptask_ffi::Pair { name: "album".into(), value: "trip".into() };
/// # let _ = p;
/// ```
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Pair {
    /// The header's or field's name.
    pub name: String,
    /// Its value.
    pub value: String,
}

/// The options of `upload_file`: the seed's `url`, `filePath`, `name`, `header`, `formData`,
/// `timeout`, and the protocol.
///
/// ```
/// let o = uptask_ffi::UploadRequest::new("http://127.0.0.1:8080/upload".into(), "a.jpg".into(), "file".into());
/// assert_eq!(o.protocol, "multipart");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UploadRequest {
    /// Where to send the file: a multipart endpoint, a tus creation URL, or the signer's base
    /// for `protocol` "s3".
    pub url: String,
    /// The file on disk.
    pub file_path: String,
    /// The file's form field.
    pub name: String,
    /// Request headers (for "s3": sent to the signer only).
    #[uniffi(default = [])]
    pub header: Vec<Pair>,
    /// Form fields (tus metadata; for "s3", the signer's metadata).
    #[uniffi(default = [])]
    pub form_data: Vec<Pair>,
    /// The file name the server sees; default the path's last component.
    #[uniffi(default = None)]
    pub file_name: Option<String>,
    /// Milliseconds for the whole upload; default 60000.
    #[uniffi(default = None)]
    pub timeout_ms: Option<u64>,
    /// "multipart" (one POST), "tus" (resumable) or "s3" (straight to a bucket through the
    /// signer at `url`).
    #[uniffi(default = "multipart")]
    pub protocol: String,
    /// For "tus" and "s3": a directory where the upload is remembered, so that a run killed
    /// mid-way (the app, the process) continues where the server's bytes end.
    #[uniffi(default = None)]
    pub resume_store: Option<String>,
    /// For "s3": bytes per part (at least 5 MiB; default 8 MiB); smaller files go in one PUT.
    #[uniffi(default = None)]
    pub part_size: Option<u64>,
    /// For "s3": parts sent at once (default 4).
    #[uniffi(default = None)]
    pub concurrency: Option<u32>,
}

impl UploadRequest {
    /// A multipart upload of `file_path` to `url` under the form field `name`.
    #[must_use]
    pub fn new(url: String, file_path: String, name: String) -> Self {
        Self {
            url,
            file_path,
            name,
            header: Vec::new(),
            form_data: Vec::new(),
            file_name: None,
            timeout_ms: None,
            protocol: "multipart".to_owned(),
            resume_store: None,
            part_size: None,
            concurrency: None,
        }
    }
}

/// What progress listeners get.
///
/// ```
/// let p = uptask_ffi::Progress { progress: 50, total_bytes_sent: 5, total_bytes_expected_to_send: 10, speed: None, eta: None };
/// # let _ = p;
/// ```
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Progress {
    /// Whole percent sent, 0 to 100.
    pub progress: u8,
    /// Body bytes sent so far.
    pub total_bytes_sent: u64,
    /// The whole body's length.
    pub total_bytes_expected_to_send: u64,
    /// Bytes per second over the last few seconds, once measured.
    pub speed: Option<u64>,
    /// Seconds left at that speed, once known.
    pub eta: Option<u64>,
}

impl From<&uptask::ProgressUpdate> for Progress {
    fn from(p: &uptask::ProgressUpdate) -> Self {
        Self {
            progress: p.progress,
            total_bytes_sent: p.total_bytes_sent,
            total_bytes_expected_to_send: p.total_bytes_expected_to_send,
            speed: p.speed,
            eta: p.eta,
        }
    }
}

/// A notice about the upload's course: `kind` is "uploadCreated" (with `url`), "resumed"
/// (with `offset`), "dequeued" or "retrying" (with `attempt`, `delay_ms`, `message`).
///
/// ```
/// let n = uptask_ffi::UploadNotice { kind: "resumed".into(), url: None, offset: Some(5), attempt: None, delay_ms: None, message: None };
/// # let _ = n;
/// ```
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UploadNotice {
    /// What happened.
    pub kind: String,
    /// Where the server created the upload.
    pub url: Option<String>,
    /// The bytes the server already had, for a resumed upload.
    pub offset: Option<u64>,
    /// Which retry this is.
    pub attempt: Option<u32>,
    /// The wait before the retry, or in the queue.
    pub delay_ms: Option<u64>,
    /// What went wrong, for a retry.
    pub message: Option<String>,
}

impl From<&uptask::Notice> for UploadNotice {
    fn from(n: &uptask::Notice) -> Self {
        let mut out = Self {
            kind: String::new(),
            url: None,
            offset: None,
            attempt: None,
            delay_ms: None,
            message: None,
        };
        match n {
            uptask::Notice::UploadCreated { url } => {
                out.kind = "uploadCreated".into();
                out.url = Some(url.clone());
            }
            uptask::Notice::Resumed { offset } => {
                out.kind = "resumed".into();
                out.offset = Some(*offset);
            }
            uptask::Notice::Dequeued { waited_ms } => {
                out.kind = "dequeued".into();
                out.delay_ms = Some(*waited_ms);
            }
            uptask::Notice::Retrying {
                attempt,
                delay_ms,
                error,
            } => {
                out.kind = "retrying".into();
                out.attempt = Some(*attempt);
                out.delay_ms = Some(*delay_ms);
                out.message = Some(error.clone());
            }
            _ => out.kind = "other".into(),
        }
        out
    }
}

/// The outcome of an upload the server answered, whatever its status (WeChat's rule).
///
/// ```
/// let s = uptask_ffi::UploadSuccess { err_msg: "uploadFile:ok".into(), status_code: 200, header: Default::default(), data: "{}".into(), upload_url: None };
/// # let _ = s;
/// ```
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UploadSuccess {
    /// "uploadFile:ok".
    pub err_msg: String,
    /// The HTTP status.
    pub status_code: u16,
    /// The response headers, names lower-cased.
    pub header: HashMap<String, String>,
    /// The response body as text.
    pub data: String,
    /// For tus: where the upload lives; for S3: where the object went.
    pub upload_url: Option<String>,
}

impl From<uptask::UploadSuccess> for UploadSuccess {
    fn from(s: uptask::UploadSuccess) -> Self {
        Self {
            err_msg: s.err_msg().to_owned(),
            status_code: s.status_code,
            header: s.header.into_iter().collect(),
            data: s.data,
            upload_url: s.upload_url,
        }
    }
}

/// A failed upload: WeChat's `errMsg` ("uploadFile:fail abort", ...) and what kind of failure
/// it is ("aborted", "timeout", "connect", "tls", "io", "invalidInput", "protocol",
/// "internal").
///
/// ```
/// let e = uptask_ffi::UploadFailure::Failed { err_msg: "uploadFile:fail abort".into(), kind: "aborted".into() };
/// assert_eq!(e.to_string(), "uploadFile:fail abort");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
#[non_exhaustive]
pub enum UploadFailure {
    /// The upload did not complete.
    #[error("{err_msg}")]
    Failed {
        /// "uploadFile:fail ...".
        err_msg: String,
        /// The failure's kind.
        kind: String,
    },
}

impl From<&uptask::UploadError> for UploadFailure {
    fn from(e: &uptask::UploadError) -> Self {
        let kind = match e.kind() {
            uptask::ErrorKind::Aborted => "aborted",
            uptask::ErrorKind::Timeout => "timeout",
            uptask::ErrorKind::Connect => "connect",
            uptask::ErrorKind::Tls => "tls",
            uptask::ErrorKind::Io => "io",
            uptask::ErrorKind::InvalidInput => "invalidInput",
            uptask::ErrorKind::Protocol => "protocol",
            _ => "internal",
        };
        Self::Failed {
            err_msg: e.err_msg(),
            kind: kind.to_owned(),
        }
    }
}

/// Gets each progress update, on uptask's event thread, in order.
#[uniffi::export(with_foreign)]
pub trait ProgressListener: Send + Sync {
    /// One update.
    fn on_progress(&self, update: Progress);
}

/// Gets the response's headers once, before the outcome, on uptask's event thread.
#[uniffi::export(with_foreign)]
pub trait HeadersListener: Send + Sync {
    /// The headers, names lower-cased, repeats joined by ", ".
    fn on_headers(&self, header: HashMap<String, String>);
}

/// Told once that the upload has ended (then `wait` gives its outcome at once): on the thread
/// that saw it end, or on the caller's when it had ended already. The bindings' `await`s are
/// built on it, so no thread of theirs blocks while an upload runs.
#[uniffi::export(with_foreign)]
pub trait SettledListener: Send + Sync {
    /// The upload has ended.
    fn on_settled(&self);
}

/// Gets the upload's notices, on uptask's event thread.
#[uniffi::export(with_foreign)]
pub trait NoticeListener: Send + Sync {
    /// One notice.
    fn on_notice(&self, notice: UploadNotice);
}
