//! What a resumable upload keeps between runs, so a later run of the same upload continues it.

/// A machine's memo: written to a resume store as it is (one JSON object), read back into the
/// machine's configuration by the next run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum Memo {
    /// A tus upload's URL.
    Tus(TusEntry),
    /// An S3 multipart upload's id.
    S3(S3Entry),
}

/// What is remembered of a tus upload between runs.
///
/// ```
/// let e = uptask_proto::engine::TusEntry::new("http://h/files/1", None);
/// assert_eq!(e.upload_url, "http://h/files/1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct TusEntry {
    /// The upload's URL.
    pub upload_url: String,
    /// `Upload-Expires` as the server sent it, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

impl TusEntry {
    /// An entry for the upload at `upload_url`.
    pub fn new(upload_url: impl Into<String>, expires: Option<String>) -> Self {
        Self {
            upload_url: upload_url.into(),
            expires,
        }
    }
}

/// A multipart upload to continue: its id, the part size it was cut with and whether it was
/// created for CRC32C checksums (a resumed upload keeps both, whatever the options say now, so
/// the parts the store has still line up and the store accepts the rest).
///
/// ```
/// let e = uptask_proto::engine::S3Entry::new("id-1", 8 << 20, true);
/// assert_eq!(e.part_size, 8 << 20);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct S3Entry {
    /// The multipart upload's id.
    pub upload_id: String,
    /// The part size it was cut with.
    pub part_size: u64,
    /// Whether it was created for CRC32C part checksums.
    #[serde(default)]
    pub crc32c: bool,
    /// The object's key, when a signer chose it (a direct upload through its routes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl S3Entry {
    /// The entry of upload `upload_id`.
    pub fn new(upload_id: impl Into<String>, part_size: u64, crc32c: bool) -> Self {
        Self {
            upload_id: upload_id.into(),
            part_size,
            crc32c,
            key: None,
        }
    }
}
