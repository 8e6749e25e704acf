use crate::ProtoError;
use crate::header::{validate_name, validate_value};

/// A request line and headers, encoded exactly as written to the wire.
///
/// Header names keep the caller's spelling; values are validated on insertion so a head that
/// exists can always be written safely.
///
/// ```
/// use uptask_proto::http1::RequestHead;
/// let mut head = RequestHead::new("POST", "/upload?x=1");
/// head.header("Host", "example.com")?;
/// head.header("Content-Length", "3")?;
/// assert_eq!(
///     head.encode(),
///     b"POST /upload?x=1 HTTP/1.1\r\nHost: example.com\r\nContent-Length: 3\r\n\r\n"
/// );
/// assert!(head.header("X-Evil", "a\r\nInjected: 1").is_err());
/// # Ok::<(), uptask_proto::ProtoError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
}

impl RequestHead {
    /// A head for `method` on `target` (origin form: path and query).
    #[must_use]
    pub fn new(method: &str, target: &str) -> Self {
        Self {
            method: method.to_owned(),
            target: target.to_owned(),
            headers: Vec::new(),
        }
    }

    /// Appends a header after validating it.
    ///
    /// # Errors
    /// [`ProtoError::HeaderName`] or [`ProtoError::HeaderValue`] for an unsafe header.
    pub fn header(&mut self, name: &str, value: &str) -> Result<&mut Self, ProtoError> {
        validate_name(name)?;
        validate_value(name, value)?;
        self.headers.push((name.to_owned(), value.to_owned()));
        Ok(self)
    }

    /// Whether a header of that name (any case) is present.
    #[must_use]
    pub fn has_header(&self, name: &str) -> bool {
        self.headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    }

    /// Removes every header of that name (any case).
    pub fn remove_header(&mut self, name: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// The bytes of the head, ending with the blank line.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.headers.len() * 32);
        out.extend_from_slice(self.method.as_bytes());
        out.push(b' ');
        out.extend_from_slice(self.target.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\n");
        for (n, v) in &self.headers {
            out.extend_from_slice(n.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(v.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out
    }
}
