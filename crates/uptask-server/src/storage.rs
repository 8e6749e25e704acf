//! Writing one part to disk: a hidden temporary file, hashed on the way, renamed when complete.

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
    /// Where the file was stored.
    pub path: PathBuf,
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

/// Streams `field` into `dir` under a generated name. `budget` is how many bytes may still be
/// stored; exceeding it fails with 413.
pub(crate) async fn store(
    dir: &Path,
    mut field: multer::Field<'static>,
    budget: u64,
) -> Result<StoredFile, ApiError> {
    let field_name = field.name().unwrap_or_default().to_owned();
    let file_name = field.file_name().unwrap_or_default().to_owned();
    let stored_name = generate_name(&file_name)?;
    let final_path = dir.join(&stored_name);
    let tmp_path = dir.join(format!(".{stored_name}.part"));
    let mut guard = TempGuard(Some(tmp_path.clone()));
    let file = tokio::fs::File::create(&tmp_path)
        .await
        .map_err(|e| ApiError::storage(&e))?;
    let mut out = tokio::io::BufWriter::with_capacity(WRITE_BUFFER, file);
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = field.chunk().await.map_err(crate::upload::body_error)? {
        size += chunk.len() as u64;
        if size > budget {
            return Err(crate::upload::too_large());
        }
        hasher.update(&chunk);
        out.write_all(&chunk)
            .await
            .map_err(|e| ApiError::storage(&e))?;
    }
    out.flush().await.map_err(|e| ApiError::storage(&e))?;
    drop(out);
    tokio::fs::rename(&tmp_path, &final_path)
        .await
        .map_err(|e| ApiError::storage(&e))?;
    guard.0 = None;
    tracing::info!(path = %final_path.display(), size, "stored upload");
    Ok(StoredFile {
        field: field_name,
        file_name,
        size,
        sha256: hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
        path: final_path,
    })
}

/// Counts `field` without storing it (discard mode).
pub(crate) async fn discard(
    mut field: multer::Field<'static>,
    budget: u64,
) -> Result<StoredFile, ApiError> {
    let field_name = field.name().unwrap_or_default().to_owned();
    let file_name = field.file_name().unwrap_or_default().to_owned();
    let mut size = 0u64;
    while let Some(chunk) = field.chunk().await.map_err(crate::upload::body_error)? {
        size += chunk.len() as u64;
        if size > budget {
            return Err(crate::upload::too_large());
        }
    }
    Ok(StoredFile {
        field: field_name,
        file_name,
        size,
        sha256: String::new(),
        path: PathBuf::new(),
    })
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
