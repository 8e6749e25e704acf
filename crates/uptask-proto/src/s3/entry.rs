//! What an S3 multipart upload leaves in a resume store.

/// A multipart upload to continue: its id, the part size it was cut with and whether it was
/// created for CRC32C checksums (a resumed upload keeps both, whatever the options say now, so
/// the parts the store has still line up and the store accepts the rest).
///
/// ```
/// let e = uptask_proto::s3::Entry::new("id-1", 8 << 20, true);
/// assert_eq!(e.part_size, 8 << 20);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Entry {
    /// The multipart upload's id.
    pub upload_id: String,
    /// The part size it was cut with.
    pub part_size: u64,
    /// Whether it was created for CRC32C part checksums.
    #[serde(default)]
    pub crc32c: bool,
}

impl Entry {
    /// The entry of upload `upload_id`.
    pub fn new(upload_id: impl Into<String>, part_size: u64, crc32c: bool) -> Self {
        Self {
            upload_id: upload_id.into(),
            part_size,
            crc32c,
        }
    }
}
