//! What the server keeps about one tus upload, next to its bytes in `DIR/.tus/`.
//!
//! The data file's length is the upload's offset: bytes are appended as they arrive, so after a
//! crash or a cut connection the offset is whatever reached the disk. The info file (JSON) holds
//! the rest and is replaced atomically (write, then rename).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The directory under the storage directory that holds uploads in progress.
pub(crate) const TUS_DIR: &str = ".tus";

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
    /// Where the complete file was published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) stored: Option<PathBuf>,
}

impl Info {
    /// Published uploads never expire; everything else (complete parts too) does.
    pub(crate) fn expired(&self) -> bool {
        self.stored.is_none() && now_ms() > self.expires_ms
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

/// Paths of one upload.
#[derive(Debug, Clone)]
pub(crate) struct Paths {
    pub(crate) data: PathBuf,
    pub(crate) info: PathBuf,
}

impl Paths {
    pub(crate) fn new(dir: &Path, id: &str) -> Self {
        let base = dir.join(TUS_DIR);
        Self {
            data: base.join(id),
            info: base.join(format!("{id}.json")),
        }
    }
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

pub(crate) async fn load(paths: &Paths) -> std::io::Result<Option<Info>> {
    match tokio::fs::read(&paths.info).await {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(std::io::Error::other),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

pub(crate) async fn save(paths: &Paths, info: &Info) -> std::io::Result<()> {
    let tmp = paths.info.with_extension("json.tmp");
    tokio::fs::write(
        &tmp,
        serde_json::to_vec(info).map_err(std::io::Error::other)?,
    )
    .await?;
    tokio::fs::rename(&tmp, &paths.info).await
}

/// The upload's offset: the length of its data (or its whole length once published).
pub(crate) async fn offset(paths: &Paths, info: &Info) -> std::io::Result<u64> {
    if info.stored.is_some() {
        return Ok(info.length.unwrap_or(0));
    }
    Ok(tokio::fs::metadata(&paths.data).await?.len())
}

/// Removes both files of an upload; a missing one is fine.
pub(crate) async fn remove(paths: &Paths) {
    for p in [&paths.data, &paths.info] {
        if let Err(e) = tokio::fs::remove_file(p).await
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %p.display(), error = %e, "cannot remove tus file");
        }
    }
}
