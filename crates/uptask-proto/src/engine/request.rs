//! Requests a machine asks for and the responses it is given.

use std::collections::BTreeMap;

use bytes::Bytes;
use url::Url;

/// Response headers by lower-case name (repeated headers joined with `, `).
pub type Header = BTreeMap<String, String>;

/// Names one action of a machine, so its answer finds its way back.
///
/// ```
/// use uptask_proto::engine::RequestId;
/// assert_ne!(RequestId(1), RequestId(2));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

/// A request: method, URL, the protocol's own headers (the runner adds the user's), and a body
/// described, never held, unless it is bytes already read from a stream.
///
/// ```
/// use uptask_proto::engine::{Body, Request};
/// let r = Request::new("HEAD", "http://h/files/1".parse().unwrap());
/// assert_eq!(r.body, Body::Empty);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The HTTP method.
    pub method: &'static str,
    /// Where it goes.
    pub url: Url,
    /// The protocol's headers, in order.
    pub headers: Vec<(&'static str, String)>,
    /// What it carries.
    pub body: Body,
    /// Whether the transport adds the user's headers (and, in a browser, the page's
    /// credentials). Requests to a store through presigned URLs go without them: the user's
    /// headers (a token, say) and cookies are for the signer, and a bucket's CORS rules
    /// usually allow any origin, which a browser refuses for a call with credentials.
    pub user_headers: bool,
}

impl Request {
    /// A request with no headers and no body.
    pub fn new(method: &'static str, url: Url) -> Self {
        Self {
            method,
            url,
            headers: Vec::new(),
            body: Body::Empty,
            user_headers: true,
        }
    }

    /// A header value by name, any case.
    ///
    /// ```
    /// use uptask_proto::engine::Request;
    /// let mut r = Request::new("PATCH", "http://h/f".parse().unwrap());
    /// r.headers.push(("Upload-Offset", "0".into()));
    /// assert_eq!(r.header("upload-offset"), Some("0"));
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The body of a request.
///
/// ```
/// use uptask_proto::engine::Body;
/// assert_eq!(Body::Range { offset: 10, len: 5 }.len(), 5);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Body {
    /// Nothing.
    Empty,
    /// `len` bytes of the source from `offset`.
    Range {
        /// Where the bytes start in the source.
        offset: u64,
        /// How many.
        len: u64,
    },
    /// Bytes held in memory (read once from a stream, or a small document such as XML).
    Bytes(Bytes),
    /// The planned `multipart/form-data` body (its framing and files), `len` bytes.
    Multipart {
        /// The whole encoded length.
        len: u64,
    },
}

impl Body {
    /// The body's length in bytes.
    pub fn len(&self) -> u64 {
        match self {
            Body::Empty => 0,
            Body::Range { len, .. } | Body::Multipart { len } => *len,
            Body::Bytes(b) => b.len() as u64,
        }
    }

    /// Whether the body has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A complete response.
///
/// ```
/// use uptask_proto::engine::Response;
/// let r = Response::new(204).with_header("Upload-Offset", "5");
/// assert_eq!(r.get("upload-offset"), Some("5"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The headers, by lower-case name.
    pub header: Header,
    /// The body as text.
    pub data: String,
}

impl Response {
    /// A response with `status`, no headers and no body.
    pub fn new(status: u16) -> Self {
        Self {
            status,
            ..Self::default()
        }
    }

    /// The same response with one more header (its name lower-cased).
    #[must_use]
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.header
            .insert(name.to_ascii_lowercase(), value.to_owned());
        self
    }

    /// The same response with `data` as its body.
    #[must_use]
    pub fn with_data(mut self, data: impl Into<String>) -> Self {
        self.data = data.into();
        self
    }

    /// A header value by its lower-case name.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.header.get(name).map(String::as_str)
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}
