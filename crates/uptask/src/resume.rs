//! Where resumable uploads are remembered between processes (a tus upload URL, an S3 upload
//! id): one small JSON file per upload, named by a hash of the file's path, size and
//! modification time and where it goes.
//!
//! One file per entry keeps writers from different processes apart without locks; each write
//! goes to a temporary file first and is renamed into place, so a reader never sees half of one.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::backend::Fingerprint;

/// The store key of a file and its destination (a tus endpoint, an S3 object URL).
fn key(path: &Path, fingerprint: &Fingerprint, endpoint: &str) -> String {
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mut hash = Sha256::new();
    for part in [
        path.to_string_lossy().as_bytes(),
        fingerprint.stamp().as_bytes(),
        endpoint.as_bytes(),
    ] {
        hash.update((part.len() as u64).to_le_bytes());
        hash.update(part);
    }
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// One upload's entry in a store directory: what is remembered of this file going to this
/// destination.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    dir: PathBuf,
    key: String,
}

impl Entry {
    /// The entry of the file at `path` (as `fingerprint` describes it) going to `endpoint`.
    pub(crate) fn of_file(
        dir: PathBuf,
        path: &Path,
        fingerprint: &Fingerprint,
        endpoint: &str,
    ) -> Self {
        Self {
            dir,
            key: key(path, fingerprint, endpoint),
        }
    }

    fn path(&self) -> PathBuf {
        self.dir.join(format!("{}.json", self.key))
    }

    pub(crate) fn get<T: serde::de::DeserializeOwned>(&self) -> Option<T> {
        let text = std::fs::read(self.path()).ok()?;
        match serde_json::from_slice(&text) {
            Ok(entry) => Some(entry),
            Err(e) => {
                tracing::warn!(error = %e, key = self.key, "unreadable resume entry ignored");
                None
            }
        }
    }

    /// Saves the entry. A failure is logged, not fatal: the upload itself goes on.
    pub(crate) fn put<T: serde::Serialize>(&self, entry: &T) {
        if let Err(e) = self.try_put(entry) {
            tracing::warn!(error = %e, dir = %self.dir.display(), "cannot save the resume entry");
        }
    }

    fn try_put<T: serde::Serialize>(&self, entry: &T) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let mut tmp = tempfile_in(&self.dir, &self.key)?;
        tmp.1
            .write_all(&serde_json::to_vec(entry).map_err(std::io::Error::other)?)?;
        tmp.1.sync_all()?;
        std::fs::rename(&tmp.0, self.path())
    }

    pub(crate) fn remove(&self) {
        match std::fs::remove_file(self.path()) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(error = %e, "cannot remove the resume entry"),
        }
    }
}

fn tempfile_in(dir: &Path, key: &str) -> std::io::Result<(PathBuf, std::fs::File)> {
    let path = dir.join(format!(".{key}.{}.tmp", std::process::id()));
    let file = std::fs::File::create(&path)?;
    Ok((path, file))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Entry {
        url: String,
    }

    fn store(dir: PathBuf) -> super::Entry {
        super::Entry {
            dir,
            key: "k".into(),
        }
    }

    #[test]
    fn entries_round_trip_and_vanish() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path().join("nested"));
        assert_eq!(store.get::<Entry>(), None);
        let entry = Entry {
            url: "http://h/files/1".into(),
        };
        store.put(&entry);
        assert_eq!(store.get(), Some(entry));
        store.remove();
        store.remove();
        assert_eq!(store.get::<Entry>(), None);
    }

    #[test]
    fn an_entry_of_another_shape_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path().to_path_buf());
        store.put(&42u32);
        assert_eq!(store.get::<Entry>(), None);
    }
}
