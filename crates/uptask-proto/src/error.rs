//! The error type of the protocol core.

/// What went wrong while encoding a request or decoding a response.
///
/// `Display` describes this layer only; the variants carry the offending input so callers can
/// name it in their own messages.
///
/// ```
/// use uptask_proto::header::validate_name;
/// let err = validate_name("bad name").unwrap_err();
/// assert!(err.to_string().contains("bad name"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtoError {
    /// A header name is empty or has a byte outside the HTTP token alphabet.
    #[error("invalid header name {0:?}: only letters, digits and !#$%&'*+-.^_`|~ are allowed")]
    HeaderName(String),
    /// A header value holds a control character (CR, LF, NUL, ...).
    #[error(
        "invalid value for header {name:?}: control characters (CR, LF, NUL, ...) are not allowed"
    )]
    HeaderValue {
        /// The header whose value was rejected.
        name: String,
    },
    /// A multipart boundary is empty, too long or holds a character RFC 2046 forbids.
    #[error("invalid multipart boundary {0:?}")]
    Boundary(String),
    /// The server's response head could not be parsed.
    #[error("malformed response head: {0}")]
    ResponseHead(String),
    /// The response head grew past the size limit without ending.
    #[error("response head larger than {0} bytes")]
    ResponseHeadTooLarge(usize),
    /// A `Content-Length` in the response is not a number, or several disagree.
    #[error("invalid Content-Length in response: {0:?}")]
    ContentLength(String),
    /// The chunked response body is malformed.
    #[error("malformed chunked response body: {0}")]
    Chunked(&'static str),
    /// A tus header value is missing or malformed.
    #[error("invalid tus header {name}: {value:?}")]
    TusHeader {
        /// The header, in lower case.
        name: String,
        /// The value received.
        value: String,
    },
    /// `Upload-Metadata` cannot be encoded or decoded.
    #[error("invalid tus Upload-Metadata: {0}")]
    TusMetadata(String),
}
