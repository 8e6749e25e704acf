//! What the server keeps about one tus upload besides its bytes, as JSON in the store.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Info {
    /// `None` while the client defers the length.
    pub(crate) length: Option<u64>,
    /// `Upload-Metadata` as received (validated).
    pub(crate) metadata: Option<String>,
    /// The client's file name, from the metadata (for the stored file's extension).
    pub(crate) file_name: String,
    /// A part of a later concatenation: complete parts stay here instead of being published.
    pub(crate) partial: bool,
    /// For a final concatenation: the ids of its parts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) parts: Vec<String>,
    /// Unix ms after which an incomplete upload is gone.
    pub(crate) expires_ms: u64,
    /// Where the complete file was published (a path, or `s3://bucket/key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) stored: Option<String>,
    /// The object key the upload becomes (S3 store).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) key: Option<String>,
    /// The multipart upload holding its bytes (S3 store).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) upload_id: Option<String>,
    /// The ETags of parts `1..=k`, the parts that count (S3 store).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) etags: Vec<String>,
    /// The size of every part but the last (S3 store): part `n` holds the bytes from
    /// `(n - 1) * part_size`, so a part's place never depends on what else was stored.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub(crate) part_size: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Info {
    /// Published uploads never expire; everything else (complete parts too) does.
    pub(crate) fn expired(&self) -> bool {
        (self.stored.is_none() || self.partial) && now_ms() > self.expires_ms
    }

    /// The `Upload-Expires` value.
    pub(crate) fn expires_header(&self) -> String {
        httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_millis(self.expires_ms))
    }
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Ids are 32 lower-case hex digits; anything else in a URL is not one of ours (and can never
/// name a path outside the directory).
pub(crate) fn valid_id(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

pub(crate) fn new_id() -> std::io::Result<String> {
    let mut rnd = [0u8; 16];
    getrandom::fill(&mut rnd).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(rnd.iter().map(|b| format!("{b:02x}")).collect())
}
