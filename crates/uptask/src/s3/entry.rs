//! What an S3 multipart upload leaves in the resume store.

/// A multipart upload to continue: its id, and the part size it was cut with (a resumed upload
/// keeps it, whatever the options say now, so the parts the store has still line up).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Entry {
    pub(crate) upload_id: String,
    pub(crate) part_size: u64,
}
