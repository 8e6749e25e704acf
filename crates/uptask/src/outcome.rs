//! What listeners and the awaited task receive.

use std::collections::BTreeMap;

pub use uptask_proto::progress::ProgressUpdate;

/// Response headers: names lower-cased, repeated values joined by `", "`.
///
/// ```
/// let mut header = uptask::Header::new();
/// header.insert("set-cookie".into(), "a=1, b=2".into());
/// ```
pub type Header = BTreeMap<String, String>;

/// The payload of a headers-received event (the seed's `OnHeadersReceivedCallbackResult`).
///
/// ```
/// use uptask::HeadersReceived;
/// let ev = HeadersReceived { header: [("etag".to_owned(), "\"x\"".to_owned())].into() };
/// assert_eq!(serde_json::to_string(&ev).unwrap(), r#"{"header":{"etag":"\"x\""}}"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HeadersReceived {
    /// The response headers.
    pub header: Header,
}

/// A completed upload: the server answered, whatever its status (WeChat semantics: an HTTP error
/// status is a success carrying that status).
///
/// Serializes with the seed's names, including `errMsg: "uploadFile:ok"` (and `uploadUrl` for a
/// tus upload).
///
/// ```
/// use uptask::UploadSuccess;
/// let ok = UploadSuccess::new(201, Default::default(), "{}".into());
/// assert_eq!(
///     serde_json::to_string(&ok).unwrap(),
///     r#"{"data":"{}","statusCode":201,"header":{},"errMsg":"uploadFile:ok"}"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct UploadSuccess {
    /// The response body as text (lossy UTF-8), never parsed.
    pub data: String,
    /// The HTTP status code.
    pub status_code: u16,
    /// The response headers.
    pub header: Header,
    /// For a resumable (tus) upload, where it lives on the server.
    pub upload_url: Option<String>,
    /// When each stage of the request happened (WeChat's `profile`), where measured.
    pub profile: Option<crate::Profile>,
}

impl UploadSuccess {
    /// A success value (mostly useful in tests of code that consumes uptask).
    #[must_use]
    pub fn new(status_code: u16, header: Header, data: String) -> Self {
        Self {
            data,
            status_code,
            header,
            upload_url: None,
            profile: None,
        }
    }

    /// Always `uploadFile:ok`.
    ///
    /// ```
    /// assert_eq!(uptask::UploadSuccess::new(200, Default::default(), String::new()).err_msg(), "uploadFile:ok");
    /// ```
    #[must_use]
    pub fn err_msg(&self) -> &'static str {
        "uploadFile:ok"
    }
}

impl serde::Serialize for UploadSuccess {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let fields =
            4 + usize::from(self.upload_url.is_some()) + usize::from(self.profile.is_some());
        let mut s = serializer.serialize_struct("UploadSuccess", fields)?;
        s.serialize_field("data", &self.data)?;
        s.serialize_field("statusCode", &self.status_code)?;
        s.serialize_field("header", &self.header)?;
        if let Some(url) = &self.upload_url {
            s.serialize_field("uploadUrl", url)?;
        }
        if let Some(profile) = &self.profile {
            s.serialize_field("profile", profile)?;
        }
        s.serialize_field("errMsg", self.err_msg())?;
        s.end()
    }
}
