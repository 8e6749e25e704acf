//! tus uploads in the local directory: each in progress is a data file and a JSON info file in
//! `DIR/.tus/`, published by a rename into `DIR/` under a generated name.
//!
//! The data file's length is the upload's offset: bytes are appended as they arrive, so after a
//! crash or a cut connection the offset is whatever reached the disk. The info file is replaced
//! atomically (write, then rename). The lock is this process's own: one directory, one server.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::AsyncWriteExt;

use super::info::{Info, valid_id};
use super::store::{Append, TusStore};
use crate::error::ApiError;

/// The directory under the storage directory that holds uploads in progress.
const TUS_DIR: &str = ".tus";
const WRITE_BUFFER: usize = 512 * 1024;

fn io(e: &std::io::Error) -> ApiError {
    ApiError::storage(e)
}

/// Uploads in `dir`.
#[derive(Debug)]
pub(crate) struct LocalTus {
    dir: PathBuf,
    busy: Arc<Mutex<HashSet<String>>>,
}

impl LocalTus {
    pub(crate) fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
            busy: Arc::default(),
        }
    }

    fn data(&self, id: &str) -> PathBuf {
        self.dir.join(TUS_DIR).join(id)
    }

    fn info(&self, id: &str) -> PathBuf {
        self.dir.join(TUS_DIR).join(format!("{id}.json"))
    }
}

/// An upload marked busy for as long as it lives.
#[derive(Debug)]
pub(crate) struct Busy {
    busy: Arc<Mutex<HashSet<String>>>,
    id: String,
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.busy
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
    }
}

/// Appends to the data file; rolled back to where it began unless kept.
#[derive(Debug)]
pub(crate) struct LocalAppend {
    out: tokio::io::BufWriter<tokio::fs::File>,
    start: u64,
    written: u64,
}

impl Append for LocalAppend {
    async fn write(&mut self, chunk: Bytes) -> Result<(), ApiError> {
        self.out.write_all(&chunk).await.map_err(|e| io(&e))?;
        self.written += chunk.len() as u64;
        Ok(())
    }

    async fn finish(mut self, keep: bool) -> Result<u64, ApiError> {
        let flushed = self.out.flush().await;
        let file = self.out.into_inner();
        if keep && flushed.is_ok() {
            return Ok(self.start + self.written);
        }
        // The offset only ever counts bytes that were accepted.
        file.set_len(self.start).await.map_err(|e| io(&e))?;
        flushed.map_err(|e| io(&e))?;
        Ok(self.start)
    }
}

impl TusStore for LocalTus {
    type Guard = Busy;
    type Append = LocalAppend;

    async fn lock(&self, id: &str) -> Result<Option<Busy>, ApiError> {
        let mut busy = self.busy.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(busy.insert(id.to_owned()).then(|| Busy {
            busy: Arc::clone(&self.busy),
            id: id.to_owned(),
        }))
    }

    async fn unlock(&self, guard: Busy) {
        drop(guard);
    }

    async fn create(&self, id: &str, info: &mut Info) -> Result<(), ApiError> {
        tokio::fs::create_dir_all(self.dir.join(TUS_DIR))
            .await
            .map_err(|e| io(&e))?;
        tokio::fs::File::create(self.data(id))
            .await
            .map_err(|e| io(&e))?;
        self.save(id, info).await
    }

    async fn load(&self, id: &str) -> Result<Option<Info>, ApiError> {
        match tokio::fs::read(self.info(id)).await {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| io(&std::io::Error::other(e))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&e)),
        }
    }

    async fn save(&self, id: &str, info: &Info) -> Result<(), ApiError> {
        let path = self.info(id);
        let tmp = path.with_extension("json.tmp");
        let json = serde_json::to_vec(info).map_err(|e| io(&std::io::Error::other(e)))?;
        tokio::fs::write(&tmp, json).await.map_err(|e| io(&e))?;
        tokio::fs::rename(&tmp, &path).await.map_err(|e| io(&e))
    }

    async fn offset(&self, id: &str, info: &Info) -> Result<u64, ApiError> {
        if info.stored.is_some() {
            return Ok(info.length.unwrap_or(0));
        }
        Ok(tokio::fs::metadata(self.data(id))
            .await
            .map_err(|e| io(&e))?
            .len())
    }

    async fn append(
        &self,
        id: &str,
        _info: &Info,
        offset: u64,
        _guard: &Busy,
        _hold: bool,
    ) -> Result<LocalAppend, ApiError> {
        let file = tokio::fs::OpenOptions::new()
            .append(true)
            .open(self.data(id))
            .await
            .map_err(|e| io(&e))?;
        Ok(LocalAppend {
            out: tokio::io::BufWriter::with_capacity(WRITE_BUFFER, file),
            start: offset,
            written: 0,
        })
    }

    async fn publish(&self, id: &str, info: &mut Info) -> Result<(), ApiError> {
        if info.partial {
            // A part stays where it is until a concatenation takes it.
            return Ok(());
        }
        // A name the pre-create hook chose (checked to stay inside the directory), or ours.
        let name = crate::storage::stored_name(info.key.as_deref(), &info.file_name)?;
        let stored = self.dir.join(name);
        if let Some(parent) = stored.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| io(&e))?;
        }
        tokio::fs::rename(self.data(id), &stored)
            .await
            .map_err(|e| io(&e))?;
        info.stored = Some(stored.display().to_string());
        self.save(id, info).await?;
        tracing::info!(path = %stored.display(), length = ?info.length, "tus upload complete");
        Ok(())
    }

    async fn concatenate(
        &self,
        id: &str,
        info: &mut Info,
        parts: &[(String, Info)],
    ) -> Result<(), ApiError> {
        let sources: Vec<_> = parts.iter().map(|(p, _)| self.data(p)).collect();
        let target = self.data(id);
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            let mut out = std::fs::File::create(&target)?;
            for source in sources {
                std::io::copy(&mut std::fs::File::open(source)?, &mut out)?;
            }
            out.sync_all()
        })
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())))
        .map_err(|e| io(&e))?;
        self.save(id, info).await
    }

    async fn remove(&self, id: &str, info: &Info) {
        let stored = info
            .stored
            .as_ref()
            .filter(|_| !info.partial)
            .map(PathBuf::from);
        for path in [Some(self.data(id)), Some(self.info(id)), stored]
            .into_iter()
            .flatten()
        {
            if let Err(e) = tokio::fs::remove_file(&path).await
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(path = %path.display(), error = %e, "cannot remove tus file");
            }
        }
    }

    fn storage(&self, info: &Info) -> crate::hooks::StorageFacts {
        crate::hooks::StorageFacts {
            kind: "dir",
            bucket: None,
            key: None,
            path: info.stored.clone(),
        }
    }

    /// Every upload: the directory is this instance's alone, and reading it is cheap.
    async fn sweep_ids(&self, _: Duration, _: Duration) -> Result<Vec<String>, ApiError> {
        let Ok(mut entries) = tokio::fs::read_dir(self.dir.join(TUS_DIR)).await else {
            return Ok(Vec::new());
        };
        let mut ids = Vec::new();
        while let Ok(Some(entry)) = entries.next_entry().await {
            if let Some(id) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".json"))
                .filter(|id| valid_id(id))
            {
                ids.push(id.to_owned());
            }
        }
        Ok(ids)
    }
}
