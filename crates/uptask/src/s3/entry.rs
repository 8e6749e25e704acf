//! What an S3 multipart upload leaves in the resume store.

/// A multipart upload to continue: its id, the part size it was cut with and whether it was
/// created for CRC32C checksums (a resumed upload keeps both, whatever the options say now, so
/// the parts the store has still line up and the store accepts the rest).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Entry {
    pub(crate) upload_id: String,
    pub(crate) part_size: u64,
    #[serde(default)]
    pub(crate) crc32c: bool,
}
