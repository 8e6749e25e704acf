//! What a tus upload leaves in a resume store.

/// What is remembered of a tus upload between runs.
///
/// ```
/// let e = uptask_proto::tus::Entry::new("http://h/files/1", None);
/// assert_eq!(e.upload_url, "http://h/files/1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Entry {
    /// The upload's URL.
    pub upload_url: String,
    /// `Upload-Expires` as the server sent it, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

impl Entry {
    /// An entry for the upload at `upload_url`.
    pub fn new(upload_url: impl Into<String>, expires: Option<String>) -> Self {
        Self {
            upload_url: upload_url.into(),
            expires,
        }
    }
}
