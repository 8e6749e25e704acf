//! The one error type of an upload.

use std::error::Error as StdError;
use std::fmt;

/// The broad class of an [`UploadError`], for deciding what to do about it.
///
/// ```
/// use uptask::ErrorKind;
/// let kind = ErrorKind::Timeout;
/// assert!(matches!(kind, ErrorKind::Timeout));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// `abort()` was called.
    Aborted,
    /// The whole-request timeout or the stall timeout ran out.
    Timeout,
    /// The server could not be reached (name resolution, refused, unreachable).
    Connect,
    /// The TLS handshake failed (untrusted certificate, wrong host name, ...).
    Tls,
    /// Reading the source or using the connection failed mid-way.
    Io,
    /// The options were rejected before any byte went out.
    InvalidInput,
    /// The server answered something that is not valid HTTP, or broke the framing.
    Protocol,
    /// Something inside uptask failed that should not (a runtime shut down under the task).
    Internal,
}

/// Why an upload failed.
///
/// `Display` describes this layer only; walk [`std::error::Error::source`] for the cause.
/// [`UploadError::err_msg`] gives the WeChat-style message (`uploadFile:fail ...`).
///
/// ```
/// use uptask::{ErrorKind, UploadError};
/// let err = UploadError::new(ErrorKind::InvalidInput, "file not found: a.txt");
/// assert_eq!(err.err_msg(), "uploadFile:fail file not found: a.txt");
/// assert_eq!(UploadError::new(ErrorKind::Aborted, "x").err_msg(), "uploadFile:fail abort");
/// ```
pub struct UploadError {
    kind: ErrorKind,
    message: String,
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

impl UploadError {
    /// An error of `kind` with a message for people.
    ///
    /// ```
    /// let err = uptask::UploadError::new(uptask::ErrorKind::Protocol, "bad response");
    /// assert_eq!(err.to_string(), "bad response");
    /// ```
    #[must_use]
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// Attaches the underlying cause.
    ///
    /// ```
    /// let io = std::io::Error::other("disk on fire");
    /// let err = uptask::UploadError::new(uptask::ErrorKind::Io, "cannot read a.bin").with_source(io);
    /// assert_eq!(err.detail(), "cannot read a.bin: disk on fire");
    /// ```
    #[must_use]
    pub fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    pub(crate) fn aborted() -> Self {
        Self::new(ErrorKind::Aborted, "abort")
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }

    /// The class of the error.
    ///
    /// ```
    /// let err = uptask::UploadError::new(uptask::ErrorKind::Connect, "refused");
    /// assert_eq!(err.kind(), uptask::ErrorKind::Connect);
    /// ```
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Whether the upload ended because `abort()` was called.
    ///
    /// ```
    /// assert!(uptask::UploadError::new(uptask::ErrorKind::Aborted, "abort").is_aborted());
    /// ```
    #[must_use]
    pub fn is_aborted(&self) -> bool {
        self.kind == ErrorKind::Aborted
    }

    /// Whether a timeout ended the upload.
    ///
    /// ```
    /// assert!(uptask::UploadError::new(uptask::ErrorKind::Timeout, "60s").is_timeout());
    /// ```
    #[must_use]
    pub fn is_timeout(&self) -> bool {
        self.kind == ErrorKind::Timeout
    }

    /// The message without the `uploadFile:fail` prefix.
    ///
    /// ```
    /// let err = uptask::UploadError::new(uptask::ErrorKind::Io, "lost");
    /// assert_eq!(err.message(), "lost");
    /// ```
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The WeChat-style `errMsg`: `uploadFile:fail abort`, `uploadFile:fail timeout`, or
    /// `uploadFile:fail <detail>`, where the detail includes the causes.
    ///
    /// ```
    /// let err = uptask::UploadError::new(uptask::ErrorKind::Timeout, "no response within 60s");
    /// assert_eq!(err.err_msg(), "uploadFile:fail timeout");
    /// ```
    #[must_use]
    pub fn err_msg(&self) -> String {
        match self.kind {
            ErrorKind::Aborted => "uploadFile:fail abort".to_owned(),
            ErrorKind::Timeout => "uploadFile:fail timeout".to_owned(),
            _ => format!("uploadFile:fail {}", self.detail()),
        }
    }

    /// The message followed by every cause in the chain, separated by `: `.
    ///
    /// ```
    /// let err = uptask::UploadError::new(uptask::ErrorKind::Io, "upload failed");
    /// assert_eq!(err.detail(), "upload failed");
    /// ```
    #[must_use]
    pub fn detail(&self) -> String {
        let mut out = self.message.clone();
        let mut next = self
            .source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static));
        while let Some(err) = next {
            let text = err.to_string();
            if !out.contains(&text) {
                out.push_str(": ");
                out.push_str(&text);
            }
            next = err.source();
        }
        out
    }
}

impl fmt::Display for UploadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for UploadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UploadError")
            .field("kind", &self.kind)
            .field("message", &self.message)
            .field("source", &self.source)
            .finish()
    }
}

impl StdError for UploadError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

impl serde::Serialize for UploadError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("UploadError", 1)?;
        s.serialize_field("errMsg", &self.err_msg())?;
        s.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn err_msg_follows_wechat_form() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
        let err =
            UploadError::new(ErrorKind::Io, "connection lost after 10 of 20 bytes").with_source(io);
        assert_eq!(err.to_string(), "connection lost after 10 of 20 bytes");
        assert_eq!(
            err.err_msg(),
            "uploadFile:fail connection lost after 10 of 20 bytes: reset by peer"
        );
        assert_eq!(
            UploadError::new(ErrorKind::Timeout, "after 60s").err_msg(),
            "uploadFile:fail timeout"
        );
        let json = serde_json::to_string(&UploadError::aborted()).unwrap();
        assert_eq!(json, r#"{"errMsg":"uploadFile:fail abort"}"#);
    }
}
