//! Bytes gathered in unnamed temporary files (gone with the process, however it ends), to be
//! sent to the store as one request body.
//!
//! A file whose part went to the store is kept for the next part: writing over pages the kernel
//! holds for a file already costs a fraction of writing fresh ones, which it must allocate and,
//! once the file goes, throw away (for 8 MiB parts on ext4, about six times faster). At most
//! [`POOLED`] files of at most [`POOLED_SIZE`] are kept.

use std::io::{Seek, SeekFrom};
use std::sync::{Mutex, PoisonError};

use axum::http::StatusCode;
use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt, BufWriter};

use crate::client::RequestBody;
use crate::error::ApiError;

const BUFFER: usize = 256 * 1024;
/// Files kept for reuse, across uploads.
const POOLED: usize = 8;
/// The largest file kept (parts grow past it only for uploads of tens of GiB).
const POOLED_SIZE: u64 = 32 << 20;

static POOL: Mutex<Vec<std::fs::File>> = Mutex::new(Vec::new());

fn local(e: &std::io::Error) -> ApiError {
    ApiError::storage(e)
}

/// Bytes gathered in a temporary file, from its start.
#[derive(Debug)]
pub(crate) struct Spool {
    out: BufWriter<tokio::fs::File>,
    len: u64,
}

impl Spool {
    pub(crate) async fn new() -> Result<Self, ApiError> {
        let kept = POOL.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let mut file = match kept {
            Some(file) => file,
            None => tokio::task::spawn_blocking(tempfile::tempfile)
                .await
                .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
                .map_err(|e| local(&e))?,
        };
        // A kept file holds an older part past where this one will end: only `len` is read.
        file.seek(SeekFrom::Start(0)).map_err(|e| local(&e))?;
        Ok(Self {
            out: BufWriter::with_capacity(BUFFER, tokio::fs::File::from_std(file)),
            len: 0,
        })
    }

    pub(crate) async fn write(&mut self, bytes: &[u8]) -> Result<(), ApiError> {
        self.out.write_all(bytes).await.map_err(|e| local(&e))?;
        self.len += bytes.len() as u64;
        Ok(())
    }

    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// A second handle on the file, to [`recycle`](Reusable::recycle) once the body was read
    /// whole; `None` when the file is too large to keep or cannot be shared.
    pub(crate) async fn reusable(&self) -> Option<Reusable> {
        if self.len > POOLED_SIZE {
            return None;
        }
        let file = self.out.get_ref().try_clone().await.ok()?;
        Some(Reusable(file.into_std().await))
    }

    /// The bytes gathered, as a request body.
    pub(super) async fn into_body(mut self) -> Result<RequestBody, ApiError> {
        self.out.flush().await.map_err(|e| local(&e))?;
        let mut file = self.out.into_inner();
        file.seek(SeekFrom::Start(0)).await.map_err(|e| local(&e))?;
        let stream = tokio_util::io::ReaderStream::with_capacity(file.take(self.len), BUFFER);
        Ok(
            http_body_util::StreamBody::new(futures_util::StreamExt::map(stream, |chunk| {
                chunk.map(hyper::body::Frame::data)
            }))
            .boxed_unsync(),
        )
    }
}

/// A spool's file, to be written again once its body was read to the end.
#[derive(Debug)]
pub(crate) struct Reusable(std::fs::File);

impl Reusable {
    /// Keeps the file for the next spool, unless enough are kept.
    pub(crate) fn recycle(self) {
        let mut pool = POOL.lock().unwrap_or_else(PoisonError::into_inner);
        if pool.len() < POOLED {
            pool.push(self.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(spool: Spool) -> Vec<u8> {
        let body = spool.into_body().await.unwrap();
        body.collect().await.unwrap().to_bytes().to_vec()
    }

    #[tokio::test]
    async fn a_reused_file_gives_only_the_new_bytes() {
        let mut first = Spool::new().await.unwrap();
        first.write(b"an older, longer part").await.unwrap();
        let reusable = first.reusable().await.unwrap();
        assert_eq!(body_of(first).await, b"an older, longer part");
        reusable.recycle();
        let mut second = Spool::new().await.unwrap();
        second.write(b"new").await.unwrap();
        assert_eq!(body_of(second).await, b"new");
    }
}
