//! Where received files go, behind one seam ([`Storage`]): the local directory store, and the
//! discard mode.

use std::future::Future;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::error::ApiError;

/// One stored file, as reported in the JSON answer.
///
/// ```
/// let f = uptask_server::StoredFile {
///     field: "file".into(), file_name: "a.txt".into(), size: 3,
///     sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".into(),
///     path: "uptask-uploads/1700000000000-0123456789abcdef.txt".into(),
///     key: None,
/// };
/// let json = serde_json::to_value(&f).unwrap();
/// assert_eq!(json["fileName"], "a.txt");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredFile {
    /// The form field name.
    pub field: String,
    /// The file name the client sent (informational only: never used on disk).
    pub file_name: String,
    /// Bytes stored.
    pub size: u64,
    /// sha256 of the stored bytes, lower-case hex.
    pub sha256: String,
    /// Where the file was stored: a path, or `s3://bucket/key` on an S3 store.
    pub path: PathBuf,
    /// The object key, on an S3 store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// Removes the temporary file unless the upload completed.
struct TempGuard(Option<PathBuf>);

impl Drop for TempGuard {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            // Best effort: the request is already failing; a leftover `.part` is hidden.
            let _ = std::fs::remove_file(path);
        }
    }
}

const WRITE_BUFFER: usize = 512 * 1024;

/// The bytes of one arriving file, chunk by chunk. Whoever reads the request applies the size
/// limit and turns its own errors into answers; a store only keeps what it is given.
pub(crate) trait Chunks: Send {
    /// The next chunk; `None` at the end of the file.
    fn next(&mut self) -> impl Future<Output = Result<Option<bytes::Bytes>, ApiError>> + Send;
}

/// One arriving file: its form field, the name the client gave it, the key a pre-create hook
/// chose for it (checked), and its bytes.
pub(crate) struct Incoming<C> {
    pub(crate) field: String,
    pub(crate) file_name: String,
    pub(crate) key: Option<String>,
    pub(crate) chunks: C,
}

/// Where the files of multipart uploads go: a local directory ([`LocalDir`]), nowhere
/// ([`Discard`]), or an S3 bucket ([`crate::bucket::BucketFiles`]).
pub(crate) trait Storage: Send + Sync {
    /// Keeps the file whole or not at all: a failure leaves nothing behind.
    fn put<C: Chunks>(
        &self,
        incoming: Incoming<C>,
    ) -> impl Future<Output = Result<StoredFile, ApiError>> + Send;
}

/// Files in one directory, under generated names; each is written to a hidden temporary file,
/// hashed on the way, and renamed when complete.
pub(crate) struct LocalDir<'a>(pub(crate) &'a Path);

impl Storage for LocalDir<'_> {
    async fn put<C: Chunks>(&self, incoming: Incoming<C>) -> Result<StoredFile, ApiError> {
        let Incoming {
            field,
            file_name,
            key,
            mut chunks,
        } = incoming;
        let stored_name = stored_name(key.as_deref(), &file_name)?;
        let final_path = self.0.join(&stored_name);
        let parent = final_path.parent().unwrap_or(self.0);
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|e| ApiError::storage(&e))?;
        let leaf = final_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp_path = parent.join(format!(".{leaf}.part"));
        let mut guard = TempGuard(Some(tmp_path.clone()));
        let file = tokio::fs::File::create(&tmp_path)
            .await
            .map_err(|e| ApiError::storage(&e))?;
        let mut out = tokio::io::BufWriter::with_capacity(WRITE_BUFFER, file);
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        while let Some(chunk) = chunks.next().await? {
            size += chunk.len() as u64;
            hasher.update(&chunk);
            out.write_all(&chunk)
                .await
                .map_err(|e| ApiError::storage(&e))?;
        }
        let sha256 = hex(hasher);
        out.flush().await.map_err(|e| ApiError::storage(&e))?;
        drop(out);
        tokio::fs::rename(&tmp_path, &final_path)
            .await
            .map_err(|e| ApiError::storage(&e))?;
        guard.0 = None;
        tracing::info!(path = %final_path.display(), size, "stored upload");
        Ok(StoredFile {
            field,
            file_name,
            size,
            sha256,
            path: final_path,
            key: None,
        })
    }
}

/// Counts files without keeping them (discard mode, for benchmarks).
pub(crate) struct Discard;

impl Storage for Discard {
    async fn put<C: Chunks>(&self, incoming: Incoming<C>) -> Result<StoredFile, ApiError> {
        let Incoming {
            field,
            file_name,
            mut chunks,
            ..
        } = incoming;
        let mut size = 0u64;
        while let Some(chunk) = chunks.next().await? {
            size += chunk.len() as u64;
        }
        Ok(StoredFile {
            field,
            file_name,
            size,
            sha256: String::new(),
            path: PathBuf::new(),
            key: None,
        })
    }
}

/// A finished sha256, lower-case hex.
pub(crate) fn hex(hasher: Sha256) -> String {
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The name a stored file gets: the key a pre-create hook chose (already checked), or a
/// generated one.
pub(crate) fn stored_name(key: Option<&str>, client_name: &str) -> Result<String, ApiError> {
    match key {
        Some(key) => Ok(key.to_owned()),
        None => generate_name(client_name),
    }
}

/// `<unix ms>-<16 random hex>[.ext]`: unique, sortable, and free of anything the client chose
/// except a short alphanumeric extension.
pub(crate) fn generate_name(client_name: &str) -> Result<String, ApiError> {
    let mut rnd = [0u8; 8];
    getrandom::fill(&mut rnd).map_err(|e| {
        ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            format!("no randomness: {e}"),
        )
    })?;
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let hex: String = rnd.iter().map(|b| format!("{b:02x}")).collect();
    let ext = Path::new(client_name)
        .extension()
        .and_then(|e| e.to_str())
        .filter(|e| !e.is_empty() && e.len() <= 16 && e.bytes().all(|b| b.is_ascii_alphanumeric()))
        .map(|e| format!(".{}", e.to_ascii_lowercase()))
        .unwrap_or_default();
    Ok(format!("{ms}-{hex}{ext}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_names_never_carry_client_paths() {
        for hostile in [
            "../../etc/passwd",
            "/abs/path.txt",
            "..\\..\\win.ini",
            "a/b/../../c.sh",
            ".hidden",
            "x.\u{0}exe",
            "name.tar.gz",
        ] {
            let name = generate_name(hostile).unwrap();
            assert!(
                !name.contains('/') && !name.contains('\\') && !name.contains(".."),
                "{hostile} -> {name}"
            );
            assert!(!name.starts_with('.'), "{hostile} -> {name}");
        }
        assert!(generate_name("photo.JPG").unwrap().ends_with(".jpg"));
        assert_ne!(generate_name("a").unwrap(), generate_name("a").unwrap());
    }
}
